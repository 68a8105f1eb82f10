"""The table of ``faber runs list``: status, work id, workflow, start, duration and last activity.

Everything comes from each run's state (state.json), so listing many runs reads one small file per
run and nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from faber_hookspecs.state import RunState
from faber_hookspecs.wire import utc_timestamp

from .chart import elapsed_ms, format_duration, relative_time

COLUMNS = ("RUN", "STATUS", "WORK", "WORKFLOW", "STARTED (UTC)", "DURATION", "UPDATED")

_ENDED = ("completed", "failed", "cancelled", "paused")


def run_row(state: RunState, now: datetime, now_timestamp: str | None = None) -> list[str | None]:
    """One run as the cells of ``COLUMNS`` (``now_timestamp``: ``now`` as an event timestamp)."""
    if state.status == "completed":
        ended = state.completed_at or state.updated_at
    elif state.status in _ENDED:
        ended = state.updated_at
    else:  # still running: how long so far
        ended = now_timestamp or utc_timestamp(now.timestamp())
    started = state.started_at
    return [
        state.run_id,
        state.status,
        state.work_id,
        state.workflow_id,
        f"{started[:10]} {started[11:16]}" if started else None,
        format_duration(elapsed_ms(started, ended)) if started else None,
        relative_time(state.updated_at or state.created_at, now),
    ]


def run_rows(states: Iterable[RunState], now: datetime) -> list[list[str | None]]:
    """Every run as a row of cells."""
    now_timestamp = utc_timestamp(now.timestamp())
    return [run_row(state, now, now_timestamp) for state in states]

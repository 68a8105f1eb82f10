"""The table of ``faber runs list``: status, work id, workflow, start, duration and last activity.

Everything comes from each run's state (state.json), so listing many runs reads one small file per
run and nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from faber_hookspecs.state import RunState
from faber_hookspecs.wire import utc_timestamp

from .chart import format_duration, relative_ms
from .timeline import epoch_ms

COLUMNS = ("RUN", "STATUS", "WORK", "WORKFLOW", "STARTED (UTC)", "DURATION", "UPDATED")

_ENDED = ("completed", "failed", "cancelled", "paused")


def run_row(state: RunState, now: datetime, now_timestamp: str | None = None) -> list[str | None]:
    """One run as the cells of ``COLUMNS`` (``now_timestamp``: ``now`` as an event timestamp)."""
    return run_rows([state], now)[0] if now_timestamp is None else _row(state, round(now.timestamp() * 1000),
                                                                         now_timestamp)


def run_rows(states: Iterable[RunState], now: datetime) -> list[list[str | None]]:
    """Every run as a row of cells."""
    now_ms = round(now.timestamp() * 1000)
    now_timestamp = utc_timestamp(now.timestamp())
    return [_row(state, now_ms, now_timestamp) for state in states]


def _row(state: RunState, now_ms: int, now_timestamp: str) -> list[str | None]:
    status, started = state.status, state.started_at
    if status == "completed":
        ended = state.completed_at or state.updated_at
    elif status in _ENDED:
        ended = state.updated_at
    else:  # still running: how long so far
        ended = now_timestamp
    updated = state.updated_at or state.created_at
    updated_ms = epoch_ms(updated) if updated else None
    duration = None
    if started and ended:
        # one parse per distinct timestamp: a finished run's end is usually its last update
        ended_ms = updated_ms if ended == updated and updated_ms is not None else epoch_ms(ended)
        duration = format_duration(max(0, ended_ms - epoch_ms(started)))
    return [
        state.run_id,
        status,
        _clean(state.work_id),
        _clean(state.workflow_id),
        f"{started[:10]} {started[11:16]}" if started else None,
        duration,
        relative_ms(now_ms - updated_ms) if updated_ms is not None else "-",
    ]



def _clean(text: str | None) -> str | None:
    """A value someone typed, on one line (work ids and workflow ids are free text)."""
    return " ".join(text.split()) if text is not None and not text.isprintable() else text

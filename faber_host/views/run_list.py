"""The table of ``faber runs list``, from each run's state.json alone."""

from __future__ import annotations

from faber_hookspecs.wire import utc_timestamp

from .times import epoch_ms, format_duration, relative_ms

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from faber_hookspecs.state import RunState

COLUMNS = ("RUN", "STATUS", "WORK", "WORKFLOW", "STARTED (UTC)", "DURATION", "UPDATED")

_ENDED = ("completed", "failed", "cancelled", "paused")


def run_rows(states: Iterable[RunState], now: datetime) -> list[list[str | None]]:
    """Every run as a row of cells."""
    now_ms, now_timestamp = round(now.timestamp() * 1000), utc_timestamp(now.timestamp())
    return [
        _cells(state.run_id, state.status, state.work_id, state.workflow_id, state.created_at, state.started_at,
               state.updated_at, state.completed_at, now_ms, now_timestamp)
        for state in states
    ]


def _cells(run_id: str, status: str, work_id: str | None, workflow_id: str | None, created: str | None,
           started: str | None, updated: str | None, completed: str | None, now_ms: int,
           now_timestamp: str) -> list[str | None]:
    if status == "completed":
        ended = completed or updated
    elif status in _ENDED:
        ended = updated
    else:  # still running: how long so far
        ended = now_timestamp
    updated = updated or created
    updated_ms = epoch_ms(updated) if updated else None
    duration = None
    if started and ended:
        # one parse per distinct timestamp: a finished run's end is usually its last update
        ended_ms = updated_ms if ended == updated and updated_ms is not None else epoch_ms(ended)
        duration = format_duration(max(0, ended_ms - epoch_ms(started)))
    started_text = f"{started[:10]} {started[11:16]}" if started else None
    return [run_id, status, _clean(work_id), _clean(workflow_id), started_text, duration,
            relative_ms(now_ms - updated_ms) if updated_ms is not None else "-"]


def _clean(text: str | None) -> str | None:
    """A free-text value on one line, anything unprintable as U+FFFD: a listing never fails on one run."""
    if text is None or text.isprintable():
        return text
    return "".join(char if char.isprintable() else "\ufffd" for char in " ".join(text.split()))

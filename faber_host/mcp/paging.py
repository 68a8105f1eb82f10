"""Pages of runs and of events.

Runs are listed newest first; a cursor is the position of the last run a page showed (its creation
time and id, which together order every run), so a run created between two pages never shifts the
next page or shows twice. Events are paged by id: ``since_id`` is the cursor, as in the CLI.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from itertools import islice

from faber_hookspecs.errors import InvalidInput
from faber_hookspecs.events import Event
from faber_hookspecs.state import RunState


def page_of_runs(states: Iterable[RunState], limit: int, cursor: str | None) -> tuple[list[RunState], str | None]:
    """Up to ``limit`` runs after ``cursor`` (newest first), and the cursor of the page after, if any."""
    ordered = sorted(states, key=_run_position, reverse=True)
    if cursor is not None:
        after = _decode_cursor(cursor)
        ordered = [state for state in ordered if _run_position(state) < after]
    page = ordered[:limit]
    more = len(ordered) > limit
    return page, (_encode_cursor(_run_position(page[-1])) if more and page else None)


def page_of_events(events: Iterator[Event], limit: int) -> tuple[list[Event], int | None]:
    """Up to ``limit`` events, and the ``since_id`` of the page after when more follow. Reads one
    event past the page, never the whole log."""
    page = list(islice(events, limit + 1))
    if len(page) > limit:
        page = page[:limit]
        return page, page[-1].event_id
    return page, None


def _run_position(state: RunState) -> tuple[str, str]:
    return (state.created_at or state.updated_at or "", state.run_id)


def _encode_cursor(position: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    problem = InvalidInput(f"invalid cursor {cursor[:40]!r}: pass the next_cursor of a previous list_runs answer")
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise problem from None
    if not (isinstance(decoded, list) and len(decoded) == 2 and all(isinstance(part, str) for part in decoded)):
        raise problem
    return decoded[0], decoded[1]

"""The on-disk JSON form of events and state, shared by every writer.

Pure standard library on purpose: the CLI's one-shot emit path imports this module and must not pay
for pydantic. The pydantic models in ``events.py`` describe the same shapes (a test keeps the field
order of both in step).
"""

from __future__ import annotations

import json
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the CLI's emit path avoids it)
if TYPE_CHECKING:
    from typing import Any

EVENT_FIELD_ORDER: tuple[str, ...] = (
    "event_id",
    "type",
    "timestamp",
    "run_id",
    "phase",
    "step",
    "status",
    "user",
    "source",
    "message",
    "metadata",
    "artifacts",
    "duration_ms",
    "error",
    "correlation_id",
    "retry_attempt",
)
"""Key order of an event file: the FABER reference's order, then the fields faber-host adds."""

ERROR_FIELD_ORDER: tuple[str, ...] = ("code", "message", "stack", "recoverable")
"""Key order of an event's ``error`` object (the fields of ``EventError``)."""

ARTIFACT_FIELD_ORDER: tuple[str, ...] = ("type", "name", "path", "url")
"""Key order of an artifact (the fields of ``Artifact``; any further keys follow in their own order)."""

DRAFT_FIELDS = frozenset(EVENT_FIELD_ORDER) - {"event_id", "timestamp", "run_id"}
"""The fields a caller may give (``EventDraft``'s): the store assigns the other three."""

TIMESTAMP_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"


def utc_timestamp(now: float | None = None) -> str:
    """UTC time with milliseconds, as FABER writes it: ``2026-11-26T07:13:25.215Z``."""
    if now is None:
        now = time.time()
    millis = int(now * 1000)
    seconds, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def canonical_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event with keys in file order, absent and empty optional fields left out."""
    out: dict[str, Any] = {}
    for key in EVENT_FIELD_ORDER:
        value = event.get(key)
        if value is None or (key in ("metadata", "artifacts") and not value):
            continue
        out[key] = value
    return out


def dump_event(event: dict[str, Any]) -> bytes:
    """Serialise an event the way its file is written: indented JSON and a final newline."""
    return (json.dumps(canonical_event(event), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def dump_document(document: dict[str, Any]) -> bytes:
    """Serialise state.json, metadata.json and the like: indented JSON and a final newline."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

"""The on-disk JSON form of events and state, shared by every writer. Standard library only:
``indented_json`` gives exactly what ``json.dumps(indent=2)`` gives, through the json module's C string
encoder (a test keeps the models' field order and this one in step)."""

from __future__ import annotations

import json
import time
from _json import encode_basestring, make_encoder

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

EVENT_FIELD_ORDER: tuple[str, ...] = (
    "event_id", "type", "timestamp", "run_id", "phase", "step", "status", "user", "source", "message", "metadata",
    "artifacts", "duration_ms", "error", "correlation_id", "retry_attempt",
)
"""Key order of an event file: the FABER reference's order, then the fields faber-host adds."""

DRAFT_FIELDS = frozenset(EVENT_FIELD_ORDER) - {"event_id", "timestamp", "run_id"}
"""The fields a caller may give (``EventDraft``'s): the store assigns the other three."""

STEP_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
STATUS_PATTERN = r"[a-z][a-z0-9_]*"
TIMESTAMP_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"


def utc_timestamp(now: float | None = None) -> str:
    """UTC time with milliseconds, as FABER writes it: ``2026-11-26T07:13:25.215Z``."""
    global _second
    if now is None:
        now = time.time()
    millis = int(now * 1000)
    seconds, ms = divmod(millis, 1000)
    last = _second
    if last[0] == seconds:
        return f"{last[1]}.{ms:03d}Z"
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    _second = (seconds, text)
    return f"{text}.{ms:03d}Z"


_second: tuple[int, str] = (-1, "")
"""The last whole second ``utc_timestamp`` formatted, and its text: events come many a second."""


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
    return (indented_json(canonical_event(event)) + "\n").encode("utf-8")


def dump_document(document: dict[str, Any]) -> bytes:
    """Serialise state.json, metadata.json and the like: indented JSON and a final newline."""
    return (indented_json(document, reuse=True) + "\n").encode("utf-8")


def indented_json(value: Any, *, reuse: bool = False) -> str:
    """Exactly ``json.dumps(value, indent=2, ensure_ascii=False)``, about twice as fast (state.json is written
    on every emit): plain JSON goes through string joins and the C encoder, anything else to ``json.dumps``.
    With ``reuse`` (a document rewritten with few changes), objects two levels down are looked up by their
    compact JSON and only new ones are indented again."""
    try:
        if reuse and type(value) is dict and value:
            return _encode_items(value, "\n", 2)
        return _encode(value, "\n")
    except (_NotPlain, RecursionError):
        return json.dumps(value, indent=2, ensure_ascii=False)


def encodable(text: str) -> bool:
    """False for a string UTF-8 cannot encode: one holding an unpaired surrogate (the undecodable
    bytes of an argument or a file name)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def loads(data: bytes | str) -> Any:
    """``json.loads(data)``: the one JSON reader of every event and state file."""
    return json.loads(data)


class _NotPlain(Exception):
    """A value ``indented_json`` leaves to the json module (a tuple, a subclass, a non-str key)."""


_string = encode_basestring  # the C string encoder json.dumps uses with ensure_ascii=False
_INFINITY = float("inf")


def _not_plain(_value: object) -> object:
    raise _NotPlain


# The compact form json.dumps(separators=(",", ":")) gives, from the C encoder: a key for _REUSED.
_compact = make_encoder(None, _not_plain, encode_basestring, None, ":", ",", False, False, True)
_REUSED: dict[tuple[str, str], str] = {}
_REUSED_MAX = 512


def _encode_items(value: dict[str, Any], newline: str, depth: int) -> str:
    """An object whose values ``depth`` levels down are reused when indented before. Only the bottom level
    is looked up: an upper object's compact form would miss whenever any value changed."""
    inner = newline + "  "
    parts = []
    for key, item in value.items():
        if type(key) is not str:
            raise _NotPlain
        kind = type(item)
        if kind is dict or kind is list:
            if not item:
                text = "{}" if kind is dict else "[]"
            elif kind is dict and depth > 1:
                text = _encode_items(item, inner, depth - 1)
            else:
                text = _reused(item, inner)
        else:
            text = _encode(item, inner)
        parts.append(_string(key) + ": " + text)
    return "{" + inner + ("," + inner).join(parts) + newline + "}"


def _reused(value: dict[str, Any] | list[Any], newline: str) -> str:
    key = (newline, "".join(_compact(value, 0)))
    text = _REUSED.get(key)
    if text is None:
        text = _encode(value, newline)
        if len(_REUSED) >= _REUSED_MAX:
            _REUSED.clear()
        if len(text) <= 65536:
            _REUSED[key] = text
    return text


def _encode(value: Any, newline: str) -> str:
    kind = type(value)
    if kind is str:
        return _string(value)
    if kind is dict:
        if not value:
            return "{}"
        inner = newline + "  "
        for key in value:
            if type(key) is not str:
                raise _NotPlain
        return "{" + inner + ("," + inner).join(
            [_string(key) + ": " + (_string(item) if type(item) is str else _encode(item, inner))
             for key, item in value.items()]
        ) + newline + "}"
    if kind is list:
        if not value:
            return "[]"
        inner = newline + "  "
        return "[" + inner + ("," + inner).join(
            [_string(item) if type(item) is str else _encode(item, inner) for item in value]
        ) + newline + "]"
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is float:
        if value != value:
            return "NaN"
        if value == _INFINITY:
            return "Infinity"
        if value == -_INFINITY:
            return "-Infinity"
        return float.__repr__(value)
    raise _NotPlain

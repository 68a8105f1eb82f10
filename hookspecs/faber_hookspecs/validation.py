"""Validate an event against the event schema before it is stored, with a message a person can use.

``validate_event`` runs the validator compiled from ``schemas/event.schema.json`` (fast, no pydantic:
the CLI's emit path uses it). ``schema_validator`` gives a full ``jsonschema`` validator over the
same file, for tools that want every error at once (verify, tests).
"""

from __future__ import annotations

import os

from ._event_validator import validate as _compiled_validate
from ._schema_exceptions import JsonSchemaValueException
from .catalogue import is_known_type, required_fields
from .errors import InvalidEvent
from .wire import ARTIFACT_FIELD_ORDER, DRAFT_FIELDS, ERROR_FIELD_ORDER, canonical_event, encodable

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the CLI's emit path avoids it)
if TYPE_CHECKING:
    from typing import Any

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.realpath(__file__)), "schemas")


def validate_event(event: dict[str, Any], *, type_rules: bool = True) -> None:
    """Raise InvalidEvent (one line, naming the field) unless ``event`` satisfies the event schema.
    ``type_rules=False`` leaves out the fields each type requires (``missing_fields``): how an event
    someone else wrote is read (the FABER reference's gateway drops ``duration_ms: 0``)."""
    missing = _missing_fields(event) if type_rules else ()
    if missing:
        raise InvalidEvent(f"invalid event: a {event['type']} event needs {', '.join(repr(m) for m in missing)}")
    try:
        _compiled_validate(event)  # type: ignore[no-untyped-call]
    except JsonSchemaValueException as problem:
        raise InvalidEvent(_explain(event, problem)) from None


def missing_fields(event: Any) -> list[str]:
    """The fields ``event``'s type requires and it lacks (none for an event faber wrote)."""
    return _missing_fields(event)


def _missing_fields(event: Any) -> list[str]:
    """The fields the event's type requires and it lacks: the schema's ``allOf`` rules, checked from
    the catalogue they are generated from (the compiled validator leaves them out: compiled, they
    raised and caught an exception per rule on every event)."""
    kind = event.get("type") if isinstance(event, dict) else None
    if not isinstance(kind, str):
        return []
    return [name for name in required_fields(kind) if name not in event]


_PLACEHOLDERS = {"event_id": 1, "timestamp": "2000-01-01T00:00:00.000Z",
                 "run_id": "placeholder/placeholder/00000000-0000-4000-8000-000000000000"}
_INTEGER_FIELDS = ("duration_ms", "retry_attempt")


def plain_draft(fields: dict[str, Any]) -> dict[str, Any] | None:
    """The draft ``EventDraft.model_validate(fields).to_json()`` gives, computed without pydantic, or
    None when that cannot be done with certainty (the caller then asks pydantic, which also words the
    error). For the CLI's one-shot emit, which must not pay for importing pydantic.

    Certain means: ``fields`` already is what pydantic would give back. So nothing may need coercing
    or dropping (no null anywhere, integer fields hold ints, numbers are finite, text is valid
    UTF-8), and the event must satisfy the schema, which is generated from the same models. Nested
    objects are put in the models' key order, as ``model_dump`` does. A test checks this against
    pydantic on generated input.
    """
    if not fields.keys() <= DRAFT_FIELDS or not _plain_json(fields):
        return None
    if any(name in fields and type(fields[name]) is not int for name in _INTEGER_FIELDS):
        return None
    draft = dict(fields)
    error = draft.get("error")
    if isinstance(error, dict):
        draft["error"] = {key: error[key] for key in ERROR_FIELD_ORDER if key in error} | error
    artifacts = draft.get("artifacts")
    if isinstance(artifacts, list):
        draft["artifacts"] = [
            {key: item[key] for key in ARTIFACT_FIELD_ORDER if key in item} | item if isinstance(item, dict) else item
            for item in artifacts
        ]
    try:  # before canonical_event, which drops empty (so also mistyped: "metadata": []) fields
        validate_event({**draft, **_PLACEHOLDERS})
    except InvalidEvent:
        return None
    return canonical_event(draft)


def _plain_json(value: object) -> bool:
    """True for JSON built only of dicts with str keys, lists, str, bool, int and finite floats: no
    null, no NaN or infinity, no text that UTF-8 cannot encode (a lone surrogate). Exact types only:
    a subclass may serialise differently."""
    if type(value) is str:
        return value.isascii() or encodable(value)
    if type(value) is bool or type(value) is int:
        return True
    if type(value) is float:
        return value - value == 0  # false for NaN and the infinities
    if type(value) is dict:
        return all(type(key) is str and _plain_json(key) and _plain_json(item) for key, item in value.items())
    if type(value) is list:
        return all(_plain_json(item) for item in value)
    return False


def load_schema(name: str) -> dict[str, Any]:
    """A committed schema file by name: ``event``, ``run-state`` or ``run-metadata``."""
    import json

    with open(os.path.join(SCHEMA_DIR, f"{name}.schema.json"), encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


def schema_validator(name: str) -> Any:
    """A ``jsonschema`` Draft 2020-12 validator for a committed schema file (slow to build; cached,
    in a dict rather than by functools.cache: importing functools costs the one-shot emit)."""
    validator = _VALIDATORS.get(name)
    if validator is None:
        from jsonschema import Draft202012Validator

        validator = _VALIDATORS[name] = Draft202012Validator(load_schema(name))
    return validator


_VALIDATORS: dict[str, Any] = {}


def _explain(event: dict[str, Any], problem: JsonSchemaValueException) -> str:
    kind = event.get("type") if isinstance(event, dict) else None
    field = (problem.name or "data").removeprefix("data").lstrip(".") or "event"
    if problem.rule == "required" and isinstance(kind, str):
        missing = [name for name in required_fields(kind) if name not in event]
        if missing:
            return f"invalid event: a {kind} event needs {', '.join(repr(m) for m in missing)}"
    if field == "type" and isinstance(kind, str) and not is_known_type(kind):
        return (
            f"invalid event: unknown event type {kind[:64]!r}; use a catalogue type (see `faber schema`) "
            "or a vendor type such as 'x-acme.deploy_start'"
        )
    if problem.rule == "additionalProperties" and field == "event":
        return f"invalid event: {problem.message.replace('data', 'the event', 1)}"
    message = problem.message.replace(problem.name or "data", field, 1)
    if len(message) > 300:
        message = message[:297] + "..."
    return f"invalid event: {message}"

"""Validate an event against the event schema with a message a person can use: ``validate_event`` runs the
validator compiled from ``event.schema.json`` (the record store checks every event it writes or reads with
it); ``schema_validator`` is a full ``jsonschema`` one."""

from __future__ import annotations

import os

from ._event_validator import validate as _compiled_validate
from ._schema_exceptions import JsonSchemaValueException
from .catalogue import is_known_type, required_fields
from .errors import InvalidEvent

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.realpath(__file__)), "schemas")


def validate_event(event: dict[str, Any], *, type_rules: bool = True) -> None:
    """Raise InvalidEvent (one line, naming the field) unless ``event`` satisfies the event schema.
    ``type_rules=False`` leaves out the fields each type requires (``missing_fields``): how an event
    someone else wrote is read (the FABER reference's gateway drops ``duration_ms: 0``)."""
    missing = missing_fields(event) if type_rules else []
    if missing:
        raise InvalidEvent(_needs(event["type"], missing))
    try:
        _compiled_validate(event)  # type: ignore[no-untyped-call]
    except JsonSchemaValueException as problem:
        raise InvalidEvent(_explain(event, problem)) from None


def missing_fields(event: Any) -> list[str]:
    """The fields the event's type requires and it lacks (none for an event faber wrote): the schema's
    ``allOf`` rules, checked from the catalogue they are generated from (the compiled validator leaves
    them out: compiled, they raised and caught an exception per rule on every event)."""
    kind = event.get("type") if isinstance(event, dict) else None
    if not isinstance(kind, str):
        return []
    return [name for name in required_fields(kind) if name not in event]


def load_schema(name: str) -> dict[str, Any]:
    """A committed schema file by name: ``event``, ``run-state`` or ``run-metadata``."""
    import json

    with open(os.path.join(SCHEMA_DIR, f"{name}.schema.json"), encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


def schema_validator(name: str) -> Any:
    """A ``jsonschema`` Draft 2020-12 validator for a committed schema file (slow to build, so cached)."""
    validator = _VALIDATORS.get(name)
    if validator is None:
        from jsonschema import Draft202012Validator

        validator = _VALIDATORS[name] = Draft202012Validator(load_schema(name))
    return validator


_VALIDATORS: dict[str, Any] = {}


def _needs(kind: Any, missing: list[str]) -> str:
    return f"invalid event: a {kind} event needs {', '.join(repr(name) for name in missing)}"


def _explain(event: dict[str, Any], problem: JsonSchemaValueException) -> str:
    kind = event.get("type") if isinstance(event, dict) else None
    field = (problem.name or "data").removeprefix("data").lstrip(".") or "event"
    missing = missing_fields(event) if problem.rule == "required" else []
    if missing:
        return _needs(kind, missing)
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

"""Validate an event against the event schema before it is stored, with a message a person can use.

``validate_event`` runs the validator compiled from ``schemas/event.schema.json`` (fast, no pydantic:
the CLI's emit path uses it). ``schema_validator`` gives a full ``jsonschema`` validator over the
same file, for tools that want every error at once (verify, tests).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from ._event_validator import validate as _compiled_validate
from ._schema_exceptions import JsonSchemaValueException
from .catalogue import is_known_type, required_fields
from .errors import InvalidEvent

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


def validate_event(event: dict[str, Any]) -> None:
    """Raise InvalidEvent (one line, naming the field) unless ``event`` satisfies the event schema."""
    try:
        _compiled_validate(event)  # type: ignore[no-untyped-call]
    except JsonSchemaValueException as problem:
        raise InvalidEvent(_explain(event, problem)) from None


def load_schema(name: str) -> dict[str, Any]:
    """A committed schema file by name: ``event``, ``run-state`` or ``run-metadata``."""
    with open(SCHEMA_DIR / f"{name}.schema.json", encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


@cache
def schema_validator(name: str) -> Any:
    """A ``jsonschema`` Draft 2020-12 validator for a committed schema file (slow to build; cached)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(name))


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

"""Event models: what crosses the hook boundary, and what the JSON Schema is generated from.

An event is immutable once stored. The record store assigns ``event_id`` and ``timestamp``; everything
else comes from the caller as an ``EventDraft``. The per-type rules (a ``step_start`` needs a phase and
a step, a ``*_error`` needs an error...) come from the catalogue, so the models, the schema and the
validators cannot disagree about them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, WithJsonSchema, model_validator

from .catalogue import EVENT_TYPES, PHASES, VENDOR_TYPE_PATTERN, is_known_type, required_fields
from .run_id import RUN_ID_PATTERN
from .wire import STATUS_PATTERN, STEP_PATTERN, TIMESTAMP_PATTERN, canonical_event

Phase = Literal["frame", "architect", "build", "evaluate", "release"]
assert PHASES == Phase.__args__  # type: ignore[attr-defined]

STORED_ELSEWHERE = "stored_elsewhere"
"""Validation context key: the event was stored already, maybe by another writer (the FABER
reference's scripts and gateway), so the per-type required fields are not insisted on."""

SHORT_TEXT = 256
LONG_TEXT = 65536


class FrozenModel(BaseModel):
    """A value faber writes and backends answer: unknown keys are refused (a typo is caught), and
    nothing changes it once made."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenModel(BaseModel):
    """A file other tools write too (the FABER reference's state.json and metadata.json): keys this
    model does not know are kept."""

    model_config = ConfigDict(extra="allow")


def _check_type(name: str) -> str:
    if not is_known_type(name):
        raise ValueError(
            f"unknown event type {name!r}: use a type from the catalogue (faber schema) "
            "or a vendor type such as 'x-acme.deploy_start'"
        )
    return name


EventTypeName = Annotated[
    str,
    AfterValidator(_check_type),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": sorted(EVENT_TYPES)},
                {"type": "string", "pattern": f"^{VENDOR_TYPE_PATTERN}$", "maxLength": 64},
            ],
            "description": "A catalogue type, or a vendor type x-<vendor>.<name>.",
        }
    ),
]


class EventError(FrozenModel):
    """What went wrong, on ``*_error`` events (and on any event that wants to report one)."""

    code: str = Field(min_length=1, max_length=SHORT_TEXT, description="A stable, machine-readable code.")
    message: str = Field(max_length=LONG_TEXT, description="What happened, for a person.")
    stack: str | None = Field(None, max_length=LONG_TEXT, description="A stack trace or log tail.")
    recoverable: bool | None = Field(None, description="True when resuming the run may succeed.")


class Artifact(BaseModel):
    """A work product an event refers to: a spec, a branch, a pull request, a file."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(min_length=1, max_length=SHORT_TEXT)
    name: str | None = Field(None, max_length=SHORT_TEXT)
    path: str | None = Field(None, max_length=4096)
    url: str | None = Field(None, max_length=4096)


class EventDraft(FrozenModel):
    """An event as a caller describes it, before the record store gives it an id and a time."""

    type: EventTypeName
    phase: Phase | None = None
    step: str | None = Field(None, max_length=128, pattern=f"^{STEP_PATTERN}$")
    status: str | None = Field(None, max_length=32, pattern=f"^{STATUS_PATTERN}$")
    user: str | None = Field(None, max_length=SHORT_TEXT)
    source: str | None = Field(None, max_length=SHORT_TEXT)
    message: str | None = Field(None, max_length=LONG_TEXT)
    metadata: dict[str, Any] = Field(default_factory=dict)
    artifacts: list[Artifact] = Field(default_factory=list)
    duration_ms: int | None = Field(None, ge=0)
    error: EventError | None = None
    correlation_id: str | None = Field(None, max_length=SHORT_TEXT)
    retry_attempt: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _type_rules(self, info: ValidationInfo) -> EventDraft:
        if info.context is not None and info.context.get(STORED_ELSEWHERE):
            return self  # read as written (see STORED_ELSEWHERE): the reader reports what it lacks
        missing = [name for name in required_fields(self.type) if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.type} event needs {_and(missing)}")
        return self

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this draft, absent fields left out."""
        return canonical_event(self.model_dump(mode="json", exclude_none=True))


class Event(EventDraft):
    """A stored event: a draft plus the id, time and run the record store gave it."""

    event_id: int = Field(ge=1, description="1, 2, 3... per run, gap-free, in the order stored.")
    timestamp: str = Field(pattern=f"^{TIMESTAMP_PATTERN}$", description="UTC, with milliseconds.")
    run_id: str = Field(pattern=f"^{RUN_ID_PATTERN}$")


def _and(names: list[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]

"""The shapes of tool results: each tool returns one of these models, which the SDK turns into the
tool's output schema and into the result's structured content (and a JSON text block beside it).

They are built from the models of faber-hookspecs, so a run's state, metadata and events look the
same here as in state.json, metadata.json, the event files and ``faber ... --json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from faber_hookspecs.events import Event, Phase
from faber_hookspecs.metadata import RunMetadata
from faber_hookspecs.state import RunState, RunStatus
from pydantic import BaseModel, Field, PlainSerializer

StoredEvent = Annotated[Event, PlainSerializer(lambda event: event.to_json(), return_type=dict)]
"""An event as its file holds it: fields in the canonical order, absent ones left out."""


class EmittedEvent(BaseModel):
    """The answer to ``emit_event``, sent once the event is durable: the id and time the record store
    gave it, where the run stands after it, and any backend that failed to follow (the event is
    stored regardless). Kept small: an agent reads one of these per step."""

    event_id: int = Field(description="The event's id: 1, 2, 3... per run, without gaps.")
    run_id: str
    type: str
    timestamp: str = Field(description="When it was stored (UTC, milliseconds).")
    run_status: RunStatus = Field(description="The run's status after the event.")
    current_phase: Phase | None = None
    current_step: str | None = None
    warnings: list[str] = Field(default_factory=list)
    archive: str | None = Field(None, description="After workflow_complete: what archiving the run did.")

    @classmethod
    def of(cls, event: Event, position: Mapping[str, Any], warnings: list[str]) -> EmittedEvent:
        """From the stored event and where the run stands after it (``EmitResult.position``)."""
        return cls(
            event_id=event.event_id,
            run_id=event.run_id,
            type=event.type,
            timestamp=event.timestamp,
            run_status=position["status"],
            current_phase=position["current_phase"],
            current_step=position["current_step"],
            warnings=warnings,
        )


class StartedRun(BaseModel):
    """The answer to ``start_run``: the new run's id and its metadata."""

    run_id: str = Field(description="Name the run by this id in every other tool.")
    metadata: RunMetadata


class RunSummary(BaseModel):
    """One run in a listing."""

    run_id: str
    status: RunStatus
    work_id: str | None = None
    workflow_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    completed_at: str | None = None
    current_phase: Phase | None = None
    current_step: str | None = None
    last_event_id: int = 0

    @classmethod
    def of(cls, state: RunState) -> RunSummary:
        return cls.model_validate(state, from_attributes=True)


class RunList(BaseModel):
    """A page of runs, newest first."""

    runs: list[RunSummary]
    total: int = Field(0, description="How many runs match, all pages together.")
    next_cursor: str | None = Field(
        None, description="More runs follow: pass this as `cursor` (with the same filters) for the next page."
    )


class EventPage(BaseModel):
    """A page of a run's events, in id order."""

    run_id: str
    events: list[StoredEvent]
    next_since_id: int | None = Field(
        None, description="More events may follow: pass this as `since_id` for the next page. Null at the end."
    )


class ReconstructedState(BaseModel):
    """The answer to ``reconstruct_state``: the state rebuilt from the events alone."""

    state: RunState
    written: bool = Field(description="True when the rebuilt state also replaced the stored one (state.json).")
    warnings: list[str] = Field(default_factory=list)

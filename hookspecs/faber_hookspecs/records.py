"""Values that cross the hook boundary besides events, state and metadata."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .events import Event
from .metadata import RunMetadata
from .state import RunState

POSITION_FIELDS = ("status", "current_phase", "current_step")
"""The fields of a run's state that say where it stands (``StoredEvent.position``)."""


class StoredEvent:
    """The event and the state after it, as ``state`` or built by ``load_state`` on first use (most emits
    never look at it); ``position``: the state's ``POSITION_FIELDS`` when the store has them at hand."""

    def __init__(
        self, event: Event, state: RunState | None = None, *, load_state: Callable[[], RunState] | None = None,
        position: Mapping[str, Any] | None = None,
    ) -> None:
        if (state is None) == (load_state is None):
            raise TypeError("StoredEvent takes a state or a load_state, not both")
        self.event = event
        self._state = state
        self._load_state = load_state
        self._position = position

    @property
    def position(self) -> Mapping[str, Any]:
        """Where the run stands after the event (its status, current phase and step), without
        building the whole state when the store gave them."""
        if self._position is None:
            state = self.state
            self._position = {name: getattr(state, name) for name in POSITION_FIELDS}
        return self._position

    @property
    def state(self) -> RunState:
        """The run's state just after the event."""
        if self._state is None:
            assert self._load_state is not None
            self._state = self._load_state()
        return self._state


class RunRecord(BaseModel):
    """A run as the record store holds it. ``warnings`` name defects found while reading it (files
    written by the FABER reference, a stale state.json...): the run is still usable."""

    metadata: RunMetadata
    state: RunState
    location: str = Field(description="Where the run lives: a folder path or a URL.")
    warnings: list[str] = Field(default_factory=list)
    events_local: bool = Field(
        True, description="False when the events were archived and removed here (restore the run to read them)."
    )


class RunQuery(BaseModel):
    """Filters for the record store's ``list_runs``; every filter is optional."""

    model_config = ConfigDict(frozen=True)

    org: str | None = None
    project: str | None = None
    status: str | None = None
    work_id: str | None = None
    workflow_id: str | None = None
    since: str | None = Field(None, description="Runs started (else created) at or after this FABER timestamp.")
    until: str | None = Field(None, description="Runs started (else created) at or before this FABER timestamp.")
    limit: int | None = Field(None, ge=1)


@dataclass(frozen=True)
class BackendContext:
    """What the host tells a backend when it creates it: where the project is, and the environment
    to read (tests pass their own instead of the process's)."""

    root: Path
    faber_dir: Path
    config_file: Path
    environ: Mapping[str, str] = field(default_factory=dict)


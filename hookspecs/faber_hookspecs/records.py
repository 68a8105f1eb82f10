"""Values that cross the hook boundary besides events, state and metadata."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from .events import Event
from .metadata import RunMetadata
from .state import RunState


class StoredEvent(BaseModel):
    """What the record store answers to ``append``: the event and the state after it."""

    model_config = ConfigDict(frozen=True)

    event: Event
    state: RunState


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
    limit: int | None = Field(None, ge=1)


@dataclass(frozen=True)
class BackendContext:
    """What the host tells a backend when it creates it: where the project is, and the environment
    to read (tests pass their own instead of the process's)."""

    root: Path
    faber_dir: Path
    config_file: Path
    environ: Mapping[str, str] = field(default_factory=dict)


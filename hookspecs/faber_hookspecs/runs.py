"""A run as the record store hands it out, and the filters for listing runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .metadata import RunMetadata
from .state import RunState


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

"""Run metadata: what a run is about and where it comes from (metadata.json).

It holds the FABER reference's fields (run_id, work_id, target, workflow_id, autonomy, source_type,
phases, created_at, created_by, relationships, environment) plus params and root_run_id. Unlike events
and state, metadata is not derived: it changes only through the record store's atomic update.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .catalogue import PHASES
from .events import Phase
from .run_id import RUN_ID_PATTERN

_RUN_ID = f"^{RUN_ID_PATTERN}$"


class Relationships(BaseModel):
    """How this run relates to others: the run it re-runs, its parent, and its re-runs."""

    model_config = ConfigDict(extra="allow")

    parent_run_id: str | None = Field(None, pattern=_RUN_ID)
    rerun_of: str | None = Field(None, pattern=_RUN_ID)
    child_runs: list[str] = Field(default_factory=list)


class Environment(BaseModel):
    """Where the run was created. Git fields are None outside a git checkout."""

    model_config = ConfigDict(extra="allow")

    hostname: str | None = None
    git_branch: str | None = None
    git_commit: str | None = None
    working_directory: str | None = None


class RunMetadata(BaseModel):
    """The contents of metadata.json."""

    model_config = ConfigDict(extra="allow")

    run_id: str = Field(pattern=_RUN_ID)
    work_id: str | None = None
    target: str | None = None
    workflow_id: str | None = None
    autonomy: str | None = None
    source_type: str | None = None
    phases: list[Phase] = Field(default_factory=lambda: list(PHASES))  # type: ignore[arg-type]
    created_at: str
    created_by: str | None = None
    relationships: Relationships = Field(default_factory=Relationships)
    environment: Environment = Field(default_factory=Environment)
    params: dict[str, Any] = Field(default_factory=dict)
    root_run_id: str | None = Field(None, pattern=_RUN_ID)

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to metadata.json."""
        return self.model_dump(mode="json")

"""Run metadata (metadata.json): the FABER reference's fields plus params, lineage, the workflow's
fingerprint and a re-run's changes. Not derived from events: it changes only by the store's atomic update."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .catalogue import PHASES
from .events import OpenModel, Phase
from .run_id import RUN_ID_PATTERN

_RUN_ID = f"^{RUN_ID_PATTERN}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class ArchiveLocation(OpenModel):
    """A verified copy of a run's bundle."""

    backend: str
    url: str
    verified_at: str


class ArchiveRecord(OpenModel):
    """``archive`` in metadata.json: the run's last verified archive, written only after every archive
    backend verified its copy; and whether the events were removed from this machine since."""

    url: str = Field(description="The first location's URL.")
    archived_at: str | None = Field(None, description="When the archive was written (unknown for some restored runs).")
    manifest_sha256: str = Field(pattern=SHA256_PATTERN)
    event_count: int = Field(ge=0)
    last_event_id: int | None = None
    locations: list[ArchiveLocation] = Field(default_factory=list)
    events_removed_at: str | None = Field(None, description="When the local event files were removed.")
    restored_at: str | None = Field(None, description="When this copy was restored from the archive.")


class Relationships(OpenModel):
    """How this run relates to others: the run it re-runs, its parent, and its re-runs."""

    parent_run_id: str | None = Field(None, pattern=_RUN_ID)
    rerun_of: str | None = Field(None, pattern=_RUN_ID)
    child_runs: list[str] = Field(default_factory=list)


class Environment(OpenModel):
    """Where the run was created. Git fields are None outside a git checkout."""

    hostname: str | None = None
    git_branch: str | None = None
    git_commit: str | None = None
    working_directory: str | None = None


class WorkflowFingerprint(BaseModel):
    """What a run records about the definition it started with, so a resume can tell whether the
    workflow changed since, and how.

    ``parts`` maps ``autonomy``, ``phase:<name>`` and each ``<phase>:<step>`` to a short hash of
    what executes (names and descriptions are left out, so editing documentation changes nothing);
    ``hash`` covers all parts.
    """

    hash: str = Field(pattern="^[0-9a-f]{64}$")
    file: str | None = Field(None, description="The workflow file, relative to the project root when inside it.")
    parts: dict[str, str] = Field(default_factory=dict)
    definition: dict[str, Any] | None = Field(
        None, description="The resolved workflow itself (a ResolvedWorkflow, placeholders not filled): a machine "
        "without the workflow file resumes and re-runs the run from it (it travels in the archive's bundle).",
    )


class ParameterChange(BaseModel):
    """How a re-run changed one parameter (or autonomy, phases, work_id): None means absent."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: Any = Field(None, alias="from")
    to: Any = None


class RunMetadata(OpenModel):
    """The contents of metadata.json."""

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
    workflow_fingerprint: WorkflowFingerprint | None = Field(
        None, description="The workflow definition the run started with (see faber run --resume --force)."
    )
    parameter_changes: dict[str, ParameterChange] = Field(
        default_factory=dict, description="For a re-run: what changed from the original, {key: {from, to}}."
    )
    archive: ArchiveRecord | None = Field(None, description="The run's last verified archive, if any.")

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to metadata.json."""
        return self.model_dump(mode="json")

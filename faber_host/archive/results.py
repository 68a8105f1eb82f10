"""What the archive operations answer: typed results the CLI prints and the MCP server returns."""

from __future__ import annotations

from typing import Any, Literal

from faber_hookspecs.archive import ArchiveManifest, ArchiveReceipt, RemovedEvents
from faber_hookspecs.errors import ArchiveError
from pydantic import BaseModel, Field


class _Result(BaseModel):
    def to_json(self) -> dict[str, Any]:
        """The result as a JSON object."""
        return self.model_dump(mode="json")


class ConsolidateResult(_Result):
    """A run's bundle, written to ``directory``."""

    run_id: str
    directory: str
    manifest_sha256: str
    manifest: ArchiveManifest


class ArchiveResult(_Result):
    """The outcome of archiving one run."""

    run_id: str
    archived: bool = Field(description="Every archive backend verified its copy.")
    manifest_sha256: str
    event_count: int
    receipts: list[ArchiveReceipt] = Field(default_factory=list)
    cleanup: RemovedEvents | None = Field(None, description="What --cleanup removed.")
    already_archived: bool = Field(False, description="The events were archived and removed before: nothing to do.")


class RestoreResult(_Result):
    """The outcome of restoring one run."""

    run_id: str
    location: str = Field(description="The run's folder.")
    event_count: int
    manifest_sha256: str
    source_url: str | None = None
    already_local: bool = Field(False, description="The events were already here: nothing was downloaded.")


class CleanupEntry(_Result):
    """What cleanup did with one run."""

    run_id: str
    action: Literal["removed", "would_remove", "skipped", "failed"]
    reason: str | None = None
    files: int = 0
    bytes: int = 0


class CleanupResult(_Result):
    """The outcome of ``faber cleanup``."""

    older_than_days: float
    dry_run: bool
    entries: list[CleanupEntry] = Field(default_factory=list)

    @property
    def failed(self) -> list[CleanupEntry]:
        """Runs whose cleanup failed (not those skipped on purpose)."""
        return [entry for entry in self.entries if entry.action == "failed"]


class ArchiveIncomplete(ArchiveError):
    """Some archive backend did not verify its copy: nothing local was removed. ``result`` holds every
    receipt, so a caller can show which backend failed and which succeeded."""

    def __init__(self, message: str, result: ArchiveResult) -> None:
        super().__init__(message)
        self.result = result

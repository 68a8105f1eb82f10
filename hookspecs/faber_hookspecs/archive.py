"""The models of archiving: the bundle a record store consolidates, what an archive backend answers,
and what is recorded in the run's metadata.

A run's **bundle** is four files, the same locally (``runs/{org}/{project}/{uuid}/archive/``) and in an
archive (``{prefix}/{org}/{project}/{uuid}/``):

``events.jsonl``
    every event, one JSON object per line, in numeric id order (1000 after 999);
``state.json`` and ``metadata.json``
    the run's state and metadata when it was consolidated (metadata without its ``archive`` record,
    which describes local copies, not the run);
``manifest.json``
    an ``ArchiveManifest``: counts, ids, and the size and sha256 of the three files above, plus the
    digest of the event files themselves, so a restore can prove it gave back the same bytes.

Consolidating the same run twice gives the same bytes: nothing in a bundle depends on when or where it
was made.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import Field

from .events import FrozenModel

# metadata.json's record of a run's archive is defined with the metadata (an emit loads it without the
# archive models) and named here too.
from .metadata import SHA256_PATTERN
from .metadata import ArchiveLocation as ArchiveLocation
from .metadata import ArchiveRecord as ArchiveRecord
from .run_id import RUN_ID_PATTERN

EVENTS_FILE = "events.jsonl"
STATE_FILE = "state.json"
METADATA_FILE = "metadata.json"
MANIFEST_FILE = "manifest.json"
DATA_FILES: tuple[str, ...] = (EVENTS_FILE, STATE_FILE, METADATA_FILE)
"""The files a manifest describes, in the order they are uploaded (the manifest goes last)."""

_RUN_ID = f"^{RUN_ID_PATTERN}$"

ProgressCallback = Callable[[str, int, int], None]
"""``progress(what, done, total)``: ``done`` of ``total`` bytes of ``what`` (a file name) transferred.
Backends call it as data moves (from any thread); the CLI draws a progress bar with it on a terminal."""


def no_progress(what: str, done: int, total: int) -> None:
    """A ``ProgressCallback`` that shows nothing."""


class BundleFile(FrozenModel):
    """One file of a bundle: its name, size in bytes and sha256 (lowercase hex)."""

    name: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=SHA256_PATTERN)


class VerbatimEventFile(FrozenModel):
    """An event file that the standard expansion of its line would not give back byte for byte (a file
    written by another tool, with other formatting or another name). Its name and bytes are kept here,
    so a restore reproduces it exactly all the same."""

    line: int = Field(ge=1, description="Its line in events.jsonl (1-based).")
    name: str = Field(description="Its file name in events/.")
    content_base64: str | None = Field(
        None, description="Its exact bytes, base64; absent when only the name is irregular."
    )


class ArchiveManifest(FrozenModel):
    """manifest.json: what a bundle holds, to check it after any transfer.

    ``event_files_sha256`` is the sha256 of, for each event file in numeric order, its name, a newline,
    its size in decimal, a newline, and its bytes. An event file's standard form is
    ``json.dumps(event, indent=2, ensure_ascii=False) + "\\n"`` named ``{event_id:03d}-{type}.json``;
    its line in events.jsonl is ``json.dumps(event, ensure_ascii=False, separators=(",", ":"))``.
    Files not in the standard form are listed in ``verbatim``.
    """

    format: Literal["faber-archive/1"] = "faber-archive/1"
    run_id: str = Field(pattern=_RUN_ID)
    event_count: int = Field(ge=0)
    first_event_id: int | None = Field(None, ge=1)
    last_event_id: int | None = Field(None, ge=1)
    files: list[BundleFile] = Field(description="events.jsonl, state.json and metadata.json.")
    event_files_sha256: str = Field(pattern=SHA256_PATTERN)
    verbatim: list[VerbatimEventFile] = Field(default_factory=list)

    def file(self, name: str) -> BundleFile:
        """The entry of one of the data files; KeyError if the manifest lacks it."""
        for entry in self.files:
            if entry.name == name:
                return entry
        raise KeyError(name)


class ArchiveBundle(FrozenModel):
    """A bundle on local disk: what a record store consolidated, or what an archive backend downloaded.

    ``directory`` holds the four files. ``manifest_sha256`` and ``manifest_size`` describe manifest.json
    itself (its bytes as written), which is how the whole bundle is named and checked.
    """

    run_id: str = Field(pattern=_RUN_ID)
    directory: Path
    manifest: ArchiveManifest
    manifest_sha256: str = Field(pattern=SHA256_PATTERN)
    manifest_size: int = Field(ge=0)
    source_backend: str | None = Field(None, description="The backend it was downloaded from, if any.")
    source_url: str | None = Field(None, description="Where it was downloaded from, if it was.")
    archived_at: str | None = Field(None, description="When the archive's copy was written, if known.")

    def path(self, name: str) -> Path:
        """The local path of one of the bundle's files."""
        return self.directory / name

    def files(self) -> list[BundleFile]:
        """Every file of the bundle, the manifest last: what an archive must hold."""
        manifest = BundleFile(name=MANIFEST_FILE, size=self.manifest_size, sha256=self.manifest_sha256)
        return [*self.manifest.files, manifest]


class ArchivedObject(FrozenModel):
    """One file of a bundle as an archive holds it."""

    name: str
    key: str = Field(description="Where it is in the archive (an S3 key).")
    size: int = Field(ge=0)
    sha256: str = Field(pattern=SHA256_PATTERN)
    verified: bool = Field(description="The archive's copy was checked (size and checksum) after the upload.")
    uploaded: bool = Field(True, description="False when an identical, verified copy was already there.")


class ArchiveReceipt(FrozenModel):
    """What an archive backend answers to ``faber_archive_run``: where the bundle is and whether every
    object of it was verified. Local files are removed only when every receipt is verified."""

    backend: str
    run_id: str = Field(pattern=_RUN_ID)
    url: str | None = Field(None, description="The bundle's location, such as s3://bucket/prefix/org/project/uuid/.")
    manifest_sha256: str = Field(pattern=SHA256_PATTERN)
    verified: bool
    objects: list[ArchivedObject] = Field(default_factory=list)
    archived_at: str
    error: str | None = Field(None, description="What failed, when verified is false.")


class RunRef(FrozenModel):
    """A run to restore: its id, and where it was archived when that is known (from metadata)."""

    run_id: str = Field(pattern=_RUN_ID)
    url: str | None = None


class ArchiveQuery(FrozenModel):
    """Filters for ``faber_list_archived_runs``; every one is optional."""

    org: str | None = None
    project: str | None = None
    uuid_prefix: str | None = Field(
        None, pattern="^[0-9a-f-]{1,36}$",
        description="Only runs whose uuid starts with this (lowercase): how a short run name is resolved. An "
        "archive should answer it from an index, without listing every run; the host filters the answer again.",
    )


class ArchivedRun(FrozenModel):
    """A run found in an archive: one whose manifest is there."""

    run_id: str = Field(pattern=_RUN_ID)
    backend: str
    url: str
    archived_at: str | None = Field(None, description="When its manifest was written (the archive's clock).")
    size: int = Field(0, ge=0, description="Bytes of all its objects.")
    objects: int = Field(0, ge=0)


class ArchivePolicy(FrozenModel):
    """What an archive backend wants done when a run completes (its gateway.json options)."""

    backend: str
    consolidate_on_complete: bool = False
    archive_on_complete: bool = False
    cleanup_local_after_archive: bool = False


class RemovedEvents(FrozenModel):
    """What a record store answers to ``cleanup``: what it removed (or would remove)."""

    run_id: str = Field(pattern=_RUN_ID)
    files: int = Field(ge=0)
    bytes: int = Field(ge=0)
    dry_run: bool = False

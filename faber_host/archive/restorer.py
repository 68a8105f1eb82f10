"""Restore an archived run: download through the archive backend that holds it, check every checksum,
and let the record store expand it, byte for byte."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from faber_backend_local_files.files import remove_dead_leftovers
from faber_hookspecs.archive import ArchiveBundle, ArchiveLocation, ArchiveRecord, ProgressCallback, RunRef, no_progress
from faber_hookspecs.errors import AmbiguousRun, ArchiveError, ConfigError, InvalidRunId, RunNotFound
from faber_hookspecs.metadata import RunMetadata
from faber_hookspecs.run_id import RunId, is_uuid_prefix
from faber_hookspecs.runs import RunRecord
from faber_hookspecs.wire import utc_timestamp

from ..runlog import check_restored
from .archiver import NO_ARCHIVE_BACKEND, list_archived
from .results import RestoreResult
from .verify import verify_bundle

if TYPE_CHECKING:
    from ..runlog import RunLog

DOWNLOAD_PREFIX = ".restore-"
"""A restore's download folder in the project's FABER folder: ``.restore-<random>-<pid>``."""


def restore(
    log: RunLog,
    ref: str,
    *,
    expected_manifest_sha256: str | None = None,
    trust_archive: bool = False,
    progress: ProgressCallback = no_progress,
) -> RestoreResult:
    """Bring an archived run's events back to this machine: into a run cleaned up here, or as a new
    run. The manifest must be the one recorded here when the run was archived (or
    ``expected_manifest_sha256``), unless ``trust_archive``; every file must match it."""
    run_id, local = _resolve(log, ref)
    if local is not None and local.events_local:
        return RestoreResult(
            run_id=run_id, location=local.location, event_count=local.state.last_event_id,
            manifest_sha256=local.metadata.archive.manifest_sha256 if local.metadata.archive else "",
            already_local=True,
        )
    if not log.gateway.can_restore():
        raise ConfigError(NO_ARCHIVE_BACKEND)
    recorded = local.metadata.archive if local is not None else None
    expected = expected_manifest_sha256 or (recorded.manifest_sha256 if recorded and not trust_archive else None)
    # Named after this process, so that the next restore removes it if this one is killed.
    remove_dead_leftovers(str(log.project.faber_dir), (DOWNLOAD_PREFIX,))
    staging = Path(tempfile.mkdtemp(prefix=DOWNLOAD_PREFIX, suffix=f"-{os.getpid()}", dir=log.project.faber_dir))
    try:
        bundle = log.gateway.restore_run(
            RunRef(run_id=run_id, url=recorded.url if recorded else None), staging, progress
        )
        if bundle is None:
            raise ArchiveError(f"run {run_id} is in no enabled archive (see `faber runs list --archived`)")
        verify_bundle(bundle, run_id, expected)
        check_restored(log.gateway.input_policy, bundle)  # what no door would store, no archive brings in
        record = log.gateway.store.import_bundle(bundle)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _record_restore(log, run_id, bundle, recorded)
    return RestoreResult(
        run_id=run_id,
        location=record.location,
        event_count=bundle.manifest.event_count,
        manifest_sha256=bundle.manifest_sha256,
        source_url=bundle.source_url,
    )


def ensure_events_local(log: RunLog, ref: str, progress: ProgressCallback = no_progress) -> RestoreResult | None:
    """Restore the run first if its events were archived and removed here, or if the run is known only
    to the archive (before resuming it); None when its events are here already."""
    try:
        record = log.run(ref)
    except RunNotFound:
        if not log.gateway.can_restore():
            raise
        return restore(log, ref, progress=progress)  # unknown here: from the archive, if it is there
    if record.events_local:
        return None
    return restore(log, record.metadata.run_id, progress=progress)


def _resolve(log: RunLog, ref: str) -> tuple[str, RunRecord | None]:
    """The run to restore, and its local record when this machine knows it. A run unknown here must be
    named by its full id or by a uuid prefix that names one archived run."""
    try:
        run_id = str(log.resolve(ref))
    except RunNotFound:
        run_id = _find_archived(log, ref.strip())
    try:
        return run_id, log.run(run_id)
    except RunNotFound:
        return run_id, None


def _find_archived(log: RunLog, ref: str) -> str:
    """A run known only to the archive: by full id, or by ``[org/project/]uuid-prefix``."""
    parts = ref.split("/")
    if len(parts) == 3 and not is_uuid_prefix(parts[2]):
        return str(RunId.parse(ref))  # raises the precise error
    if len(parts) == 3:
        try:
            return str(RunId.parse(ref))
        except InvalidRunId:
            pass
    elif len(parts) != 1 or not is_uuid_prefix(ref):
        raise InvalidRunId(f"cannot read {ref[:80]!r} as a run: give org/project/uuid, a uuid, or 8+ characters of one")
    scope = "/".join(parts[:2]) + "/" if len(parts) == 3 else ""
    prefix = parts[-1].lower()
    matches = sorted(
        {run.run_id for run in list_archived(log)
         if run.run_id.startswith(scope) and run.run_id.split("/")[2].startswith(prefix)}
    )
    if not matches:
        raise RunNotFound(
            f"no run here or in the archive matches {ref!r}; `faber runs list --archived` lists the archive"
        )
    if len(matches) > 1:
        shown = ", ".join(matches[:5])
        raise AmbiguousRun(f"{ref!r} matches {len(matches)} archived runs: {shown}; give more characters")
    return matches[0]


def _record_restore(log: RunLog, run_id: str, bundle: ArchiveBundle, recorded: ArchiveRecord | None) -> None:
    now = utc_timestamp()
    if recorded is not None and recorded.manifest_sha256 == bundle.manifest_sha256:
        record = recorded.model_copy(update={"events_removed_at": None, "restored_at": now})
    else:
        location = ArchiveLocation(
            backend=bundle.source_backend or "unknown", url=bundle.source_url or "", verified_at=now
        )
        record = ArchiveRecord(
            url=bundle.source_url or "",
            archived_at=bundle.archived_at,
            manifest_sha256=bundle.manifest_sha256,
            event_count=bundle.manifest.event_count,
            last_event_id=bundle.manifest.last_event_id,
            locations=[location],
            restored_at=now,
        )

    def update(metadata: RunMetadata) -> RunMetadata:
        return metadata.model_copy(update={"archive": record})

    log.gateway.store.update_metadata(run_id, update)

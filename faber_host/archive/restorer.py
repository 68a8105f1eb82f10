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
from faber_hookspecs.errors import ArchiveError, ConfigError, RunNotFound
from faber_hookspecs.runs import RunRecord
from faber_hookspecs.wire import utc_timestamp

from ..runlog import check_restored
from .archiver import NO_ARCHIVE_BACKEND, record_archive
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
    try:
        run_id, local = _resolve(log, ref)
    except RunNotFound:
        if not log.gateway.can_restore():  # a run not here: the archive is what is missing
            raise ConfigError(NO_ARCHIVE_BACKEND) from None
        raise
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
    staging = download_folder(log)
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


def download_folder(log: RunLog) -> Path:
    """A new folder to download a bundle into, named after this process so that the next download
    removes it if this one is killed (and removing those of killed ones first)."""
    remove_dead_leftovers(str(log.project.faber_dir), (DOWNLOAD_PREFIX,))
    return Path(tempfile.mkdtemp(prefix=DOWNLOAD_PREFIX, suffix=f"-{os.getpid()}", dir=log.project.faber_dir))


def ensure_events_local(log: RunLog, ref: str, progress: ProgressCallback = no_progress) -> RestoreResult | None:
    """Restore the run first if its events were archived and removed here, or if the run is known only
    to the archive (before resuming it); None when its events are here already."""
    run_id = str(log.resolve(ref))
    try:
        record = log.run(run_id)
    except RunNotFound:
        if not log.gateway.can_restore():
            raise
        return restore(log, run_id, progress=progress)  # unknown here: from the archive, if it is there
    if record.events_local:
        return None
    return restore(log, run_id, progress=progress)


def _resolve(log: RunLog, ref: str) -> tuple[str, RunRecord | None]:
    """The run to restore (named as any run is: ``RunLog.resolve`` looks in the archive's index too),
    and its local record when this machine knows it."""
    run_id = str(log.resolve(ref))
    try:
        return run_id, log.run(run_id)
    except RunNotFound:
        return run_id, None


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
    record_archive(log, run_id, record)

"""Consolidate and archive a run: upload through every archive backend, record only what is verified,
and clean up only after that."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faber_hookspecs.archive import (
    ArchiveBundle,
    ArchiveLocation,
    ArchiveReceipt,
    ArchiveRecord,
    ProgressCallback,
    no_progress,
)
from faber_hookspecs.errors import ArchiveError, ConfigError, FaberError, RunInProgress
from faber_hookspecs.metadata import RunMetadata
from faber_hookspecs.records import RunRecord
from faber_hookspecs.reducer import TERMINAL_STATUSES
from faber_hookspecs.wire import utc_timestamp

from .results import ArchiveIncomplete, ArchiveResult, ConsolidateResult

if TYPE_CHECKING:
    from ..api import Faber

NO_ARCHIVE_BACKEND = (
    "no archive backend is enabled: install one (pip install faber-backend-s3) and enable it in "
    'gateway.json ("backends": {"s3_archive": {"enabled": true, "config": {"bucket": ...}}})'
)


def consolidate(faber: Faber, ref: str) -> ConsolidateResult:
    """Write the run's bundle (events.jsonl, state, metadata, manifest) next to its events."""
    run_id = str(faber.resolve(ref))
    bundle = faber.gateway.store.consolidate(run_id)
    return ConsolidateResult(
        run_id=run_id,
        directory=str(bundle.directory),
        manifest_sha256=bundle.manifest_sha256,
        manifest=bundle.manifest,
    )


def archive(
    faber: Faber, ref: str, *, cleanup: bool = False, force: bool = False, progress: ProgressCallback = no_progress
) -> ArchiveResult:
    """Consolidate, archive through every archive backend, record the archive once every copy is
    verified, then (``cleanup``) remove the local event files. Raises ArchiveIncomplete, with every
    receipt, when a backend failed; nothing local is removed then, and running it again completes it."""
    run_id = str(faber.resolve(ref))
    if not faber.gateway.has_archive():
        raise ConfigError(NO_ARCHIVE_BACKEND)
    record = faber.run(run_id)
    recorded = record.metadata.archive
    if not record.events_local:
        if recorded is None:
            raise ArchiveError(f"run {run_id} has no events here and no archive record; restore it first")
        return ArchiveResult(
            run_id=run_id, archived=True, manifest_sha256=recorded.manifest_sha256,
            event_count=recorded.event_count, already_archived=True,
        )
    if record.state.status not in TERMINAL_STATUSES and not force:
        raise RunInProgress(
            f"run {run_id} is {record.state.status}: archive it once it has finished, "
            "or pass --force to archive it as it stands"
        )
    bundle = faber.gateway.store.consolidate(run_id)
    receipts = _receipts(faber, record, bundle, progress)
    result = ArchiveResult(
        run_id=run_id,
        archived=bool(receipts) and all(receipt.verified for receipt in receipts),
        manifest_sha256=bundle.manifest_sha256,
        event_count=bundle.manifest.event_count,
        receipts=receipts,
    )
    if not result.archived:
        failures = "; ".join(f"{r.backend}: {r.error or 'not verified'}" for r in receipts if not r.verified)
        raise ArchiveIncomplete(
            f"archiving run {run_id} failed ({failures or 'no backend answered'}); nothing local was removed; "
            "run the command again to complete the archive",
            result,
        )
    now = utc_timestamp()
    archive_record = ArchiveRecord(
        url=receipts[0].url or "",
        archived_at=now,
        manifest_sha256=bundle.manifest_sha256,
        event_count=bundle.manifest.event_count,
        last_event_id=bundle.manifest.last_event_id,
        locations=[ArchiveLocation(backend=r.backend, url=r.url or "", verified_at=r.archived_at) for r in receipts],
    )
    _record(faber, run_id, archive_record)
    if cleanup:
        removed = faber.gateway.store.cleanup(run_id, bundle.manifest_sha256, dry_run=False)
        _record(faber, run_id, archive_record.model_copy(update={"events_removed_at": utc_timestamp()}))
        result = result.model_copy(update={"cleanup": removed})
    return result


def after_complete(faber: Faber, run_id: str) -> list[str]:
    """Do what the archive backends' policies ask when a run completes; return warnings, never raise:
    the completion is stored already and must not look failed."""
    try:
        policies = faber.gateway.archive_policies()
    except FaberError as problem:  # a backend did not load: what it would ask on completion is unknown
        return [f"the run completed, but what the archive does on completion could not run: {problem}"]
    if not policies:
        return []
    archive_it = any(policy.archive_on_complete for policy in policies)
    cleanup = archive_it and all(policy.cleanup_local_after_archive for policy in policies)
    try:
        if archive_it:
            archive(faber, run_id, cleanup=cleanup)
        elif any(policy.consolidate_on_complete for policy in policies):
            consolidate(faber, run_id)
    except FaberError as problem:
        action = "archive" if archive_it else "consolidate"
        return [f"the run completed, but {action} on completion failed: {problem}; run `faber {action} {run_id}`"]
    return []


def _receipts(
    faber: Faber, record: RunRecord, bundle: ArchiveBundle, progress: ProgressCallback
) -> list[ArchiveReceipt]:
    """Every archive backend's receipt; a backend that raised, or answered for another bundle, gets an
    unverified receipt that says so."""
    receipts = []
    for outcome in faber.gateway.archive_run(record, bundle, progress):
        receipt = outcome.result
        if isinstance(receipt, ArchiveReceipt):
            receipt = receipt.model_copy(update={"backend": outcome.backend})  # named as gateway.json names it
        if isinstance(receipt, ArchiveReceipt) and (receipt.run_id, receipt.manifest_sha256) != (
            bundle.run_id, bundle.manifest_sha256
        ):
            receipt = receipt.model_copy(update={"verified": False, "error": "its receipt names another bundle"})
        if not isinstance(receipt, ArchiveReceipt):
            receipt = ArchiveReceipt(
                backend=outcome.backend, run_id=bundle.run_id, manifest_sha256=bundle.manifest_sha256,
                verified=False, archived_at=utc_timestamp(), error=outcome.error or "it answered no receipt",
            )
        receipts.append(receipt)
    return receipts


def _record(faber: Faber, run_id: str, record: ArchiveRecord) -> None:
    def update(metadata: RunMetadata) -> RunMetadata:
        return metadata.model_copy(update={"archive": record})

    faber.gateway.store.update_metadata(run_id, update)

"""Consolidate and archive a run: upload through every archive backend, record only what is verified,
and clean up only after that."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from faber_hookspecs.archive import (
    ArchiveBundle,
    ArchivedRun,
    ArchiveLocation,
    ArchiveQuery,
    ArchiveReceipt,
    ArchiveRecord,
    ProgressCallback,
    no_progress,
)
from faber_hookspecs.errors import ArchiveError, ConfigError, FaberError, RunInProgress
from faber_hookspecs.reducer import TERMINAL_STATUSES
from faber_hookspecs.run_id import validate_slug
from faber_hookspecs.runs import RunRecord
from faber_hookspecs.wire import utc_timestamp

from .results import ArchiveIncomplete, ArchiveResult, ConsolidateResult

if TYPE_CHECKING:
    from ..runlog import RunLog

NO_ARCHIVE_BACKEND = (
    "no archive backend is enabled: install one (pip install faber-backend-s3) and enable it in "
    'gateway.json ("backends": {"s3_archive": {"enabled": true, "config": {"bucket": ...}}})'
)


def consolidate(log: RunLog, ref: str) -> ConsolidateResult:
    """Write the run's bundle (events.jsonl, state, metadata, manifest) next to its events."""
    run_id = str(log.resolve(ref))
    bundle = log.gateway.store.consolidate(run_id)
    return ConsolidateResult(
        run_id=run_id,
        directory=str(bundle.directory),
        manifest_sha256=bundle.manifest_sha256,
        manifest=bundle.manifest,
    )


def archive(
    log: RunLog, ref: str, *, cleanup: bool = False, force: bool = False, progress: ProgressCallback = no_progress
) -> ArchiveResult:
    """Consolidate, archive through every archive backend, record the archive once every copy is
    verified, then (``cleanup``) remove the local event files. Raises ArchiveIncomplete, with every
    receipt, when a backend failed; nothing local is removed then, and running it again completes it."""
    run_id = str(log.resolve(ref))
    if not log.gateway.has_archive():
        raise ConfigError(NO_ARCHIVE_BACKEND)
    record = log.run(run_id)
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
    bundle = log.gateway.store.consolidate(run_id)
    receipts = _receipts(log, record, bundle, progress)
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
    record_archive(log, run_id, archive_record)
    if cleanup:
        removed = log.gateway.store.cleanup(run_id, bundle.manifest_sha256, dry_run=False)
        record_archive(log, run_id, archive_record.model_copy(update={"events_removed_at": utc_timestamp()}))
        result = result.model_copy(update={"cleanup": removed})
    return result


@dataclass(frozen=True)
class CompletionArchive:
    """What archiving a completed run did, as its own step after ``workflow_complete``: ``action`` is
    ``consolidated``, ``archived``, ``cleaned_up`` (archived, then local events removed) or
    ``failed``; ``message`` says it in a line, with the command that finishes the job when it failed."""

    action: str
    message: str

    @property
    def failed(self) -> bool:
        return self.action == "failed"


def after_complete(log: RunLog, run_id: str) -> CompletionArchive | None:
    """Do what the archive backends' policies ask for a completed run (consolidate, archive, clean up
    local events) and say what was done; None when no policy asks for anything. Never raises: the
    completion is stored already and must not look failed."""
    try:
        policies = log.gateway.archive_policies()
    except FaberError as problem:  # a backend did not load: what it would ask on completion is unknown
        return CompletionArchive(
            "failed", f"the run completed, but what the archive does on completion could not run: {problem}"
        )
    archive_it = any(policy.archive_on_complete for policy in policies)
    cleanup = archive_it and all(policy.cleanup_local_after_archive for policy in policies)
    if not archive_it and not any(policy.consolidate_on_complete for policy in policies):
        return None
    action = "archive" if archive_it else "consolidate"
    try:
        if archive_it:
            archived = archive(log, run_id, cleanup=cleanup)
            where = ", ".join(receipt.backend for receipt in archived.receipts)
            done = "archived and its local events removed" if cleanup else "archived"
            return CompletionArchive("cleaned_up" if cleanup else "archived", f"run {run_id} {done} ({where})")
        consolidated = consolidate(log, run_id)
        return CompletionArchive("consolidated", f"run {run_id} consolidated in {consolidated.directory}")
    except FaberError as problem:
        return CompletionArchive(
            "failed", f"the run completed, but {action} on completion failed: {problem}; run `faber {action} {run_id}`"
        )


def list_archived(log: RunLog, *, org: str | None = None, project: str | None = None) -> list[ArchivedRun]:
    """The runs held by the enabled archive backends, newest first, within ``org`` and/or ``project``
    when given."""
    for value, what in ((org, "org"), (project, "project")):
        if value is not None:
            validate_slug(value, what)
    if not log.gateway.can_list_archive():
        raise ConfigError(NO_ARCHIVE_BACKEND)
    runs: list[ArchivedRun] = []
    for outcome in log.gateway.list_archived_runs(ArchiveQuery(org=org, project=project)):
        if outcome.error is not None:
            raise ArchiveError(f"listing the archive of backend {outcome.backend!r} failed: {outcome.error}")
        runs.extend(outcome.result)
    runs.sort(key=lambda run: (run.archived_at or "", run.run_id), reverse=True)
    return runs


def _receipts(
    log: RunLog, record: RunRecord, bundle: ArchiveBundle, progress: ProgressCallback
) -> list[ArchiveReceipt]:
    """Every archive backend's receipt; a backend that raised, or answered for another bundle, gets an
    unverified receipt that says so."""
    receipts = []
    for outcome in log.gateway.archive_run(record, bundle, progress):
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


def record_archive(log: RunLog, run_id: str, record: ArchiveRecord) -> None:
    """Make ``record`` the run's ``archive`` in metadata.json."""
    log.gateway.store.update_metadata(run_id, lambda metadata: metadata.model_copy(update={"archive": record}))

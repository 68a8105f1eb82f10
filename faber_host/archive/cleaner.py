"""``faber cleanup``: remove the local event files of runs whose archive is verified and old enough."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from faber_hookspecs.errors import FaberError, InvalidInput
from faber_hookspecs.runs import RunQuery
from faber_hookspecs.wire import utc_timestamp

from .archiver import record_archive
from .durations import age_days
from .results import CleanupEntry, CleanupResult

if TYPE_CHECKING:
    from ..runlog import RunLog


def cleanup(
    log: RunLog, runs: list[str] | None = None, *, older_than_days: float | None = None, dry_run: bool = False
) -> CleanupResult:
    """Remove local event files of the given runs (default: every local run) whose last event is older
    than ``older_than_days`` (default: event_retention.local_days of gateway.json; no limit for runs
    named explicitly) and whose archive is verified and holds exactly their events."""
    if older_than_days is not None and older_than_days < 0:
        raise InvalidInput("--older-than must not be negative")
    log.gateway.check_loaded()  # cleanup trusts the archive's records: not with an archive backend missing
    days = older_than_days
    if days is None:
        days = 0.0 if runs else float(log.gateway.config.event_retention.local_days)
    listed = runs or [state.run_id for state in log.gateway.store.list_runs(RunQuery())]
    run_ids = [str(log.resolve(ref)) for ref in listed]
    now = datetime.now(UTC)
    result = CleanupResult(older_than_days=days, dry_run=dry_run)
    for run_id in run_ids:
        result.entries.append(_clean_one(log, run_id, days, now, dry_run))
    return result


def _clean_one(log: RunLog, run_id: str, days: float, now: datetime, dry_run: bool) -> CleanupEntry:
    try:
        record = log.run(run_id)
    except FaberError as problem:
        return CleanupEntry(run_id=run_id, action="failed", reason=str(problem))
    state, archive = record.state, record.metadata.archive
    if not record.events_local:
        return CleanupEntry(run_id=run_id, action="skipped", reason="its events were removed already")
    if archive is None:
        return CleanupEntry(run_id=run_id, action="skipped", reason="not archived (faber archive RUN)")
    age = age_days(state.updated_at or state.completed_at or state.created_at, now)
    if age is None or age < days:
        shown = "unknown" if age is None else f"{age:.1f} days"
        return CleanupEntry(run_id=run_id, action="skipped", reason=f"last event {shown} ago, within {days:g} days")
    if archive.last_event_id != state.last_event_id:
        return CleanupEntry(
            run_id=run_id, action="skipped",
            reason=f"{state.last_event_id - (archive.last_event_id or 0)} events since it was archived; "
            "archive it again",
        )
    try:
        removed = log.gateway.store.cleanup(run_id, archive.manifest_sha256, dry_run=dry_run)
    except FaberError as problem:
        return CleanupEntry(run_id=run_id, action="failed", reason=str(problem))
    if not dry_run:
        record_archive(log, run_id, archive.model_copy(update={"events_removed_at": utc_timestamp()}))
    return CleanupEntry(
        run_id=run_id, action="would_remove" if dry_run else "removed", files=removed.files, bytes=removed.bytes
    )

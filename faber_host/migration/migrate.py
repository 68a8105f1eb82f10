"""``faber migrate``: import the old state file as a run. The file is only read; ``state.json.migrated``
beside it (run id and SHA-256) makes a second migrate point at the run instead (``force`` imports again)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faber_hookspecs.errors import InvalidInput, RunNotFound, StorageError
from faber_hookspecs.run_id import RunId
from faber_hookspecs.wire import dump_document, utc_timestamp

from .. import runlog
from ..run_ref import current_user
from ..safety.limits import Limits
from .rebuild import plan_migration

if TYPE_CHECKING:
    from ..runlog import RunLog

OLD_STATE_NAME = "state.json"
MARKER_SUFFIX = ".migrated"


@dataclass(frozen=True)
class MigrationResult:
    """What ``faber migrate`` did (or, with ``dry_run``, would do)."""

    source: Path
    run_id: str | None
    event_count: int
    already_migrated: bool = False
    dry_run: bool = False
    recovered: list[str] = field(default_factory=list)
    not_recovered: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # with dry_run only

    def to_json(self) -> dict[str, Any]:
        """The result as JSON (``faber migrate --json``)."""
        document = {**asdict(self), "source": str(self.source)}
        return document if self.dry_run else {k: v for k, v in document.items() if k != "events"}


def migrate_old_state(
    log: RunLog, source: Path | None = None, *, work_id: str | None = None, workflow_id: str | None = None,
    org: str | None = None, project: str | None = None, dry_run: bool = False, force: bool = False,
) -> MigrationResult:
    """Import the old state file (default: the project's ``.fractary/plugins/faber/state.json``)."""
    path = (source or log.project.faber_dir / OLD_STATE_NAME).expanduser()
    policy = log.gateway.input_policy
    old, sha256 = read_old_state(path, policy.limits)
    marker = path.with_name(path.name + MARKER_SUFFIX)
    if not force and not dry_run:
        previous = _previous_migration(log, marker, sha256)
        if previous is not None:
            return MigrationResult(path, previous, 0, already_migrated=True)
    org, project = log.project.identity(org, project)
    run_id = str(RunId.generate(org, project))
    try:
        shown = str(path.resolve().relative_to(log.project.root))
    except ValueError:
        shown = str(path.resolve())
    plan = plan_migration(
        old, run_id=run_id, source=shown, source_sha256=sha256, migrated_at=utc_timestamp(),
        migrated_by=current_user(), workflow_id=workflow_id, work_id=work_id,
    )
    # The run goes through the checks every new run and event goes through (limits, secret redaction,
    # the models), so what the old file held is stored, and shown, as any door would have stored it.
    try:
        if dry_run:
            metadata, events, findings = runlog.screen_history(policy, plan.metadata, plan.events)
        else:
            record, warnings = log.import_history(plan.metadata, plan.events)
            metadata, events = record.metadata, []
    except InvalidInput as problem:
        raise type(problem)(f"{path} cannot be migrated: {problem}") from None
    origin = metadata.model_extra["migrated_from"] if metadata.model_extra else {}
    recovered, not_recovered = origin["recovered"], origin["not_recovered"]
    if dry_run:
        return MigrationResult(path, None, len(events), dry_run=True, recovered=recovered, not_recovered=not_recovered,
                               events=[event.to_json() for event in events],
                               warnings=[findings.describe("the imported run")] if findings else [])
    _write_marker(marker, {"run_id": run_id, "sha256": sha256, "migrated_at": origin["migrated_at"]})
    return MigrationResult(path, run_id, len(plan.events), recovered=recovered, not_recovered=not_recovered,
                           warnings=warnings)


def read_old_state(path: Path, limits: Limits) -> tuple[dict[str, Any], str]:
    """The old state file as a JSON object, and the SHA-256 of its bytes."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"no old state file at {path}: nothing to migrate (give another with --file)") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a folder, not the old state file") from None
    except OSError as problem:
        raise StorageError(f"cannot read {path}: {problem.strerror or problem}") from None
    try:
        document = limits.parse(data, "run")
    except InvalidInput as problem:
        raise InvalidInput(f"{path} cannot be migrated: {problem}") from None
    except ValueError as problem:  # UnicodeDecodeError too
        raise InvalidInput(f"{path} is not valid JSON ({problem}); it was left as it is") from None
    if not isinstance(document, dict):
        raise InvalidInput(f"{path} holds {type(document).__name__}, not the JSON object of an old FABER state")
    if "reducer_version" in document or ("run_id" in document and "last_event_id" in document):
        raise InvalidInput(f"{path} is the state.json of a run (it has a run_id and an event log), not the old "
                           "single-file state; it needs no migration")
    if not isinstance(document.get("phases", {}), dict):
        raise InvalidInput(f"{path}: 'phases' must be an object of phases, as in the old FABER state")
    return document, hashlib.sha256(data).hexdigest()


def _previous_migration(log: RunLog, marker: Path, sha256: str) -> str | None:
    """The run this same file was already migrated to, if that run still exists."""
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
        run_id = record["run_id"] if record.get("sha256") == sha256 else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(run_id, str):
        return None
    try:
        log.resolve(run_id)
    except (RunNotFound, InvalidInput):
        return None
    return run_id


def _write_marker(marker: Path, record: dict[str, Any]) -> None:
    temporary = marker.with_name(f".{marker.name}.tmp")
    try:
        temporary.write_bytes(dump_document(record))
        os.replace(temporary, marker)
    except OSError as problem:
        raise StorageError(
            f"the run {record['run_id']} was imported, but {marker} could not be written ({problem.strerror}); "
            "a second `faber migrate` would import the file again"
        ) from None

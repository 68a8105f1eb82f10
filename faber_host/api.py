"""The Python API of faber-host: what the CLI and the MCP server call, and what scripts may use.

    from faber_host.api import Faber

    faber = Faber.open()                        # the project above the current folder
    run = faber.new_run(work_id="123")
    faber.emit(run.run_id, "workflow_start")
    for event in faber.events(run.run_id):
        print(event.event_id, event.type)

    outcome = faber.run_workflow("default", "123", params={"target": "api"})   # execute a workflow
    context = faber.resume_context(outcome.run_id)    # what is done, what is next (no side effects)

Every method raises a ``FaberError`` subclass for anything a user can cause, with a message that
says what to do.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from faber_hookspecs.catalogue import PHASES
from faber_hookspecs.errors import (
    EventsNotLocal,
    InvalidInput,
    InvalidRunId,
    RunNotFound,
)
from faber_hookspecs.events import Event
from faber_hookspecs.metadata import RunMetadata
from faber_hookspecs.reducer import TERMINAL_STATUSES
from faber_hookspecs.reports import FlushReport
from faber_hookspecs.run_id import RunId, validate_slug
from faber_hookspecs.runs import RunQuery, RunRecord
from faber_hookspecs.state import RUN_STATUSES, RunState
from faber_hookspecs.wire import utc_timestamp

from .gateway import Gateway
from .project import Project
from .runlog import EmitResult, RunLog

if TYPE_CHECKING:  # loaded by the methods that use them: `faber runs list` needs none of them
    from faber_hookspecs.archive import ArchivedRun, ProgressCallback
    from faber_hookspecs.integrity import RepairReport, VerifyReport
    from faber_hookspecs.resume import ResumeContext

    from .archive import ArchiveResult, CleanupResult, ConsolidateResult, RestoreResult
    from .archive.archiver import CompletionArchive
    from .doctor import DoctorCheck
    from .gateway.plugins import BackendInfo
    from .migration.migrate import MigrationResult
    from .runner.display import Display
    from .runner.outcome import ApprovalResult, RerunResult, RunOutcome
    from .views.summary import RelatedRun
    from .views.timeline import Timeline

class Faber:
    """One project's runs, through its gateway.

    The execution methods (run_workflow, resume_workflow, rerun_workflow) take the run's executor lock,
    turn Ctrl-C and SIGTERM into a recorded workflow_cancelled when called from the main thread, and
    report how the run ended: a step's failure is an outcome, not an exception. The methods an agent
    uses to drive steps itself (resume_context, resume, rerun) execute nothing.
    """

    def __init__(self, project: Project, gateway: Gateway) -> None:
        self.project = project
        self.gateway = gateway
        self.log = RunLog(project, gateway)

    @property
    def notify(self) -> Callable[[str], None]:
        """Told one line when a command restores a run before writing to it (the CLI prints it)."""
        return self.log.notify

    @notify.setter
    def notify(self, tell: Callable[[str], None]) -> None:
        self.log.notify = tell

    @classmethod
    def open(cls, root: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Faber:
        """The project at ``root`` (or FABER_ROOT, or above the current folder) and its backends."""
        project = Project.find(root, environ)
        return cls(project, Gateway.open(project))

    def resolve(self, ref: str) -> RunId:
        """A run named by its full id, its uuid, or a unique uuid prefix of at least 8 characters
        (optionally after ``org/project/``)."""
        return self.log.resolve(ref)

    def new_run(self, work_id: str, **options: Any) -> RunMetadata:
        """Create a run with a new id and return its metadata (nothing is executed): ``RunLog.new_run``,
        whose keyword options (workflow_id, params, org, project, target, autonomy...) it takes."""
        return self.log.new_run(work_id, **options)

    def run(self, ref: str) -> RunRecord:
        """The run's metadata, state and any defects found while reading it; a run only an archive
        holds is read from its bundle (``events_local`` is False then), without restoring it."""
        return self.log.read(ref)

    def list_runs(
        self, *, status: str | None = None, work_id: str | None = None, org: str | None = None,
        project: str | None = None, limit: int | None = None, workflow_id: str | None = None, since: str | None = None,
        until: str | None = None
    ) -> list[RunState]:
        """The runs matching every given filter, newest first. ``since`` and ``until`` bound when a run
        started (else was created): a date, a date-time (UTC unless it names an offset) or an age such
        as 30d or 12h."""
        for value, what in ((org, "org"), (project, "project")):
            if value is not None:
                validate_slug(value, what)
        if limit is not None and limit < 1:
            raise InvalidInput("--limit must be at least 1")
        if status is not None and status not in RUN_STATUSES:
            raise InvalidInput(f"unknown status {str(status)[:40]!r}: use {', '.join(RUN_STATUSES)}")
        if since is not None or until is not None:
            from .archive.durations import parse_moment  # (the archive package loads its models)
        now = datetime.now(UTC)
        query = RunQuery(
            org=org, project=project, status=status, work_id=work_id, workflow_id=workflow_id, limit=limit,
            since=parse_moment(since, "--since", now) if since is not None else None,
            until=parse_moment(until, "--until", now) if until is not None else None,
        )
        return self.gateway.store.list_runs(query)

    def emit(
        self, run: str, type: str, *, phase: str | None = None, step: str | None = None, status: str | None = None,
        message: str | None = None, metadata: Mapping[str, Any] | None = None,
        artifacts: list[Mapping[str, Any]] | None = None, duration_ms: int | None = None,
        error: Mapping[str, Any] | None = None, correlation_id: str | None = None, retry_attempt: int | None = None,
        user: str | None = None, source: str = "faber-api"
    ) -> EmitResult:
        """Record one event durably and return it with the run's new state."""
        fields = {
            "type": type, "phase": phase, "step": step, "status": status, "message": message,
            "metadata": dict(metadata) if metadata is not None else None,
            "artifacts": list(artifacts) if artifacts is not None else None,
            "duration_ms": duration_ms, "error": dict(error) if error is not None else None,
            "correlation_id": correlation_id, "retry_attempt": retry_attempt,
            "user": user,
        }
        return self.emit_draft(run, {key: value for key, value in fields.items() if value is not None}, source=source)

    def emit_draft(self, run: str, fields: Mapping[str, Any], *, source: str = "faber-api") -> EmitResult:
        """Record an event given as a JSON object of draft fields (what ``--data`` and MCP send);
        ``user`` and ``source`` default to the current user and ``source``. A run whose events are only
        in the archive is restored first (``notify`` says so)."""
        return self.log.emit(run, fields, source=source)

    def events(
        self, run: str, *, type: str | None = None, phase: str | None = None, since_id: int = 0
    ) -> Iterator[Event]:
        """The run's events after ``since_id``, in id order, optionally of one type or phase."""
        if phase is not None and phase not in PHASES:
            raise InvalidInput(f"unknown phase {phase!r}: use one of {', '.join(PHASES)}")
        if since_id < 0:
            raise InvalidInput("--since-id must be 0 or more")
        for event in self.log.read_events(self.run(run), since_id):
            if (type is None or event.type == type) and (phase is None or event.phase == phase):
                yield event

    def follow(
        self, run: str, *, since_id: int = 0, interval: float = 0.5, recheck: float = 10.0,
        sleep: Callable[[float], None] = time.sleep
    ) -> Generator[Event, None, None]:
        """The run's events after ``since_id`` as they are written, by this process or any other,
        until the run ends (completed, failed or cancelled, with every event up to that yielded).

        Every ``interval`` seconds it reads the run's state, which is cheap, and reads the log only
        when the state shows new events (and every ``recheck`` seconds regardless, in case a writer
        died before updating the state). Stop early by closing the iterator (or with Ctrl-C).
        """
        if interval <= 0:
            raise InvalidInput("--interval must be more than 0 seconds")
        if since_id < 0:
            raise InvalidInput("--since-id must be 0 or more")
        record = self.run(run)
        if not record.events_local:  # only in the archive: finished, so its bundle holds every event
            yield from self.log.read_events(record, since_id)
            return
        run_id = record.metadata.run_id
        seen = since_id
        checked = -recheck
        waited = 0.0
        while True:
            state = self.gateway.store.load_run(run_id).state
            if state.last_event_id > seen or waited - checked >= recheck:
                checked = waited
                for event in self.gateway.store.events(run_id, seen):
                    seen = event.event_id
                    yield event
            if state.status in TERMINAL_STATUSES and state.last_event_id <= seen:
                return
            sleep(interval)
            waited += interval

    def migrate(
        self, source: str | os.PathLike[str] | None = None, *, work_id: str | None = None,
        workflow_id: str | None = None, dry_run: bool = False, force: bool = False
    ) -> MigrationResult:
        """Import the old single-file state (default ``.fractary/plugins/faber/state.json``) as a new
        run with its events rebuilt as far as the file allows; the file is kept. A file already
        migrated is not imported twice unless ``force``; ``dry_run`` shows what would happen."""
        from pathlib import Path

        from .migration.migrate import migrate_old_state

        return migrate_old_state(
            self.log, Path(source) if source is not None else None, work_id=work_id, workflow_id=workflow_id,
            dry_run=dry_run, force=force,
        )

    def reconstruct(self, run: str, *, write: bool = False) -> tuple[RunState, list[str]]:
        """The run's state rebuilt from its events; with ``write``, stored as its state (state.json)."""
        run_id = str(self.resolve(run))
        state = self.gateway.store.reconstruct(run_id)
        warnings: list[str] = []
        if write:
            self.gateway.store.save_state(run_id, state)
            warnings = self.gateway.persist_state(run_id, state)
        return state, warnings

    def timeline(self, run: str, *, now: str | None = None) -> Timeline:
        """The run's timeline (bars per phase and step, attempts, markers, lineage) from its events.
        ``now`` (a UTC timestamp, default the current time) is how far a running run is drawn."""
        return self.timeline_of(self.run(run), now=now)

    def report(self, run: str, *, max_events: int | None = None) -> str:
        """The run as one self-contained HTML page: metadata, parameters, lineage, the SVG timeline,
        approvals, errors, artifacts and the event table. ``max_events`` bounds the table (default
        5000; 0 lists every event); the timeline always uses every event."""
        from importlib.metadata import PackageNotFoundError, version

        from .views.html_report import DEFAULT_MAX_EVENTS, EventSample, render_report

        if max_events is not None and max_events < 0:
            raise InvalidInput("--max-events must be 0 (every event) or more")
        record = self.run(run)
        sample = EventSample(DEFAULT_MAX_EVENTS if max_events is None else max_events)
        timeline = self.timeline_of(record, keep=sample.keep)
        try:
            generator = f"faber-host {version('faber-host')}"
        except PackageNotFoundError:
            generator = "faber-host"
        return render_report(
            record, timeline, sample, self.related_runs(record), generated_at=utc_timestamp(), generator=generator
        )

    def timeline_of(
        self, record: RunRecord, *, now: str | None = None,
        keep: Callable[[Iterable[dict[str, Any]]], Iterable[dict[str, Any]]] | None = None
    ) -> Timeline:
        """The timeline of a run already loaded (``run()``); ``keep`` sees every event on its way
        (the report uses it to sample the event table in the same pass)."""
        from .views.timeline import build_timeline

        loaded = self.log.read_events(record)
        events: Iterable[dict[str, Any]] = (event.model_dump(mode="json", exclude_none=True) for event in loaded)
        if keep is not None:
            events = keep(events)
        return build_timeline(events, record.metadata.to_json(), now=now or utc_timestamp())

    def related_runs(self, record: RunRecord) -> list[RelatedRun]:
        """The runs this one re-runs, descends from or was re-run as, each with its status (None when
        it is not in this project's store)."""
        from .views.summary import RelatedRun, related_runs

        found = []
        for relation, run_id in related_runs(record):
            try:
                status: str | None = self.gateway.store.load_run(run_id).state.status
            except (RunNotFound, InvalidRunId):
                status = None
            found.append(RelatedRun(run_id, relation, status))
        return found

    def flush(self, backend: str | None = None, run: str | None = None) -> list[FlushOutcome]:
        """Deliver now what backends hold back (an event stream's outbox): ``backend``'s, or every
        enabled backend's that holds something back; every run's, or only ``run``'s."""
        flushers = self.gateway.flushers()
        if backend is not None and backend not in flushers:
            if backend not in self.gateway.enabled():
                enabled = ", ".join(self.gateway.enabled())
                raise InvalidInput(f"backend {backend!r} is not enabled; enabled: {enabled} (see `faber backends`)")
            raise InvalidInput(f"backend {backend!r} holds nothing back: it does not implement faber_flush")
        run_id = str(self.resolve(run)) if run is not None else None
        answers, failures = self.gateway.flush(run_id, only=backend)
        outcomes = [FlushOutcome(name, report=report) for name, report in answers if isinstance(report, FlushReport)]
        outcomes += [FlushOutcome(name, error=warning) for name, warning in failures]
        order = {name: index for index, name in enumerate(self.gateway.enabled())}
        return sorted(outcomes, key=lambda outcome: order.get(outcome.backend, len(order)))

    def run_workflow(
        self, workflow: str, work_id: str, *, params: Mapping[str, Any] | None = None, phases: list[str] | None = None,
        autonomy: str | None = None, org: str | None = None, project: str | None = None, display: Display | None = None
    ) -> RunOutcome:
        """Create a run of ``workflow`` (an id such as ``default`` or ``fractary-faber:core``) for ``work_id`` and
        execute it. ``phases`` limits the phases run; ``autonomy`` overrides the workflow's level."""
        from .runner import lifecycle
        from .runner.cancel import CancelScope
        from .runner.display import Display

        with CancelScope() as scope:
            metadata, _ = lifecycle.create_run(
                self.log, workflow, work_id, params=dict(params or {}), phases=phases, autonomy=autonomy,
                org=org, project=project,
            )
            return lifecycle.execute(self.log, metadata.run_id, started="start", display=display or Display(),
                                     scope=scope)

    def resume_context(self, run: str, *, step: str | None = None, force: bool = False) -> ResumeContext:
        """What the run has done, what it needs next, and whether it can be resumed (with ``force``:
        despite a changed workflow or unfinished steps before ``step``). No side effects."""
        from .runner import lifecycle

        return lifecycle.inspect(self.log, run, step=step, force=force).context

    def resume(self, run: str, *, step: str | None = None, force: bool = False) -> ResumeContext:
        """For an agent that drives the steps itself: check the run can continue, ask the backends
        (``faber_on_resume``), record ``workflow_resumed`` (``workflow_start`` for a run that never
        started) and return the context, whose ``next_step`` is the step to execute. Nothing is
        executed. Raises NotResumable (with the reason and what to do), RunBusy, or ResumeVetoed."""
        from .runner import lifecycle
        from .runner.lock import RunnerLock

        self.restore_for_write(run)
        run_id = self.resolve(run)
        with RunnerLock(self.project, run_id):
            view = lifecycle.inspect(self.log, str(run_id), step=step, force=force, holding_lock=True)
            view, _ = lifecycle.begin_resume(self.log, view, force=force)
        return view.context

    def resume_workflow(
        self, run: str, *, step: str | None = None, force: bool = False, display: Display | None = None
    ) -> RunOutcome:
        """Resume the run under the same run id and execute it from the first step that is not
        completed (or from ``step``, ``phase:step``); completed steps are not executed again."""
        from .runner import lifecycle
        from .runner.cancel import CancelScope
        from .runner.display import Display

        self.restore_for_write(run)
        run_id = str(self.resolve(run))
        with CancelScope() as scope:
            return lifecycle.execute(self.log, run_id, started="resume", display=display or Display(), scope=scope,
                                     step=step, force=force)

    def rerun(
        self, run: str, *, params: Mapping[str, Any] | None = None, phases: list[str] | None = None,
        autonomy: str | None = None, work_id: str | None = None
    ) -> RerunResult:
        """Create a new run of the same work: the original's parameters merged with ``params``; the
        changes are recorded in its workflow_rerun event and metadata, with rerun_of, parent_run_id
        and root_run_id; the original's child_runs gains the new id. Nothing is executed: the result
        holds the new run's context (its first step)."""
        from .runner import lifecycle
        from .runner.outcome import RerunResult

        self.restore_for_write(run)  # the original gains a link to the new run
        metadata, _, warnings = lifecycle.create_rerun(
            self.log, run, params=dict(params or {}), phases=phases, autonomy=autonomy, work_id=work_id
        )
        assert metadata.relationships.rerun_of is not None
        return RerunResult(
            original_run_id=metadata.relationships.rerun_of, new_run_id=metadata.run_id,
            parameter_changes=metadata.parameter_changes, context=self.resume_context(metadata.run_id),
            warnings=warnings,
        )

    def rerun_workflow(
        self, run: str, *, params: Mapping[str, Any] | None = None, phases: list[str] | None = None,
        autonomy: str | None = None, work_id: str | None = None, display: Display | None = None
    ) -> RunOutcome:
        """``rerun`` and then execute the new run."""
        from .runner import lifecycle
        from .runner.cancel import CancelScope
        from .runner.display import Display

        with CancelScope() as scope:
            created = self.rerun(run, params=params, phases=phases, autonomy=autonomy, work_id=work_id)
            outcome = lifecycle.execute(self.log, created.new_run_id, started="rerun", display=display or Display(),
                                        scope=scope, rerun=created)
        outcome.warnings[:0] = created.warnings
        return outcome

    def approve(
        self, run: str, *, deny: bool = False, reason: str | None = None, phase: str | None = None,
        user: str | None = None,
    ) -> ApprovalResult:
        """Record approval_granted (or approval_denied) for the run's pending approval request (or for
        ``phase``, ahead of its gate, or to change a denial). The run continues when resumed."""
        from .runner import lifecycle

        self.restore_for_write(run)
        return lifecycle.approve(self.log, run, deny=deny, reason=reason, phase=phase, user=user)

    def verify(self, run: str) -> VerifyReport:
        """Check the run's stored files: ids gap-free, every event valid, the cached state equal to the
        state rebuilt from the events, the id counter right. ``report.ok`` only when all hold."""
        run_id = str(self.resolve(run))
        try:
            return self.gateway.store.verify(run_id)
        except (RunNotFound, EventsNotLocal):  # only the archived bundle holds its events: check that
            if not self.gateway.can_restore():
                raise
            return self.log.archived(run_id).verify()

    def repair(self, run: str) -> RepairReport:
        """Rebuild what can be rebuilt from the events (state, id counter), move unreadable files to
        events/.quarantine/ (nothing is deleted), and verify again. Backends that cache state get
        the rebuilt state."""
        run_id = str(self.resolve(run))
        report = self.gateway.store.repair(run_id)
        if report.actions:
            self.gateway.persist_state(run_id, self.gateway.store.reconstruct(run_id))
        return report

    def consolidate_events(self, run: str) -> ConsolidateResult:
        """Write the run's bundle: events.jsonl (every event, numeric id order), state.json,
        metadata.json and manifest.json (counts, first and last id, sizes and sha256s), atomically, in
        the run's ``archive/`` folder. The same run always gives the same bytes."""
        from .archive.archiver import consolidate

        return consolidate(self.log, run)

    def archive_on_complete(self, run: str) -> CompletionArchive | None:
        """The step after a run's ``workflow_complete``: do what the archive backends' policies ask
        (consolidate, archive, clean up local events) and say what was done, or None when no policy
        asks for anything. Never raises: a failure is reported with the command that finishes the
        job. ``faber run``, ``faber event emit`` and the MCP ``emit_event`` take it after recording
        ``workflow_complete``; a caller of ``emit`` takes it when it wants it."""
        from .archive.archiver import after_complete

        return after_complete(self.log, str(self.resolve(run)))

    def archive_run(
        self, run: str, *, cleanup: bool = False, force: bool = False, progress: ProgressCallback | None = None
    ) -> ArchiveResult:
        """Consolidate the run, copy it to every enabled archive backend, verify every object (size
        and checksum), then record the archive in the run's metadata. With ``cleanup``, remove the
        local event files afterwards (state.json, metadata.json and the manifest stay). A run still in
        progress is refused unless ``force``. Raises ``ArchiveIncomplete`` (with every receipt) when
        a backend failed: nothing local is removed then, and calling it again completes the archive."""
        from faber_hookspecs.archive import no_progress

        from .archive.archiver import archive

        return archive(self.log, run, cleanup=cleanup, force=force, progress=progress or no_progress)

    def restore_run(
        self, run: str, *, expected_manifest_sha256: str | None = None, trust_archive: bool = False,
        progress: ProgressCallback | None = None
    ) -> RestoreResult:
        """Download an archived run, check every checksum, and expand its events back into files that
        are the same bytes as before: into a run cleaned up here, or as a new run. The manifest must be
        the one recorded when the run was archived here (or ``expected_manifest_sha256``), unless
        ``trust_archive``. A mismatch raises ``IntegrityError`` and changes nothing. ``run`` may be a
        full run id, or a uuid prefix of a run found here or in the archive."""
        from faber_hookspecs.archive import no_progress

        from .archive.restorer import restore

        return restore(
            self.log, run, expected_manifest_sha256=expected_manifest_sha256, trust_archive=trust_archive,
            progress=progress or no_progress,
        )

    def restore_for_write(self, run: str) -> bool:
        """Before anything is added to a run whose events are only in an archive: restore it, tell
        ``notify`` in one line, and return True."""
        return self.log.restore_for_write(run)

    def list_archived_runs(self, *, org: str | None = None, project: str | None = None) -> list[ArchivedRun]:
        """The runs held by the enabled archive backends, newest first, within ``org`` and/or
        ``project`` when given."""
        from .archive.archiver import list_archived

        return list_archived(self.log, org=org, project=project)

    def cleanup_runs(
        self, runs: list[str] | None = None, *, older_than_days: float | None = None, dry_run: bool = False
    ) -> CleanupResult:
        """Remove the local event files of runs (default: every run here) whose last event is older than
        ``older_than_days`` (default: event_retention.local_days in gateway.json; none for named runs)
        and whose verified archive holds exactly their events. Other runs are skipped with a reason."""
        from .archive.cleaner import cleanup

        return cleanup(self.log, runs, older_than_days=older_than_days, dry_run=dry_run)


@dataclass(frozen=True)
class FlushOutcome:
    """What ``Faber.flush`` did for one backend: its report, or why it failed."""

    backend: str
    report: FlushReport | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the backend delivered everything it held back."""
        return self.error is None and (self.report is None or self.report.error is None)

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            **(self.report.model_dump() if self.report else {"delivered": 0, "pending": 0, "runs": 0, "error": None}),
            **({"error": self.error} if self.error else {}),
        }


def describe_backends(
    root: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> list[BackendInfo]:
    """Every installed backend and every one named in gateway.json: distribution, version, enabled,
    hooks, and why it cannot be used if it cannot. It never fails for a backend's sake, so it works
    when the gateway does not open (it is how you find out why)."""
    from .gateway import backend_context
    from .gateway.config import load_gateway_config
    from .gateway.plugins import load_backends

    project = Project.find(root, environ)
    config = load_gateway_config(project.gateway_file, project.environ)
    return load_backends(config, backend_context(project), describe_disabled=True).report


def doctor(root: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> list[DoctorCheck]:
    """Check the project at ``root``: config, backends load, each backend's own health checks. Never
    raises for what it finds; a ``fail`` verdict says what is wrong."""
    from .doctor import diagnose

    return diagnose(root, environ)



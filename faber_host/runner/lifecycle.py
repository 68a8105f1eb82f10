"""Starting, resuming, re-running and approving runs: the checks, the records and the hooks around the
loop, through the run log (never the API facade). ``inspect`` has no side effects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from faber_hookspecs.catalogue import PHASES
from faber_hookspecs.errors import ConfigError, FaberError, InvalidInput, NotResumable, RunBusy
from faber_hookspecs.metadata import ParameterChange, Relationships, RunMetadata
from faber_hookspecs.resume import NextStep, ResumeContext, ResumeFrom
from faber_hookspecs.run_id import RunId
from faber_hookspecs.runs import RunRecord
from faber_hookspecs.workflow import (
    AUTONOMY_ALIASES,
    AUTONOMY_LEVELS,
    ResolvedWorkflow,
    WorkflowFingerprint,
    autonomy_level,
)

from ..workflows import (
    WorkflowLibrary,
    check_placeholders,
    describe_changes,
    fill_placeholders,
    fingerprint,
    placeholder_values,
    resolve_workflow,
)
from . import progress
from .cancel import CancelScope
from .display import Display
from .engine import SOURCE, WorkflowRunner
from .lock import RunnerLock, busy_reason
from .outcome import ApprovalResult, RerunResult, RunOutcome

if TYPE_CHECKING:
    from ..runlog import RunLog

RESERVED_PARAMS = frozenset({"work_id", "run_id"})


@dataclass
class RunView:
    """A run against its workflow: what ``inspect`` found."""

    record: RunRecord
    context: ResumeContext
    workflow: ResolvedWorkflow | None = None  # as defined (placeholders not filled)
    filled: ResolvedWorkflow | None = None
    selection: progress.Selection | None = None
    fingerprint_now: WorkflowFingerprint | None = None
    busy: bool = False


def load_workflow_for(log: RunLog, metadata: RunMetadata) -> ResolvedWorkflow:
    """The run's workflow as it is defined now, named by the file it started with (a workflow's id
    may differ from its file's name), else by its id. Only names are looked up, never a stored path.
    Where the project has no such workflow (another machine), the definition the run recorded."""
    library = WorkflowLibrary(log.project)
    recorded = metadata.workflow_fingerprint
    names = [Path(recorded.file).stem] if recorded is not None and recorded.file else []
    names += [metadata.workflow_id] if metadata.workflow_id else []
    if not names:
        raise ConfigError(f"run {metadata.run_id} does not record which workflow it runs")
    for name in names:
        try:
            library.find(name)
        except ConfigError:
            continue
        return resolve_workflow(library, name)
    if recorded is not None and recorded.definition is not None:
        return ResolvedWorkflow.model_validate(recorded.definition)
    return resolve_workflow(library, names[-1])  # unknown here: its error


def selection_for(metadata: RunMetadata, workflow: ResolvedWorkflow, start_at: str | None = None) -> progress.Selection:
    """The phases, autonomy level and starting step of a run."""
    stored = AUTONOMY_ALIASES.get(metadata.autonomy or "", metadata.autonomy)
    level = stored if stored in AUTONOMY_LEVELS else autonomy_level(workflow.autonomy.level)
    return progress.Selection(phases=frozenset(metadata.phases), autonomy=level, start_at=start_at)  # type: ignore[arg-type]


def inspect(
    log: RunLog, ref: str, *, step: str | None = None, force: bool = False, holding_lock: bool = False
) -> RunView:
    """Where the run stands and whether it may continue; changes nothing."""
    record = log.read(ref)  # an archived run is read from its bundle: a look changes nothing
    state, metadata = record.state, record.metadata
    short = _short(metadata.run_id)
    recorded = metadata.workflow_fingerprint
    base: dict[str, Any] = dict(
        run_id=metadata.run_id, work_id=metadata.work_id, workflow_id=metadata.workflow_id, status=state.status,
        params=metadata.params, autonomy=metadata.autonomy, workflow_hash=recorded.hash if recorded else None,
        last_event_id=state.last_event_id,
    )
    try:
        workflow = load_workflow_for(log, metadata)
    except ConfigError as problem:
        return RunView(record, ResumeContext(**base, resumable=False, next_action="none",
                                             reason=f"the run's workflow cannot be loaded: {problem}",
                                             hint="restore or fix the workflow file, then try again"))
    if step is not None:
        _check_step(workflow, metadata, step)
    selection = selection_for(metadata, workflow, step)
    now = fingerprint(workflow, file=recorded.file if recorded else None)
    changes = describe_changes(recorded, now) if recorded else []
    try:
        filled = fill_placeholders(workflow, placeholder_values(metadata.work_id, metadata.run_id, metadata.params))
    except InvalidInput as problem:
        return RunView(record, ResumeContext(**base, resumable=False, reason=str(problem), next_action="none",
                                             workflow_changes=changes, hint="fix the workflow, then try again"),
                       workflow=workflow, fingerprint_now=now)
    plan = progress.plan(state, filled, selection)
    busy = None if holding_lock else busy_reason(log.project, RunId.parse(metadata.run_id))
    reason, hint = _refusal(state.status, plan, changes, busy, short, force)
    if reason is None and step is not None and not force:
        reason, hint = _unfinished_before(state, filled, selection, step, short)
    next_step = None
    if plan.step is not None:
        current = progress.step_state(state, plan.step)
        next_step = NextStep(
            **plan.step.model_dump(include={"phase", "id", "name", "description", "run", "command", "prompt", "skill",
                                             "arguments", "retries", "timeout"}),
            kind=plan.step.kind, status=current.status if current else "pending",
            attempts=current.attempts if current else 0,
        )
    context = ResumeContext(
        **base,
        resumable=reason is None,
        reason=reason,
        next_action="none" if state.status == "completed" else plan.next_action,
        resume_from=ResumeFrom(
            phase=plan.phase, step=plan.step.id if plan.step else None, event_id=state.last_event_id
        ),
        next_step=next_step,
        completed_phases=plan.completed_phases,
        completed_steps=plan.completed_steps,
        remaining_steps=[s.key for s in plan.remaining],
        pending_approvals=state.pending_approvals,
        workflow_changes=changes,
        hint=hint or _hint(plan, short),
    )
    return RunView(record, context, workflow, filled, selection, now, busy=busy is not None)


def _refusal(
    status: str, plan: progress.Plan, changes: list[str], busy: str | None, short: str, force: bool
) -> tuple[str | None, str | None]:
    """Why the run may not continue now, and the command that helps; (None, None) when it may."""
    if status == "completed":
        return (f"run {short} is completed: there is nothing to resume; start a new run of the same work "
                f"with `faber run --rerun {short} [--param key=value]`"), f"faber run --rerun {short}"
    if busy:
        return busy, None
    if plan.next_action == "await_approval":
        return (f"run {short} waits for approval of {plan.phase}: `faber runs approve {short}` "
                f"(or `--deny --reason ...`), then resume it"), f"faber runs approve {short}"
    if changes and not force:
        reason = (f"the workflow changed since run {short} started: {'; '.join(changes)}. Resume with --force "
                  f"to continue with the new definition, or start a new run with --rerun")
        return reason, f"faber run --resume {short} --force"
    return None, None


def _unfinished_before(
    state: Any, workflow: ResolvedWorkflow, selection: progress.Selection, step: str, short: str
) -> tuple[str | None, str | None]:
    plain = progress.Selection(phases=selection.phases, autonomy=selection.autonomy)
    earlier = []
    for candidate in workflow.steps():
        if candidate.key == step:
            break
        phase = workflow.phase(candidate.phase)
        if plain.includes(phase) and not progress.step_done(state, workflow, candidate, plain):
            earlier.append(candidate.key)
    if not earlier:
        return None, None
    return (f"steps before {step} are not completed ({', '.join(earlier[:5])}); resuming at {step} would leave "
            f"them undone: add --force to do it anyway"), f"faber run --resume {short} --step {step} --force"


def _hint(plan: progress.Plan, short: str) -> str:
    if plan.next_action == "run_step" and plan.step is not None:
        if plan.step.kind == "run":
            return f"`faber run --resume {short}` runs {plan.step.key} next"
        return (f"execute {plan.step.key} (record step_start, then step_complete or step_error), or run "
                f"`faber run --resume {short}` where an executor for {plan.step.kind} steps is installed")
    if plan.next_action == "close_phase":
        return f"record phase_complete for {plan.phase}, or `faber run --resume {short}`"
    if plan.next_action == "request_approval":
        return (f"{plan.phase} needs a person's approval: `faber run --resume {short}` asks for it (or record "
                f"approval_request), then `faber runs approve {short}`")
    if plan.next_action == "end_denied":
        return (f"{plan.phase} was denied: `faber run --resume {short}` ends the run, or "
                f"`faber runs approve {short} --phase {plan.phase}` changes the decision")
    return f"every step is done: record workflow_complete, or `faber run --resume {short}`"


def _check_step(workflow: ResolvedWorkflow, metadata: RunMetadata, key: str) -> None:
    phase, separator, step_id = key.partition(":")
    if not separator or phase not in PHASES or not step_id:
        raise InvalidInput(f"--step {key[:80]!r} must look like phase:step, for example build:implement")
    step = workflow.find_step(key)
    if step is None:
        known = ", ".join(s.key for s in workflow.phase(phase).steps) or "none"
        raise InvalidInput(f"workflow {workflow.id} has no step {key!r} (steps of {phase}: {known})")
    if phase not in metadata.phases or not workflow.phase(phase).enabled:
        raise InvalidInput(f"phase {phase} is not part of run {_short(metadata.run_id)} (disabled or not selected)")


def begin_resume(log: RunLog, view: RunView, *, force: bool) -> tuple[RunView, ResumeFrom]:
    """Record that the run continues: ``workflow_start`` for a run that never started (a new run, a
    re-run created without executing), else ask the backends (``faber_on_resume``) and record
    ``workflow_resumed``. Returns the run as it now stands and the point it continues from."""
    context = view.context
    if not context.resumable:
        assert context.reason is not None
        if view.busy:
            raise RunBusy(context.reason)
        raise NotResumable(context.reason)
    assert view.workflow is not None and view.fingerprint_now is not None
    metadata, state = view.record.metadata, view.record.state
    resume_from = context.resume_from or ResumeFrom(event_id=state.last_event_id)
    recorded = metadata.workflow_fingerprint
    if state.started_at is None and state.status == "pending":  # never started: this is its start
        _record_start(log, metadata, view.workflow, view.fingerprint_now)
    else:
        log.gateway.on_resume(view.record, context)
        details: dict[str, Any] = {
            "resume_from": resume_from.model_dump(mode="json"),
            "completed_steps": [f"{p}:{s}" for p, steps in context.completed_steps.items() for s in steps],
            "completed_phases": context.completed_phases,
            "previous_status": state.status,
            "workflow_hash": view.fingerprint_now.hash,
        }
        if view.selection and view.selection.start_at:
            details["start_at"] = view.selection.start_at
        if context.workflow_changes:
            details["workflow_changes"] = context.workflow_changes
            details["forced"] = force
        log.emit(metadata.run_id, {
            "type": "workflow_resumed", "phase": resume_from.phase, "step": resume_from.step, "status": "resumed",
            "message": f"resumed at {_where(resume_from)} (was {state.status})", "metadata": details,
        }, source=SOURCE)
    if recorded is None or recorded.hash != view.fingerprint_now.hash:
        now = view.fingerprint_now
        log.gateway.store.update_metadata(metadata.run_id, lambda current: current.model_copy(
            update={"workflow_fingerprint": now}))
    return inspect(log, metadata.run_id, step=view.selection.start_at if view.selection else None,
                   force=True, holding_lock=True), resume_from


def _record_start(log: RunLog, metadata: RunMetadata, workflow: ResolvedWorkflow, now: WorkflowFingerprint) -> None:
    log.emit(metadata.run_id, {
        "type": "workflow_start", "status": "started",
        "message": f"starting workflow {workflow.id} for work {metadata.work_id}",
        "metadata": {
            "work_id": metadata.work_id, "workflow_id": workflow.id, "workflow_hash": now.hash,
            "inheritance_chain": workflow.inheritance_chain, "autonomy": metadata.autonomy,
            "phases": metadata.phases, "params": metadata.params,
        },
    }, source=SOURCE)


def check_run_settings(params: dict[str, Any], phases: list[str] | None, autonomy: str | None) -> None:
    """Refuse parameters, phases or an autonomy level a run cannot have."""
    reserved = RESERVED_PARAMS & params.keys()
    if reserved:
        name = sorted(reserved)[0]
        raise InvalidInput(f"--param {name} is reserved: {{{name}}} is filled from the run itself")
    upper: dict[str, str] = {}
    for name in params:
        if name.upper() in upper:
            raise InvalidInput(
                f"parameters {upper[name.upper()]!r} and {name!r} would both be FABER_PARAM_{name.upper()}"
            )
        upper[name.upper()] = name
    for phase in phases or []:
        if phase not in PHASES:
            raise InvalidInput(f"unknown phase {phase!r} in --phases: use {', '.join(PHASES)}")
    if phases is not None and not phases:
        raise InvalidInput("--phases needs at least one phase")
    if autonomy is not None:
        autonomy_level(autonomy)


def create_run(
    log: RunLog, workflow_ref: str, work_id: str, *, params: dict[str, Any], phases: list[str] | None,
    autonomy: str | None, org: str | None, project: str | None,
) -> tuple[RunMetadata, ResolvedWorkflow]:
    """A new run of a workflow (checked before anything is stored), not started yet."""
    check_run_settings(params, phases, autonomy)
    workflow = resolve_workflow(WorkflowLibrary(log.project), workflow_ref)
    check_placeholders(workflow, set(params) | RESERVED_PARAMS)
    metadata = log.new_run(
        work_id, workflow_id=workflow.id, params=params, phases=_ordered(phases), org=org, project=project,
        autonomy=autonomy_level(autonomy or workflow.autonomy.level), workflow_fingerprint=fingerprint(workflow),
    )
    return metadata, workflow


def create_rerun(
    log: RunLog, ref: str, *, params: dict[str, Any], phases: list[str] | None, autonomy: str | None,
    work_id: str | None,
) -> tuple[RunMetadata, ResolvedWorkflow, list[str]]:
    """A new run of the same work with changed parameters, linked to the original both ways."""
    check_run_settings(params, phases, autonomy)
    original = log.run(ref).metadata
    workflow = load_workflow_for(log, original)
    merged = {**original.params, **params}
    changes = {
        name: ParameterChange(from_=original.params.get(name), to=value)
        for name, value in params.items() if original.params.get(name) != value
    }
    # A run started without one ran at the workflow's; an alias stored before is read as its level.
    ran_with = original.autonomy or workflow.autonomy.level
    ran_with = AUTONOMY_ALIASES.get(ran_with, ran_with)
    new_autonomy = autonomy_level(autonomy or ran_with)
    new_phases = _ordered(phases) or list(original.phases)
    new_work_id = work_id or original.work_id
    settings: dict[str, tuple[Any, Any]] = {
        "autonomy": (ran_with, new_autonomy),
        "phases": (list(original.phases), new_phases),
        "work_id": (original.work_id, new_work_id),
    }
    for name, (before, after) in settings.items():
        if before != after:
            changes[name] = ParameterChange(from_=before, to=after)
    if not new_work_id:
        raise InvalidInput(f"run {_short(original.run_id)} has no work id; give one with --work-id")
    check_placeholders(workflow, set(merged) | RESERVED_PARAMS)
    now = fingerprint(workflow)
    run_id = RunId.parse(original.run_id)
    metadata = log.new_run(
        new_work_id, workflow_id=original.workflow_id or workflow.id, params=merged,
        phases=new_phases, org=run_id.org, project=run_id.project, target=original.target,
        autonomy=new_autonomy, source_type=original.source_type,
        relationships=Relationships(rerun_of=original.run_id, parent_run_id=original.run_id),
        root_run_id=original.root_run_id or original.run_id, workflow_fingerprint=now, parameter_changes=changes,
    )
    # The changes as stored (screened: a secret among them is redacted), not as given.
    changes = metadata.parameter_changes
    shown = ", ".join(f"{k}: {c.from_!r} → {c.to!r}" for k, c in changes.items()) or "no parameter changed"
    details: dict[str, Any] = {
        "rerun_of": original.run_id, "parent_run_id": original.run_id, "root_run_id": metadata.root_run_id,
        "parameter_changes": {name: change.model_dump(mode="json", by_alias=True) for name, change in changes.items()},
    }
    if original.workflow_fingerprint and original.workflow_fingerprint.hash != now.hash:
        details["workflow_changes"] = describe_changes(original.workflow_fingerprint, now)
    log.emit(metadata.run_id, {
        "type": "workflow_rerun", "status": "created", "message": f"re-run of {original.run_id} ({shown})",
        "metadata": details,
    }, source=SOURCE)
    warnings: list[str] = []
    try:
        def add_child(current: RunMetadata) -> RunMetadata:
            children = [*current.relationships.child_runs, metadata.run_id]
            return current.model_copy(update={"relationships": current.relationships.model_copy(
                update={"child_runs": list(dict.fromkeys(children))})})

        log.gateway.store.update_metadata(original.run_id, add_child)
    except FaberError as problem:
        warnings.append(f"the new run was created, but {original.run_id}'s child_runs could not be updated: {problem}")
    return metadata, workflow, warnings


def _ordered(phases: list[str] | None) -> list[str] | None:
    return None if phases is None else [phase for phase in PHASES if phase in phases]


def execute(
    log: RunLog, run_id: str, *, started: Literal["start", "resume", "rerun"], display: Display, scope: CancelScope,
    step: str | None = None, force: bool = False, rerun: RerunResult | None = None,
) -> RunOutcome:
    """Take the run's executor lock, record the start or resume, run the loop, say how it ended."""
    import time

    began = time.monotonic()
    with RunnerLock(log.project, RunId.parse(run_id)):
        view = inspect(log, run_id, step=step, force=force, holding_lock=True)
        view, resume_from = begin_resume(log, view, force=force)
        assert view.filled is not None and view.selection is not None
        metadata = view.record.metadata
        how = {"start": "started", "resume": f"resumed at {_where(resume_from)}",
               "rerun": f"re-run of {_short(rerun.original_run_id) if rerun else '?'}"}[started]
        display.start(metadata.run_id, view.filled.id, metadata.work_id, how)
        runner = WorkflowRunner(log, metadata, view.filled, view.selection, display, scope)
        result = runner.execute(view.record.state)
    return RunOutcome(
        run_id=metadata.run_id, status=result.status, message=result.message, hint=result.hint,
        exit_code=result.exit_code, workflow_id=view.filled.id, work_id=metadata.work_id, started=started,
        resume_from=resume_from if started == "resume" else None,
        rerun_of=rerun.original_run_id if rerun else None,
        parameter_changes=rerun.parameter_changes if rerun else {},
        steps_run=result.steps_run, failed_step=result.failed_step, waiting_for=result.waiting_for,
        duration_ms=int((time.monotonic() - began) * 1000), warnings=result.warnings,
    )


def _where(resume_from: ResumeFrom) -> str:
    if resume_from.step:
        return f"{resume_from.phase}:{resume_from.step}"
    return resume_from.phase or "the end"


def approve(
    log: RunLog, ref: str, *, deny: bool, reason: str | None, phase: str | None, user: str | None
) -> ApprovalResult:
    """Record a person's decision on a run's approval gate."""
    record = log.run(ref)
    state, run_id = record.state, record.metadata.run_id
    short = _short(run_id)
    if state.status == "completed":
        raise NotResumable(f"run {short} is completed: there is nothing to approve")
    if phase is not None and phase not in PHASES:
        raise InvalidInput(f"unknown phase {phase!r}: use one of {', '.join(PHASES)}")
    target = phase
    if target is None and state.pending_approvals:
        target = state.pending_approvals[0].phase
    if target is None:
        denied = [d for d in state.approvals if d.decision == "denied"]
        target = denied[-1].phase if denied else None
    if target is None:
        raise InvalidInput(
            f"run {short} has no pending approval request; name the phase with --phase to decide ahead of the gate"
        )
    request = next((r for r in state.pending_approvals if r.phase == target), None)
    fields: dict[str, Any] = {
        "type": "approval_denied" if deny else "approval_granted", "phase": target,
        "status": "denied" if deny else "granted", "message": reason,
        "metadata": {"request_event_id": request.event_id} if request else None,
    }
    if user:
        fields["user"] = user
    stored = log.emit(run_id, {k: v for k, v in fields.items() if v is not None}, source="faber-approve")
    hint = (f"`faber run --resume {short}` records that the run ends as denied" if deny
            else f"`faber run --resume {short}` continues with {target}")
    return ApprovalResult(run_id=run_id, phase=target, decision="denied" if deny else "granted",
                          event_id=stored.event.event_id, by=stored.event.user, reason=reason, hint=hint)


def _short(run_id: str) -> str:
    return run_id.rsplit("/", 1)[-1][:8]

"""The execution loop of ``faber run``: walk the workflow and do what the run's state says is not done
(phase_skip, approval gates, phase_start, step_start/step_retry/step_complete/step_error, phase_complete,
then workflow_complete, _error, _paused or _cancelled). Every decision reads the state (``progress``),
so the same loop starts and resumes a run, and a completed step never runs again."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from faber_hookspecs.events import EventError
from faber_hookspecs.execution import RunCancelled, StepContext, StepResult
from faber_hookspecs.metadata import RunMetadata
from faber_hookspecs.state import RunState
from faber_hookspecs.workflow import ResolvedPhase, ResolvedStep, ResolvedWorkflow

from ..archive.archiver import after_complete
from ..workflows.placeholders import environment_variable
from . import progress
from .cancel import CancelScope
from .display import Display
from .outcome import EXIT_CODES, OutcomeStatus

if TYPE_CHECKING:
    from ..runlog import RunLog

SOURCE = "faber-run"


@dataclass
class Stop(Exception):
    """The loop ends early: paused, failed or denied, with what to tell the user."""

    status: OutcomeStatus
    message: str
    hint: str | None = None
    where: str | None = None


@dataclass
class Result:
    """What one pass of the loop did."""

    status: OutcomeStatus = "completed"
    message: str = ""
    hint: str | None = None
    exit_code: int = 0
    steps_run: list[str] = field(default_factory=list)
    failed_step: str | None = None
    waiting_for: str | None = None
    warnings: list[str] = field(default_factory=list)


class WorkflowRunner:
    """Executes one run of a resolved workflow (placeholders filled) from its current state."""

    def __init__(
        self, log: RunLog, metadata: RunMetadata, workflow: ResolvedWorkflow, selection: progress.Selection,
        display: Display, scope: CancelScope,
    ) -> None:
        self.log = log
        self.metadata = metadata
        self.run_id = metadata.run_id
        self.short = metadata.run_id.rsplit("/", 1)[-1][:8]
        self.workflow = workflow
        self.selection = selection
        self.display = display
        self.scope = scope
        self.result = Result()
        self.state: RunState

    def execute(self, state: RunState) -> Result:
        """Run whatever is not done yet; return how it ended. Never raises for a step's failure."""
        self.state = state
        try:
            self._walk()
            self._emit("workflow_complete", status="completed", message="all phases finished",
                       duration_ms=self._since(self.state.started_at))
            self.result.message = f"run {self.run_id} completed"
            self._archive_on_complete()
        except Stop as stop:
            self.result.status, self.result.message, self.result.hint = stop.status, stop.message, stop.hint
            if stop.status == "failed":
                self.result.failed_step = stop.where
            elif stop.status == "paused":
                self.result.waiting_for = stop.where
        except RunCancelled as cancel:
            self._cancelled(cancel)
        self.result.exit_code = EXIT_CODES.get(self.result.status, self.result.exit_code)
        return self.result

    def _walk(self) -> None:
        for phase in self.workflow.phases:
            if progress.phase_done(self.state, self.workflow, phase, self.selection):
                continue
            if not self.selection.includes(phase):
                self._skip_phase(phase)
                continue
            todo = [s for s in phase.steps if not progress.step_done(self.state, self.workflow, s, self.selection)]
            if todo:
                self._gate(phase)
                if self.state.phases[phase.name].status != "in_progress":
                    self._emit("phase_start", phase=phase.name, status="started")
                    self.display.phase(phase.name, "started")
                for step in todo:
                    self._run_step(step)
            self._emit("phase_complete", phase=phase.name, status="completed",
                       duration_ms=self._since(self.state.phases[phase.name].started_at))
            self.display.phase(phase.name, "completed")

    def _skip_phase(self, phase: ResolvedPhase) -> None:
        if not phase.enabled:
            reason = "disabled in the workflow"
        elif phase.name not in self.selection.phases:
            reason = "not selected for this run"
        else:
            reason = "no steps"
        self._emit("phase_skip", phase=phase.name, status="skipped", message=reason)
        self.display.phase(phase.name, "skipped", reason)

    def _gate(self, phase: ResolvedPhase) -> None:
        gate = progress.approval_gate(self.state, self.workflow, phase, self.selection.autonomy)
        if gate in ("not_needed", "granted"):
            return
        approve = f"faber runs approve {self.short}"
        if gate == "denied":
            decision = next(d for d in reversed(self.state.approvals) if d.phase == phase.name)
            why = f": {decision.reason}" if decision.reason else ""
            message = f"{phase.name} was denied by {decision.by or 'someone'}{why}; the run ends here"
            self._emit("workflow_cancelled", phase=phase.name, status="denied", message=message,
                       metadata={"approval_event_id": decision.event_id})
            raise Stop("denied", f"run {self.run_id} ended: {message}",
                       hint=f"faber run --rerun {self.short}  (a new run), or {approve} and resume")
        if gate == "none":
            self._emit("approval_request", phase=phase.name, status="waiting",
                       message=f"{phase.name} needs a person's approval (autonomy {self.selection.autonomy})")
        message = f"waiting for approval of {phase.name}: {approve} (or --deny --reason ...)"
        self._emit("workflow_paused", phase=phase.name, status="waiting_for_approval", message=message)
        self.display.note(message)
        raise Stop("paused", f"run {self.run_id} paused before {phase.name}: it needs approval",
                   hint=f"{approve} && faber run --resume {self.short}", where=phase.name)

    def _run_step(self, step: ResolvedStep) -> None:
        where = dict(phase=step.phase, step=step.id)
        if self.selection.autonomy == "dry-run":
            self._emit("step_skip", **where, status="skipped", message=f"dry run: would run {step.kind} step")
            self.display.step_finished(step, "skipped", None, "dry run")
            return
        attempts = step.retries + 1
        error: dict[str, Any] = {}
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                self._emit("step_retry", **where, retry_attempt=attempt - 1, status="retrying",
                           message=f"attempt {attempt} of {attempts}")
                self.display.note(f"retrying {step.key} (attempt {attempt} of {attempts})")
            self._emit("step_start", **where, status="started", message=step.name,
                       metadata={"attempt": attempt, "kind": step.kind, "position": step.position})
            self.display.step_started(step, attempt, attempts)
            self.result.steps_run.append(step.key)
            result = self._execute(step, attempt, attempts)
            if result is None:
                self._paused_for_agent(step)
            details: dict[str, Any] = {"attempt": attempt, "executor": result.executor, **result.metadata}
            if result.exit_code is not None:
                details["exit_code"] = result.exit_code
            if result.output_tail:
                details["output_tail"] = result.output_tail
            artifacts = [a.model_dump(mode="json", exclude_none=True) for a in result.artifacts] or None
            if result.status == "completed":
                self._emit("step_complete", **where, status="completed", duration_ms=result.duration_ms,
                           metadata=details, artifacts=artifacts)
                self.display.step_finished(step, "completed", result.duration_ms)
                return
            error = (result.error.model_dump(mode="json", exclude_none=True) if result.error
                     else {"code": "STEP_FAILED", "message": "the step failed", "recoverable": True})
            self._emit("step_error", **where, status="failed", duration_ms=result.duration_ms, error=error,
                       metadata=details, artifacts=artifacts)
            self.display.step_finished(step, "failed", result.duration_ms, error["message"])
        self._emit("workflow_error", phase=step.phase, step=step.id, status="failed",
                   message=f"{step.key} failed", error={"code": "STEP_FAILED", "recoverable": True,
                                                       "message": f"{step.key} failed: {error['message']}"})
        raise Stop("failed", f"run {self.run_id} failed at {step.key} ({error['message']})",
                   hint=f"fix the cause, then: faber run --resume {self.short}", where=step.key)

    def _execute(self, step: ResolvedStep, attempt: int, attempts: int) -> StepResult | None:
        context = StepContext(
            run_id=self.run_id,
            work_id=self.metadata.work_id,
            workflow_id=self.workflow.id,
            phase=step.phase,
            attempt=attempt,
            max_attempts=attempts,
            params={name: str(value) for name, value in self.metadata.params.items()},
            working_directory=str(self.log.project.root),
            environment=step_environment(self.log, self.metadata, self.workflow, step, attempt),
        )
        started = time.monotonic()
        try:
            result = self.log.gateway.execute_step(step, context, self.display.output)
        except Exception as problem:  # an executor's own failure fails the step, not the run's bookkeeping
            return _executor_error(f"the executor raised {type(problem).__name__}: {problem}", started)
        if result is not None and not isinstance(result, StepResult):
            return _executor_error(f"an executor returned {type(result).__name__}, not a StepResult", started)
        return result

    def _paused_for_agent(self, step: ResolvedStep) -> NoReturn:
        what = {"command": f"command {step.command}", "prompt": "a prompt", "skill": f"skill {step.skill}"}
        message = (
            f"{step.key} is an agent step ({what.get(step.kind, step.kind)}) and no installed executor runs it: "
            f"drive it through the MCP server (`faber mcp`: resume_context, then emit step_complete) or install "
            f"an executor plugin, then `faber run --resume {self.short}`"
        )
        self._emit("workflow_paused", phase=step.phase, step=step.id, status="waiting_for_agent", message=message,
                   metadata={"reason": "no_executor", "kind": step.kind})
        self.display.step_finished(step, "paused", None, "waiting for an agent")
        raise Stop("paused", f"run {self.run_id} paused at {step.key}: it needs an agent",
                   hint=f"faber runs resume-context {self.short} --json", where=step.key)

    def _cancelled(self, cancel: RunCancelled) -> None:
        phase, step = self.state.current_phase, self.state.current_step
        running = phase is not None and any(
            s.id == step and s.status in ("in_progress", "retrying") for s in self.state.phases[phase].steps
        )
        message = f"cancelled by {cancel.signal_name}"
        try:
            self._emit("workflow_cancelled", phase=phase, step=step if running else None, status="cancelled",
                       message=message, metadata={"signal": cancel.signal_name})
        except RunCancelled:  # pragma: no cover - the scope ignores signals once cancelling
            pass
        self.result.status = "cancelled"
        self.result.exit_code = cancel.exit_code
        self.result.message = f"run {self.run_id} {message}; it can be resumed"
        self.result.hint = f"faber run --resume {self.short}"

    def _emit(self, kind: str, **fields: Any) -> None:
        draft = {"type": kind, **{key: value for key, value in fields.items() if value is not None}}
        with self.scope.shielded():
            stored = self.log.emit(self.run_id, draft, source=SOURCE)
        self.state = stored.state
        for warning in stored.warnings:
            self.result.warnings.append(warning)
            self.display.note(f"warning: {warning}")

    def _archive_on_complete(self) -> None:
        """Archiving is its own step after the final event: shown, and a failure is a warning that
        names the command to finish it (the run is complete either way)."""
        with self.scope.shielded():
            done = after_complete(self.log, self.run_id)
        if done is None:
            return
        if done.failed:
            self.result.warnings.append(done.message)
            self.display.note(f"warning: {done.message}")
        else:
            self.display.note(done.message)

    def _since(self, timestamp: str | None) -> int | None:
        if not timestamp:
            return None
        started = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
        return max(0, int((time.time() - started) * 1000))


def step_environment(
    log: RunLog, metadata: RunMetadata, workflow: ResolvedWorkflow, step: ResolvedStep, attempt: int
) -> dict[str, str]:
    """The FABER_* variables a step sees; a ``run`` command's placeholders refer to them."""
    environment = {
        "FABER_RUN_ID": metadata.run_id,
        "FABER_WORK_ID": metadata.work_id or "",
        "FABER_WORKFLOW": workflow.id,
        "FABER_PHASE": step.phase,
        "FABER_STEP": step.id,
        "FABER_ATTEMPT": str(attempt),
        "FABER_ROOT": str(log.project.root),
    }
    for name, value in metadata.params.items():
        environment[environment_variable(name)] = str(value)
    return environment


def _executor_error(message: str, started: float) -> StepResult:
    return StepResult(
        status="failed", executor="unknown", duration_ms=int((time.monotonic() - started) * 1000),
        error=EventError(code="EXECUTOR_ERROR", message=message, recoverable=True),
    )

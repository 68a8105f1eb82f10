"""Where a run stands against its workflow, from its state alone (not its log, so it stays fast): the
runner's loop asks the same questions, so what ``resume-context`` promises is what ``--resume`` does.
A step is done when completed or skipped; ``start_at`` reopens that step and every later one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from faber_hookspecs.catalogue import PHASES
from faber_hookspecs.resume import NextAction
from faber_hookspecs.state import PhaseState, RunState, StepState
from faber_hookspecs.workflow import AutonomyLevel, ResolvedPhase, ResolvedStep, ResolvedWorkflow

DONE = frozenset({"completed", "skipped"})

GateDecision = Literal["none", "granted", "denied", "requested", "not_needed"]


@dataclass(frozen=True)
class Selection:
    """What a run executes of its workflow: its phases and autonomy, and where it (re)starts."""

    phases: frozenset[str] = frozenset(PHASES)
    autonomy: AutonomyLevel = "guarded"
    start_at: str | None = None  # phase:step

    def includes(self, phase: ResolvedPhase) -> bool:
        """True when the phase has something to run in this run."""
        return phase.enabled and phase.name in self.phases and bool(phase.steps)


@dataclass
class Plan:
    """What is done and what comes next."""

    next_action: NextAction
    phase: str | None = None
    step: ResolvedStep | None = None
    completed_phases: list[str] = field(default_factory=list)
    completed_steps: dict[str, list[str]] = field(default_factory=dict)
    remaining: list[ResolvedStep] = field(default_factory=list)


def step_state(state: RunState, step: ResolvedStep) -> StepState | None:
    """The state of ``step``, or None when no event mentioned it yet."""
    return next((s for s in state.phases[step.phase].steps if s.id == step.id), None)


def step_done(state: RunState, workflow: ResolvedWorkflow, step: ResolvedStep, selection: Selection) -> bool:
    """True when the step need not run (again) in this run."""
    if selection.start_at is not None and _at_or_after(workflow, step.key, selection.start_at):
        return False
    current = step_state(state, step)
    return current is not None and current.status in DONE


def phase_done(state: RunState, workflow: ResolvedWorkflow, phase: ResolvedPhase, selection: Selection) -> bool:
    """True when the phase is closed (completed or skipped) and ``start_at`` does not reopen it."""
    if selection.start_at is not None and PHASES.index(phase.name) >= PHASES.index(selection.start_at.split(":")[0]):
        return False
    return state.phases[phase.name].status in DONE


def needs_approval(workflow: ResolvedWorkflow, phase: ResolvedPhase, level: AutonomyLevel) -> bool:
    """True when the phase waits for a person before it starts, at this autonomy level."""
    if level in ("assist", "assisted"):
        return True
    if level != "guarded":
        return False
    autonomy = workflow.autonomy
    return (
        phase.require_approval
        or phase.name in autonomy.require_approval_for
        or (phase.name == "release" and bool(autonomy.pause_before_release))
    )


def approval_gate(
    state: RunState, workflow: ResolvedWorkflow, phase: ResolvedPhase, level: AutonomyLevel
) -> GateDecision:
    """Where the phase's approval stands: not needed (or the phase already started), granted or denied
    (the latest decision counts), requested and waiting, or not asked for yet."""
    phase_state: PhaseState = state.phases[phase.name]
    if phase_state.status != "pending" or not needs_approval(workflow, phase, level):
        return "not_needed"
    decisions = [decision for decision in state.approvals if decision.phase == phase.name]
    if decisions:
        return decisions[-1].decision
    if any(request.phase == phase.name for request in state.pending_approvals):
        return "requested"
    return "none"


def plan(state: RunState, workflow: ResolvedWorkflow, selection: Selection) -> Plan:
    """What the run needs next, and what is done, from its state alone."""
    result: Plan | None = None
    completed_phases: list[str] = []
    completed_steps: dict[str, list[str]] = {}
    remaining: list[ResolvedStep] = []
    for phase in workflow.phases:
        done_steps = [step for step in phase.steps if step_done(state, workflow, step, selection)]
        if done_steps:
            completed_steps[phase.name] = [step.id for step in done_steps]
        if not selection.includes(phase) or phase_done(state, workflow, phase, selection):
            if state.phases[phase.name].status == "completed":
                completed_phases.append(phase.name)
            continue
        todo = [step for step in phase.steps if step not in done_steps]
        remaining += todo
        if result is not None:
            continue
        if not todo:
            result = Plan("close_phase", phase=phase.name)
            continue
        gate = approval_gate(state, workflow, phase, selection.autonomy)
        if gate == "none":
            result = Plan("request_approval", phase=phase.name)
        elif gate == "requested":
            result = Plan("await_approval", phase=phase.name)
        elif gate == "denied":
            result = Plan("end_denied", phase=phase.name)
        else:
            result = Plan("run_step", phase=phase.name, step=todo[0])
    result = result or Plan("finish")
    result.completed_phases = completed_phases
    result.completed_steps = completed_steps
    result.remaining = remaining
    return result


def _at_or_after(workflow: ResolvedWorkflow, key: str, start_at: str) -> bool:
    order = [step.key for step in workflow.steps()]
    return order.index(key) >= order.index(start_at)

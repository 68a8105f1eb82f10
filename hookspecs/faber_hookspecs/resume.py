"""Where a run continues: ``ResumeContext`` is what ``resume-context --json``, the MCP server and
``faber_on_resume`` all get (its schema is generated)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .events import Phase
from .state import ApprovalRequest, RunStatus
from .workflow import StepKind

NextAction = Literal["run_step", "close_phase", "request_approval", "await_approval", "end_denied", "finish", "none"]
"""What the run needs next: execute ``next_step``; record phase_complete for a phase whose steps are
all done; record approval_request for a phase that needs a person's approval (then wait); wait for
that approval (``faber runs approve``); record that a denied approval ends the run; record
workflow_complete; or nothing (the run is completed)."""


class ResumeFrom(BaseModel):
    """The point a run continues from: the first step, in workflow order, that is not completed.

    ``event_id`` is the last event recorded before the resume: the log up to it is what the
    decision was made from. ``step`` is None when a phase only needs closing or the run finishing.
    """

    phase: Phase | None = None
    step: str | None = None
    event_id: int = Field(ge=0)


class NextStep(BaseModel):
    """The step to execute next, with its placeholders filled from the run's parameters."""

    phase: Phase
    id: str
    name: str | None = None
    description: str | None = None
    kind: StepKind
    run: str | None = None
    command: str | None = None
    prompt: str | None = None
    skill: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    retries: int = 0
    timeout: float | None = None
    status: str = Field("pending", description="The step's status so far: pending, failed, in_progress...")
    attempts: int = Field(0, description="Attempts recorded so far.")


class ResumeContext(BaseModel):
    """What is done, what is next, and whether the run can be resumed (and if not, why not).

    An agent that drives steps itself records ``step_start`` and then ``step_complete`` or
    ``step_error`` for ``next_step``, and asks again.
    """

    run_id: str
    work_id: str | None = None
    workflow_id: str | None = None
    status: RunStatus
    resumable: bool
    reason: str | None = Field(None, description="Why the run cannot be resumed now, and what to do.")
    next_action: NextAction
    resume_from: ResumeFrom | None = None
    next_step: NextStep | None = None
    completed_phases: list[Phase] = Field(default_factory=list)
    completed_steps: dict[Phase, list[str]] = Field(default_factory=dict)
    remaining_steps: list[str] = Field(default_factory=list, description="phase:step, in the order they run.")
    pending_approvals: list[ApprovalRequest] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    autonomy: str | None = None
    workflow_hash: str | None = Field(None, description="The definition hash recorded when the run started.")
    workflow_changes: list[str] = Field(
        default_factory=list, description="How the workflow changed since it started; resuming then needs force."
    )
    last_event_id: int = 0
    hint: str = Field("", description="What to do next, in one sentence.")

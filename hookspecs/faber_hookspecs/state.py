"""The run state model: the typed view of state.json, which ``reducer.py`` computes from events.

state.json holds the fields of the FABER reference state (run_id, work_id, workflow_version, status,
current_phase, last_event_id, started_at, updated_at, completed_at, phases, artifacts, errors) plus the
ones faber-host adds. Older files (the reference's) lack some of them, so everything added has a
default and unknown keys are kept.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from .events import OpenModel, Phase

RunStatus = Literal["pending", "in_progress", "paused", "completed", "failed", "cancelled"]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
"""The statuses a run can have, in lifecycle order: what ``runs list --status`` accepts."""
StepStatus = Literal["pending", "in_progress", "retrying", "completed", "failed", "skipped", "cancelled"]


class StepError(BaseModel):
    """The last error of a step."""

    event_id: int
    code: str | None = None
    message: str | None = None


class StepState(OpenModel):
    """A step as the events tell it: status, attempts, retries and times."""

    id: str
    name: str | None = Field(None, description="The step id again: the FABER reference's readers key steps by name.")
    status: StepStatus = "pending"
    attempts: int = 0
    retries: int = 0
    started_at: str | None = None
    completed_at: str | None = None
    duration_ms: int | None = None
    last_error: StepError | None = None


class PhaseState(OpenModel):
    """A phase: its status, times and steps in the order they first ran."""

    status: Literal["pending", "in_progress", "completed", "failed", "skipped"] = "pending"
    started_at: str | None = None
    completed_at: str | None = None
    duration_ms: int | None = None
    retry_count: int = 0
    steps: list[StepState] = Field(default_factory=list)


class ErrorRecord(OpenModel):
    """An error some event reported."""

    event_id: int
    timestamp: str
    type: str
    phase: Phase | None = None
    step: str | None = None
    code: str | None = None
    message: str | None = None
    recoverable: bool | None = None


class ApprovalRequest(BaseModel):
    """An approval the run waits for."""

    event_id: int
    requested_at: str
    phase: Phase | None = None
    step: str | None = None
    message: str | None = None


class ApprovalDecision(BaseModel):
    """An approval a person granted or denied."""

    event_id: int
    decision: Literal["granted", "denied"]
    decided_at: str
    phase: Phase | None = None
    by: str | None = None
    reason: str | None = None


class ResumePoint(BaseModel):
    """Where a resumed run continued."""

    event_id: int
    timestamp: str
    phase: Phase | None = None
    step: str | None = None


class RunState(OpenModel):
    """The state of a run: a pure function of its events (see ``faber_hookspecs.reducer``)."""

    run_id: str
    work_id: str | None = None
    work_type: str | None = Field(None, description="What kind of work (feature, bug...): the run parameter "
                                                    "work_type, or the latest event metadata naming one.")
    workflow_id: str | None = None
    workflow_version: str = "2.1"
    reducer_version: int | None = Field(
        None, description="Version of the reducer that wrote this state; absent in reference files."
    )
    status: RunStatus = "pending"
    current_phase: Phase | None = None
    current_step: str | None = None
    last_event_id: int = Field(0, ge=0)
    reduced_event_id: int | None = Field(
        None, description="The last event this state was computed through. The FABER reference's writers "
                          "set last_event_id alone: when the two differ, the file does not reflect the events."
    )
    created_at: str | None = None
    started_at: str | None = None
    updated_at: str | None = None
    completed_at: str | None = None
    paused_reason: str | None = None
    phases: dict[Phase, PhaseState]
    artifacts: dict[str, dict[str, Any]] = Field(default_factory=dict)
    errors: list[ErrorRecord] = Field(default_factory=list)
    error_count: int = 0
    pending_approvals: list[ApprovalRequest] = Field(default_factory=list)
    approvals: list[ApprovalDecision] = Field(default_factory=list)
    resumes: list[ResumePoint] = Field(default_factory=list)

"""What the run commands of the Python API return: typed, with a stable JSON form (``model_dump``)."""

from __future__ import annotations

from typing import Literal

from faber_hookspecs.metadata import ParameterChange
from faber_hookspecs.resume import ResumeContext, ResumeFrom
from pydantic import BaseModel, Field

OutcomeStatus = Literal["completed", "failed", "paused", "cancelled", "denied"]

EXIT_CODES: dict[str, int] = {"completed": 0, "failed": 1, "paused": 3, "denied": 4}
"""``faber run``'s exit code per outcome; a cancelled run exits with 128 + the signal (130, 143)."""


class RunOutcome(BaseModel):
    """How one ``faber run`` (a start, a resume or a re-run) ended."""

    run_id: str
    status: OutcomeStatus
    message: str = Field(description="One sentence for a person.")
    hint: str | None = Field(None, description="The command to continue, when there is one.")
    exit_code: int = Field(description="0 completed, 1 failed, 3 paused, 4 denied, 130/143 cancelled.")
    workflow_id: str
    work_id: str | None = None
    started: Literal["start", "resume", "rerun"]
    resume_from: ResumeFrom | None = None
    rerun_of: str | None = None
    parameter_changes: dict[str, ParameterChange] = Field(default_factory=dict)
    steps_run: list[str] = Field(default_factory=list, description="phase:step executed by this invocation.")
    failed_step: str | None = None
    waiting_for: str | None = Field(None, description="The step or phase a paused run waits on.")
    duration_ms: int = 0
    warnings: list[str] = Field(default_factory=list)


class RerunResult(BaseModel):
    """A new run created from an earlier one (``faber runs rerun``), not executed yet."""

    original_run_id: str
    new_run_id: str
    parameter_changes: dict[str, ParameterChange] = Field(
        default_factory=dict, description="{key: {from, to}} for each parameter (or autonomy, phases, work_id) changed."
    )
    context: ResumeContext
    warnings: list[str] = Field(default_factory=list)


class ApprovalResult(BaseModel):
    """A recorded approval decision."""

    run_id: str
    phase: str
    decision: Literal["granted", "denied"]
    event_id: int
    by: str | None = None
    reason: str | None = None
    hint: str

"""What an executor gets and gives back through ``faber_execute_step``."""

from __future__ import annotations

import signal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .events import Artifact, EventError, Phase

OUTPUT_TAIL_LINES = 40
OUTPUT_TAIL_BYTES = 8192
"""How much of a step's output its step_complete or step_error event keeps (the last lines)."""


class StepContext(BaseModel):
    """The run a step belongs to, and how to run it. ``environment``: the FABER_* variables the step sees
    on top of its own (FABER_RUN_ID, _WORK_ID, _PHASE, _STEP, _ATTEMPT, _ROOT, FABER_PARAM_<NAME>)."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    work_id: str | None = None
    workflow_id: str
    phase: Phase
    attempt: int = Field(1, ge=1, description="1 for the first attempt, 2 for the first retry...")
    max_attempts: int = Field(1, ge=1)
    params: dict[str, str] = Field(default_factory=dict)
    working_directory: str = Field(description="The project root; steps run there.")
    environment: dict[str, str] = Field(default_factory=dict)


class StepResult(BaseModel):
    """How an attempt of a step ended. The host records it as step_complete or step_error."""

    status: Literal["completed", "failed"]
    executor: str = Field(description="Who ran the step, such as 'shell'.")
    duration_ms: int = Field(ge=0)
    exit_code: int | None = None
    output_tail: str | None = Field(None, description="The last lines of the step's output.")
    error: EventError | None = Field(None, description="What went wrong, when status is failed.")
    artifacts: list[Artifact] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict, description="Anything else worth recording.")


class RunCancelled(KeyboardInterrupt):
    """The run was cancelled (Ctrl-C, SIGTERM). A KeyboardInterrupt, so ``except Exception`` does not swallow
    it and Ctrl-C cleanup handles SIGTERM too; an executor stops what it started and lets it propagate."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"cancelled by {self.signal_name}")

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process ended by that signal."""
        return 128 + self.signum


def tail_of(lines: list[str]) -> str:
    """The last lines of an output, at most ``OUTPUT_TAIL_LINES`` lines and ``OUTPUT_TAIL_BYTES``."""
    text = "\n".join(lines[-OUTPUT_TAIL_LINES:])
    data = text.encode("utf-8")
    if len(data) > OUTPUT_TAIL_BYTES:
        text = "..." + data[-OUTPUT_TAIL_BYTES:].decode("utf-8", errors="ignore")
    return text

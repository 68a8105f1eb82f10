"""Workflow definitions in the FABER format (``WorkflowDefinition``, one file; its schema is generated)
and a workflow as ``faber run`` executes it (``ResolvedWorkflow``: ``extends`` merged, steps in order).
Reference keys faber does not act on are accepted; any other unknown key is an error, so a typo is caught."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .catalogue import AUTONOMY_ALIASES, AUTONOMY_LEVELS
from .errors import InvalidInput
from .events import Phase
from .metadata import WorkflowFingerprint
from .wire import STEP_PATTERN

__all__ = [  # WorkflowFingerprint lives in metadata.py and the autonomy levels in catalogue.py (what
    # every command loads); they belong here too
    "AUTONOMY_ALIASES", "AUTONOMY_LEVELS", "Autonomy", "PhaseDefinition", "ResolvedPhase", "ResolvedStep",
    "ResolvedWorkflow", "StepDefinition", "WorkflowDefinition", "WorkflowFingerprint",
]

WORKFLOW_ID_PATTERN = r"[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?"
WORKFLOW_REF_PATTERN = rf"(?:[a-z0-9][a-z0-9_-]*:)?{WORKFLOW_ID_PATTERN}"
"""A workflow named in ``extends``: ``core``, or with a namespace, ``fractary-faber:core``."""

AutonomyLevel = Literal["dry-run", "assist", "assisted", "guarded", "autonomous"]
"""dry-run records every step as skipped and runs nothing; assist(ed) asks for approval before every
phase; guarded before the phases in ``require_approval_for``; autonomous never asks."""

assert set(get_args(AutonomyLevel)) == {*AUTONOMY_LEVELS, *AUTONOMY_ALIASES}


def autonomy_level(text: str) -> str:
    """The level ``text`` names (an alias read as its level); InvalidInput for anything else."""
    level = AUTONOMY_ALIASES.get(text, text) if isinstance(text, str) else text
    if level not in AUTONOMY_LEVELS:
        raise InvalidInput(f"unknown autonomy level {str(text)[:40]!r}: use {', '.join(AUTONOMY_LEVELS)}")
    return level

StepKind = Literal["run", "command", "prompt", "skill"]
StepPosition = Literal["pre_step", "step", "post_step"]

_REFERENCE_ONLY = "Accepted for compatibility with the FABER reference; faber run does not act on it."
_STRICT = ConfigDict(extra="forbid", populate_by_name=True)


def _reference_key() -> Any:
    return Field(None, description=_REFERENCE_ONLY)


class StepDefinition(BaseModel):
    """One step of a phase, as written in a workflow file."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [{"required": [key]} for key in ("run", "command", "prompt", "skill")]
        },
    )

    id: str = Field(max_length=128, pattern=f"^{STEP_PATTERN}$", description="Unique across the resolved workflow.")
    name: str | None = Field(None, description="A display name.")
    description: str | None = Field(None, description="What the step does, for a person.")
    run: str | None = Field(None, min_length=1, description="A shell command; the built-in shell executor runs it.")
    command: str | None = Field(None, min_length=1, description="An agent command, such as /fractary-faber:build.")
    prompt: str | None = Field(None, min_length=1, description="An instruction for an agent.")
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="Arguments for the step; strings may hold {work_id} and {param} placeholders."
    )
    retries: int = Field(0, ge=0, le=100, description="How many times a failed attempt is tried again.")
    timeout: float | None = Field(None, gt=0, description="Seconds an attempt may take before it is stopped.")
    skill: str | None = Field(
        None, min_length=1, description="A reference agent skill (deprecated there); an agent step."
    )
    context: Any = _reference_key()
    config: Any = _reference_key()
    result_handling: Any = _reference_key()
    role: Any = _reference_key()
    executor: Any = _reference_key()
    model: Any = _reference_key()
    harness: Any = _reference_key()
    max_turns: Any = _reference_key()
    max_budget_usd: Any = _reference_key()
    allowed_tools: Any = _reference_key()
    skills: Any = _reference_key()
    mcp: Any = _reference_key()
    changelog: Any = _reference_key()
    conditional: Any = _reference_key()

    @model_validator(mode="after")
    def _has_something_to_do(self) -> StepDefinition:
        if self.run is None and self.command is None and self.prompt is None and self.skill is None:
            raise ValueError(f"step {self.id!r} needs one of 'run' (a shell command), 'command' or 'prompt'")
        return self


class PhaseDefinition(BaseModel):
    """One phase as written in a workflow file. Everything is optional: a workflow that extends
    another may mention only what it adds."""

    model_config = _STRICT

    enabled: bool | None = Field(None, description="Whether the phase runs (default: inherited, else true).")
    description: str | None = None
    pre_steps: list[StepDefinition] = Field(default_factory=list, description="Run before the steps; parents' first.")
    steps: list[StepDefinition] = Field(default_factory=list, description="The phase's own steps (this workflow's).")
    post_steps: list[StepDefinition] = Field(default_factory=list, description="Run after the steps; parents' last.")
    require_approval: bool | None = Field(None, description="Ask a person before the phase starts (guarded autonomy).")
    max_retries: Any = _reference_key()
    validation: Any = _reference_key()
    result_handling: Any = _reference_key()


class PhasesDefinition(BaseModel):
    """The five phases; a phase left out is inherited, or empty."""

    model_config = _STRICT

    frame: PhaseDefinition | None = None
    architect: PhaseDefinition | None = None
    build: PhaseDefinition | None = None
    evaluate: PhaseDefinition | None = None
    release: PhaseDefinition | None = None


class Autonomy(BaseModel):
    """How much a run may do without asking a person."""

    model_config = _STRICT

    level: AutonomyLevel = "guarded"
    description: str | None = None
    require_approval_for: list[Phase] = Field(
        default_factory=list, description="Phases that wait for `faber runs approve` before they start (guarded)."
    )
    pause_before_release: bool | None = Field(None, description="Same as listing release in require_approval_for.")
    overrides: Any = _reference_key()


class WorkflowDefinition(BaseModel):
    """A workflow file in the FABER format (``.fractary/plugins/faber/workflows/<id>.json``)."""

    model_config = _STRICT

    schema_: str | None = Field(None, alias="$schema", description="A JSON Schema reference for editors.")
    id: str = Field(max_length=64, pattern=f"^{WORKFLOW_ID_PATTERN}$")
    description: str | None = None
    extends: str | None = Field(
        None, max_length=130, pattern=f"^{WORKFLOW_REF_PATTERN}$",
        description="The parent workflow: its pre_steps run before, its post_steps after this one's steps.",
    )
    skip_steps: list[str] = Field(default_factory=list, description="Ids of inherited steps to leave out.")
    phases: PhasesDefinition = Field(default_factory=PhasesDefinition)
    autonomy: Autonomy | None = Field(None, description="Default: inherited, else guarded with no approvals.")
    asset_type: Any = _reference_key()
    workflow_type: Any = _reference_key()
    hooks: Any = _reference_key()
    critical_artifacts: Any = _reference_key()
    context: Any = _reference_key()
    result_handling: Any = _reference_key()
    executor: Any = _reference_key()
    phase_executors: Any = _reference_key()
    prompt: Any = _reference_key()
    defaults: Any = _reference_key()
    phase_defaults: Any = _reference_key()


class ResolvedStep(BaseModel):
    """A step of a resolved workflow: what an executor is asked to run, with its origin."""

    model_config = ConfigDict(frozen=True)

    phase: Phase
    id: str
    name: str | None = None
    description: str | None = None
    run: str | None = None
    command: str | None = None
    prompt: str | None = None
    skill: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    retries: int = 0
    timeout: float | None = None
    position: StepPosition = "step"
    source: str = Field(description="The id of the workflow that defines the step.")
    file: str = Field(description="The file that defines the step.")
    json_path: str = Field(description="Where in that file, such as $.phases.build.steps[0].")

    @property
    def key(self) -> str:
        """``phase:step``, as ``faber run --step`` takes it."""
        return f"{self.phase}:{self.id}"

    @property
    def kind(self) -> StepKind:
        """What kind of work the step is: a shell command (``run``) or work for an agent."""
        if self.run is not None:
            return "run"
        if self.command is not None:
            return "command"
        return "prompt" if self.prompt is not None else "skill"


class ResolvedPhase(BaseModel):
    """A phase of a resolved workflow: its steps in execution order."""

    model_config = ConfigDict(frozen=True)

    name: Phase
    enabled: bool = True
    require_approval: bool = False
    steps: list[ResolvedStep] = Field(default_factory=list)


class ResolvedWorkflow(BaseModel):
    """A workflow with its ``extends`` chain merged: the five phases in order, ready to run."""

    model_config = ConfigDict(frozen=True)

    id: str
    description: str | None = None
    file: str = Field(description="The file of the workflow itself (the first of the chain).")
    inheritance_chain: list[str] = Field(description="This workflow's id, then its parent's, and so on.")
    files: list[str] = Field(description="The file of each workflow of the chain, in the same order.")
    phases: list[ResolvedPhase]
    autonomy: Autonomy
    skipped_steps: list[str] = Field(default_factory=list)

    def phase(self, name: str) -> ResolvedPhase:
        """The phase called ``name``."""
        return next(phase for phase in self.phases if phase.name == name)

    def steps(self) -> list[ResolvedStep]:
        """Every step, in execution order."""
        return [step for phase in self.phases for step in phase.steps]

    def find_step(self, key: str) -> ResolvedStep | None:
        """The step named ``phase:step``, or None."""
        return next((step for step in self.steps() if step.key == key), None)

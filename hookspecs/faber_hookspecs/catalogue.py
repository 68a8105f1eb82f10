"""The event-type catalogue, the one source of truth for event types and the fields each requires (the
models, the schema, the validators and ``faber schema`` read it). Vendors add ``x-<vendor>.<name>`` types."""

from __future__ import annotations

import re

PHASES: tuple[str, ...] = ("frame", "architect", "build", "evaluate", "release")
"""The five FABER phases, in workflow order."""

AUTONOMY_LEVELS: tuple[str, ...] = ("dry-run", "assist", "guarded", "autonomous")
"""The autonomy levels as faber writes them: what --help, MCP and the docs name (workflow.AutonomyLevel
also reads the aliases; here, so that building the CLI's help does not load the workflow models)."""
AUTONOMY_ALIASES = {"assisted": "assist"}
"""Other spellings taken on input (and in stored workflows and runs), each read as its level."""

_NAME = r"[a-z0-9](?:[a-z0-9_]*[a-z0-9])?"
VENDOR_TYPE_PATTERN = rf"x-[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.{_NAME}(?:\.{_NAME})*"
VENDOR_TYPE_MAX_LENGTH = 64
_VENDOR_TYPE = re.compile(VENDOR_TYPE_PATTERN)


class EventType:
    """One catalogue entry: a type's name, its category, what it means and what it requires."""

    __slots__ = ("category", "description", "name", "requires")

    def __init__(self, name: str, category: str, description: str, *requires: str) -> None:
        self.name = name
        self.category = category
        self.description = description
        self.requires = requires

    def __repr__(self) -> str:
        return f"EventType({self.name!r}, {self.category!r}, requires={self.requires!r})"


_PHASE = ("phase",)
_STEP = ("phase", "step")

EVENT_TYPES: dict[str, EventType] = {
    entry.name: entry
    for entry in (
        # Workflow lifecycle
        EventType("workflow_start", "workflow", "A run started executing its workflow."),
        EventType("workflow_complete", "workflow", "The run finished every phase successfully."),
        EventType("workflow_error", "workflow", "The run stopped because of an error.", "error"),
        EventType("workflow_cancelled", "workflow", "The run was cancelled (Ctrl-C, SIGTERM, a user)."),
        EventType("workflow_paused", "workflow", "The run paused: it waits for an agent, an approval or feedback."),
        EventType("workflow_resumed", "workflow", "A stopped run continues under the same run id."),
        EventType("workflow_rerun", "workflow", "This run is a re-run of an earlier one, with changed parameters."),
        # Phases
        EventType("phase_start", "phase", "A phase started.", *_PHASE),
        EventType("phase_skip", "phase", "A phase was skipped (disabled, or not selected).", *_PHASE),
        EventType("phase_complete", "phase", "A phase finished successfully.", *_PHASE),
        EventType("phase_error", "phase", "A phase failed.", *_PHASE, "error"),
        # Steps
        EventType("step_start", "step", "A step started (again, on a retry).", *_STEP),
        EventType("step_complete", "step", "A step finished successfully.", *_STEP, "duration_ms"),
        EventType("step_error", "step", "A step failed.", *_STEP, "error"),
        EventType("step_retry", "step", "A failed step is about to be tried again.", *_STEP),
        EventType("step_skip", "step", "A step was skipped.", *_STEP),
        # Work products
        EventType("artifact_create", "artifact", "A file, document or other artifact was created."),
        EventType("artifact_modify", "artifact", "An existing artifact was changed."),
        EventType("commit_create", "repository", "A commit was made."),
        EventType("branch_create", "repository", "A branch was created."),
        EventType("pr_create", "repository", "A pull request was opened."),
        EventType("pr_merge", "repository", "A pull request was merged."),
        EventType("spec_generate", "specification", "A specification was generated."),
        EventType("spec_validate", "specification", "A specification was validated."),
        EventType("test_run", "quality", "Tests ran."),
        EventType("docs_update", "quality", "Documentation was updated."),
        # Control flow and agents
        EventType("checkpoint", "control", "A point the run can be understood or resumed from."),
        EventType("skill_invoke", "agent", "An agent skill was invoked."),
        EventType("agent_invoke", "agent", "An agent was invoked."),
        EventType("decision_point", "control", "A decision was taken, with its reasons."),
        EventType("retry_loop_enter", "control", "An evaluate/build retry loop started another round."),
        EventType("retry_loop_exit", "control", "A retry loop ended."),
        EventType("hook_execute", "control", "A workflow hook ran."),
        EventType(
            "log_repaired", "control",
            "Repair filled this id: its event file was unreadable (moved to events/.quarantine/) or missing.",
        ),
        # People in the loop
        EventType("approval_request", "approval", "The run asks a person to approve before it goes on."),
        EventType("approval_granted", "approval", "A person approved."),
        EventType("approval_denied", "approval", "A person refused approval."),
        EventType("feedback_request", "feedback", "The run asks a person for feedback."),
        EventType("feedback_received", "feedback", "A person answered a feedback request."),
    )
}

for _name in EVENT_TYPES:  # the naming rules the issue states, checked once at import
    assert not _name.startswith("step_") or set(_STEP) <= set(EVENT_TYPES[_name].requires)
    assert not _name.startswith("phase_") or "phase" in EVENT_TYPES[_name].requires
    assert not _name.endswith("_error") or "error" in EVENT_TYPES[_name].requires


def is_vendor_type(name: str) -> bool:
    """True for a third party's namespaced type, such as ``x-acme.deploy_start``."""
    return len(name) <= VENDOR_TYPE_MAX_LENGTH and _VENDOR_TYPE.fullmatch(name) is not None


def is_known_type(name: str) -> bool:
    """True when ``name`` is in the catalogue or is a valid vendor type."""
    return name in EVENT_TYPES or is_vendor_type(name)


def required_fields(name: str) -> tuple[str, ...]:
    """The fields an event of this type must carry (vendor types require nothing extra)."""
    entry = EVENT_TYPES.get(name)
    return entry.requires if entry else ()

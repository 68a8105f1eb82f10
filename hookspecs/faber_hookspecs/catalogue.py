"""The event-type catalogue: every event type FABER knows, and the fields each one requires.

This is the one source of truth for event types: the pydantic models, the generated JSON Schema,
the validators, the CLI's help and ``faber schema`` all read it. Third parties add their own types
under a vendor namespace (``x-<vendor>.<name>``) without touching this file.
"""

from __future__ import annotations

import re

PHASES: tuple[str, ...] = ("frame", "architect", "build", "evaluate", "release")
"""The five FABER phases, in workflow order."""

_NAME = r"[a-z0-9](?:[a-z0-9_]*[a-z0-9])?"
VENDOR_TYPE_PATTERN = rf"x-[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.{_NAME}(?:\.{_NAME})*"
VENDOR_TYPE_MAX_LENGTH = 64
_VENDOR_TYPE = re.compile(VENDOR_TYPE_PATTERN)


class EventType:
    """One catalogue entry: the type's name, its category, what it means and what it requires.

    A plain slotted class: its entries are many and never change."""

    __slots__ = ("category", "description", "name", "requires")

    def __init__(self, name: str, category: str, description: str, requires: tuple[str, ...] = ()) -> None:
        self.name = name
        self.category = category
        self.description = description
        self.requires = requires

    def __repr__(self) -> str:
        return f"EventType({self.name!r}, {self.category!r}, requires={self.requires!r})"


def _entry(name: str, category: str, description: str, *requires: str) -> EventType:
    return EventType(name, category, description, tuple(requires))


_PHASE = ("phase",)
_STEP = ("phase", "step")

EVENT_TYPES: dict[str, EventType] = {
    entry.name: entry
    for entry in (
        # Workflow lifecycle
        _entry("workflow_start", "workflow", "A run started executing its workflow."),
        _entry("workflow_complete", "workflow", "The run finished every phase successfully."),
        _entry("workflow_error", "workflow", "The run stopped because of an error.", "error"),
        _entry("workflow_cancelled", "workflow", "The run was cancelled (Ctrl-C, SIGTERM, a user)."),
        _entry("workflow_paused", "workflow", "The run paused: it waits for an agent, an approval or feedback."),
        _entry("workflow_resumed", "workflow", "A stopped run continues under the same run id."),
        _entry("workflow_rerun", "workflow", "This run is a re-run of an earlier one, with changed parameters."),
        # Phases
        _entry("phase_start", "phase", "A phase started.", *_PHASE),
        _entry("phase_skip", "phase", "A phase was skipped (disabled, or not selected).", *_PHASE),
        _entry("phase_complete", "phase", "A phase finished successfully.", *_PHASE),
        _entry("phase_error", "phase", "A phase failed.", *_PHASE, "error"),
        # Steps
        _entry("step_start", "step", "A step started (again, on a retry).", *_STEP),
        _entry("step_complete", "step", "A step finished successfully.", *_STEP, "duration_ms"),
        _entry("step_error", "step", "A step failed.", *_STEP, "error"),
        _entry("step_retry", "step", "A failed step is about to be tried again.", *_STEP),
        _entry("step_skip", "step", "A step was skipped.", *_STEP),
        # Work products
        _entry("artifact_create", "artifact", "A file, document or other artifact was created."),
        _entry("artifact_modify", "artifact", "An existing artifact was changed."),
        _entry("commit_create", "repository", "A commit was made."),
        _entry("branch_create", "repository", "A branch was created."),
        _entry("pr_create", "repository", "A pull request was opened."),
        _entry("pr_merge", "repository", "A pull request was merged."),
        _entry("spec_generate", "specification", "A specification was generated."),
        _entry("spec_validate", "specification", "A specification was validated."),
        _entry("test_run", "quality", "Tests ran."),
        _entry("docs_update", "quality", "Documentation was updated."),
        # Control flow and agents
        _entry("checkpoint", "control", "A point the run can be understood or resumed from."),
        _entry("skill_invoke", "agent", "An agent skill was invoked."),
        _entry("agent_invoke", "agent", "An agent was invoked."),
        _entry("decision_point", "control", "A decision was taken, with its reasons."),
        _entry("retry_loop_enter", "control", "An evaluate/build retry loop started another round."),
        _entry("retry_loop_exit", "control", "A retry loop ended."),
        _entry("hook_execute", "control", "A workflow hook ran."),
        _entry(
            "log_repaired", "control",
            "Repair filled this id: its event file was unreadable (moved to events/.quarantine/) or missing.",
        ),
        # People in the loop
        _entry("approval_request", "approval", "The run asks a person to approve before it goes on."),
        _entry("approval_granted", "approval", "A person approved."),
        _entry("approval_denied", "approval", "A person refused approval."),
        _entry("feedback_request", "feedback", "The run asks a person for feedback."),
        _entry("feedback_received", "feedback", "A person answered a feedback request."),
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

"""``plain_state``: is a state (a JSON object) one that ``RunState`` takes exactly as it stands?

``faber runs list``'s quick path builds its table from the states as plain dicts, without pydantic. It
may do so only for states the full path's ``RunState.model_validate`` would accept without changing a
value. This check is stricter than the model (exact JSON types, nothing to coerce), so a True answer
proves both; anything else (a False answer) sends the command to the full path, which decides.
A test keeps the rules here in step with the models of ``state.py``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the quick path avoids it)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Rule = Callable[[Any], bool]

PHASE_NAMES = frozenset(("frame", "architect", "build", "evaluate", "release"))
RUN_STATUSES = frozenset(("pending", "in_progress", "paused", "completed", "failed", "cancelled"))
STEP_STATUSES = frozenset(("pending", "in_progress", "retrying", "completed", "failed", "skipped", "cancelled"))
PHASE_STATUSES = frozenset(("pending", "in_progress", "completed", "failed", "skipped"))


def _text(value: object) -> bool:
    return type(value) is str


def _optional_text(value: object) -> bool:
    return value is None or type(value) is str


def _count(value: object) -> bool:
    return type(value) is int


def _optional_count(value: object) -> bool:
    return value is None or type(value) is int


def _optional_phase(value: object) -> bool:
    return value is None or (type(value) is str and value in PHASE_NAMES)


def _model(rules: dict[str, Rule], required: tuple[str, ...], *, extra_allowed: bool) -> Rule:
    """A rule for a JSON object validated as a model with these field ``rules``. With extra keys
    allowed (kept by the model), they must not look private (``_x``) or like pydantic's (``model_x``)."""
    def check(value: object) -> bool:
        if type(value) is not dict:
            return False
        for key in required:
            if key not in value:
                return False
        for key, item in value.items():
            rule = rules.get(key)
            if rule is None:
                if extra_allowed and (key[:1] == "_" or key[:6] == "model_"):
                    return False
            elif not rule(item):
                return False
        return True

    return check


def _list_of(rule: Rule) -> Rule:
    def check(value: object) -> bool:
        return type(value) is list and all(rule(item) for item in value)

    return check


_STEP_ERROR = _model({"event_id": _count, "code": _optional_text, "message": _optional_text}, ("event_id",),
                     extra_allowed=False)
_STEP = _model({
    "id": _text, "name": _optional_text, "status": lambda v: type(v) is str and v in STEP_STATUSES,
    "attempts": _count, "retries": _count,
    "started_at": _optional_text, "completed_at": _optional_text, "duration_ms": _optional_count,
    "last_error": lambda v: v is None or _STEP_ERROR(v),
}, ("id",), extra_allowed=True)
_PHASE = _model({
    "status": lambda v: type(v) is str and v in PHASE_STATUSES, "started_at": _optional_text,
    "completed_at": _optional_text, "duration_ms": _optional_count, "retry_count": _count, "steps": _list_of(_STEP),
}, (), extra_allowed=True)
_ERROR = _model({
    "event_id": _count, "timestamp": _text, "type": _text, "phase": _optional_phase, "step": _optional_text,
    "code": _optional_text, "message": _optional_text, "recoverable": lambda v: v is None or type(v) is bool,
}, ("event_id", "timestamp", "type"), extra_allowed=True)
_APPROVAL_REQUEST = _model({
    "event_id": _count, "requested_at": _text, "phase": _optional_phase, "step": _optional_text,
    "message": _optional_text,
}, ("event_id", "requested_at"), extra_allowed=False)
_APPROVAL_DECISION = _model({
    "event_id": _count, "decision": lambda v: v in ("granted", "denied") and type(v) is str, "decided_at": _text,
    "phase": _optional_phase, "by": _optional_text, "reason": _optional_text,
}, ("event_id", "decision", "decided_at"), extra_allowed=False)
_RESUME = _model({"event_id": _count, "timestamp": _text, "phase": _optional_phase, "step": _optional_text},
                 ("event_id", "timestamp"), extra_allowed=False)


def _phases(value: object) -> bool:
    return type(value) is dict and all(type(name) is str and name in PHASE_NAMES and _PHASE(phase)
                                       for name, phase in value.items())


def _artifacts(value: object) -> bool:
    return type(value) is dict and all(type(item) is dict for item in value.values())


RUN_STATE_RULES: dict[str, Rule] = {
    "run_id": _text, "work_id": _optional_text, "work_type": _optional_text, "workflow_id": _optional_text,
    "workflow_version": _text, "reduced_event_id": _optional_count,
    "reducer_version": _optional_count, "status": lambda v: type(v) is str and v in RUN_STATUSES,
    "current_phase": _optional_phase, "current_step": _optional_text,
    "last_event_id": lambda v: type(v) is int and v >= 0, "created_at": _optional_text,
    "started_at": _optional_text, "updated_at": _optional_text, "completed_at": _optional_text,
    "paused_reason": _optional_text, "phases": _phases, "artifacts": _artifacts, "errors": _list_of(_ERROR),
    "error_count": _count, "pending_approvals": _list_of(_APPROVAL_REQUEST), "approvals": _list_of(_APPROVAL_DECISION),
    "resumes": _list_of(_RESUME),
}
"""Each field of ``RunState`` and what its JSON value must be to be taken as it stands."""

plain_state = _model(RUN_STATE_RULES, ("run_id", "phases"), extra_allowed=True)
"""True when ``RunState.model_validate(state)`` surely succeeds and keeps every given field's value."""

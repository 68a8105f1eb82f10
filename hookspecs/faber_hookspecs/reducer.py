"""Run state as a pure function of the event log: ``state = reduce(initial, events)``.

The record store applies ``apply_event`` after each event it stores, and ``reconstruct`` rebuilds the
same state from nothing, so state.json is only ever a cache of this function. Both work on the JSON
objects themselves (the shapes ``RunState`` and ``Event`` describe), because this runs on every emit
and over every event of a run on reconstruct: plain dicts keep it fast and free of pydantic.

It lives in faber-hookspecs, not in the host, because a record store must update state in the same
critical section as the event it stores, and a backend never imports the host.
"""

from __future__ import annotations

from .catalogue import PHASES, required_fields

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the CLI's emit path avoids it)
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    State = dict[str, Any]
    EventJson = dict[str, Any]

WORKFLOW_VERSION = "2.1"
REDUCER_VERSION = 3
"""Bump when the reducer's output changes: state.json files of an older version are then rebuilt."""

MAX_ERRORS_KEPT = 50
"""State keeps the latest errors only, so its size follows the workflow, not the length of the log."""

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})

ANY_EVENT = "any event"
LIFECYCLE: dict[str, tuple[str, ...]] = {
    "pending": (ANY_EVENT,),
    "in_progress": (ANY_EVENT,),
    "paused": (ANY_EVENT,),
    "failed": ("workflow_resumed", "approval_granted", "approval_denied"),
    "cancelled": ("workflow_resumed", "approval_granted", "approval_denied"),
    "denied": (),
    "completed": (),
}
"""The run lifecycle: from each status, the event types a new event may have. A failed or cancelled
run takes only what resuming it records (a person's decision, then ``workflow_resumed``, after which
it is in progress again); a completed run, or one that ended because a person denied approval
(``denied``: cancelled with a denial as its last decision), takes nothing: changes make a new run
(``faber run --rerun``), which links to it in metadata, as archiving records in metadata and the
archive, not in events. The record store checks new events against it under the run's lock;
replaying a log never does, so older logs with events after their end still load."""


def lifecycle_status(state: State) -> str:
    """The row of ``LIFECYCLE`` the run is in: its status, or ``denied`` for a run a denial ended."""
    status: str = state["status"]
    approvals = state.get("approvals") or ()
    if status == "cancelled" and approvals and approvals[-1].get("decision") == "denied":
        return "denied"
    return status


def refusal(state: State, event_type: str) -> str | None:
    """Why the run whose state is ``state`` may not take a new ``event_type`` event, in one line
    saying what to do instead; None when it may."""
    status = lifecycle_status(state)
    accepted = LIFECYCLE.get(status, (ANY_EVENT,))
    if ANY_EVENT in accepted or event_type in accepted:
        return None
    run_id = state["run_id"]
    short = run_id.rsplit("/", 1)[-1][:8]
    rerun = f"`faber run --rerun {short}` starts a new run with your changes"
    if not accepted:
        ended = "ended as denied" if status == "denied" else "is completed"
        return f"run {run_id} {ended} and takes no new events ({event_type} refused): {rerun}"
    return (
        f"run {run_id} is {status} and takes only {', '.join(accepted)} until it is resumed ({event_type} "
        f"refused): `faber run --resume {short}` continues it, or {rerun}"
    )


def initial_state(
    run_id: str, work_id: str | None, workflow_id: str | None, created_at: str | None,
    work_type: str | None = None,
) -> State:
    """The state of a run with no events yet."""
    return {
        "run_id": run_id,
        "work_id": work_id,
        "work_type": work_type,
        "workflow_id": workflow_id,
        "workflow_version": WORKFLOW_VERSION,
        "reducer_version": REDUCER_VERSION,
        "status": "pending",
        "current_phase": None,
        "current_step": None,
        "last_event_id": 0,
        "reduced_event_id": 0,
        "created_at": created_at,
        "started_at": None,
        "updated_at": created_at,
        "completed_at": None,
        "paused_reason": None,
        "phases": {phase: _new_phase() for phase in PHASES},
        "artifacts": {},
        "errors": [],
        "error_count": 0,
        "pending_approvals": [],
        "approvals": [],
        "resumes": [],
    }


def initial_state_for(metadata: dict[str, Any]) -> State:
    """The empty state of the run that ``metadata`` (the JSON of metadata.json) describes."""
    params = metadata.get("params")
    work_type = params.get("work_type") if isinstance(params, dict) else None
    return initial_state(
        metadata["run_id"], metadata.get("work_id"), metadata.get("workflow_id"), metadata.get("created_at"),
        work_type if isinstance(work_type, str) else None,
    )


def reconstruct(start: State, events: Iterable[EventJson]) -> State:
    """Fold events, in id order, into ``start`` (updated in place and returned)."""
    for event in events:
        apply_event(start, event)
    return start


def apply_event(state: State, event: EventJson) -> State:
    """Apply one event to ``state`` in place and return it. Unknown and vendor types only advance
    the bookkeeping fields, so third-party events never break a run's state."""
    kind = event["type"]
    phase_name = event.get("phase")
    phase = state["phases"].get(phase_name) if phase_name else None
    handler = _HANDLERS.get(kind)
    if handler is not None and ((phase is not None and "step" in event) or _placed(kind, phase, event)):
        handler(state, event, phase)
    metadata = event.get("metadata")
    if metadata and isinstance(metadata.get("work_type"), str):  # the classification the frame phase found
        state["work_type"] = metadata["work_type"]
    for artifact in event.get("artifacts") or ():
        _record_artifact(state, event, artifact)
    if event.get("error") and kind not in _ERROR_RECORDED:
        _record_error(state, event)
    state["last_event_id"] = state["reduced_event_id"] = event["event_id"]
    state["updated_at"] = event["timestamp"]
    return state


def _placed(kind: str, phase: dict[str, Any] | None, event: EventJson) -> bool:
    """Whether the event names the phase and step its type requires: another writer's event (the
    FABER reference's) may lack them, and then it only advances the log."""
    needs = required_fields(kind)
    return (phase is not None or "phase" not in needs) and ("step" in event or "step" not in needs)


def _new_phase() -> dict[str, Any]:
    return {
        "status": "pending",
        "started_at": None,
        "completed_at": None,
        "duration_ms": None,
        "retry_count": 0,
        "steps": [],
    }


def _step(phase: dict[str, Any], step_id: str) -> dict[str, Any]:
    steps = phase["steps"]
    if len(steps) < _INDEXED_FROM:
        for existing in steps:
            if existing["id"] == step_id:
                return existing  # type: ignore[no-any-return]
    else:
        found = _step_index(steps).get(step_id)
        if found is not None:
            return found
    step: dict[str, Any] = {
        "id": step_id,
        "name": step_id,  # the key the FABER reference's readers (resume-run.sh...) find a step by
        "status": "pending",
        "attempts": 0,
        "retries": 0,
        "started_at": None,
        "completed_at": None,
        "duration_ms": None,
        "last_error": None,
    }
    phase["steps"].append(step)
    return step


_INDEXED_FROM = 16
"""A phase with this many steps finds them by id through an index, not by a scan: a scan per event
made an emit, and a rebuild, cost time in proportion to the workflow's length."""

_STEP_INDEXES: dict[int, tuple[list[dict[str, Any]], dict[str, dict[str, Any]], int]] = {}


def _step_index(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The steps of a phase by id (the first of an id, as a scan finds it), kept per list and extended
    as the list grows. Valid because only ``apply_event`` changes a state's step lists, and only by
    appending; the entry holds the list itself, so its ``id()`` cannot be reused while it is kept."""
    entry = _STEP_INDEXES.get(id(steps))
    if entry is None or entry[0] is not steps or entry[2] > len(steps):
        if len(_STEP_INDEXES) >= 64:  # states of runs long forgotten: start afresh
            _STEP_INDEXES.clear()
        entry = (steps, {}, 0)
    index, known = entry[1], entry[2]
    for step in steps[known:]:
        index.setdefault(step["id"], step)
    _STEP_INDEXES[id(steps)] = (steps, index, len(steps))
    return index


def _record_error(state: State, event: EventJson) -> None:
    error = event.get("error") or {}  # an error event written without one (by the FABER reference)
    state["errors"].append(
        {
            "event_id": event["event_id"],
            "timestamp": event["timestamp"],
            "type": event["type"],
            "phase": event.get("phase"),
            "step": event.get("step"),
            "code": error.get("code"),
            "message": error.get("message"),
            "recoverable": error.get("recoverable"),
        }
    )
    state["error_count"] += 1
    if len(state["errors"]) > MAX_ERRORS_KEPT:
        del state["errors"][: len(state["errors"]) - MAX_ERRORS_KEPT]


def _record_artifact(state: State, event: EventJson, artifact: dict[str, Any]) -> None:
    key = artifact.get("name") or artifact.get("path") or artifact.get("url")
    key = key or f"{artifact.get('type', 'artifact')}-{event['event_id']}"
    state["artifacts"][key] = {
        **artifact,
        "event_id": event["event_id"],
        "phase": event.get("phase"),
        "step": event.get("step"),
    }


def _start_phase_if_pending(phase: dict[str, Any] | None, timestamp: str) -> None:
    if phase is not None and phase["status"] in ("pending", "skipped"):
        phase["status"] = "in_progress"
        phase["started_at"] = phase["started_at"] or timestamp


def _workflow_start(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    state["status"] = "in_progress"
    state["started_at"] = state["started_at"] or event["timestamp"]
    state["completed_at"] = None
    state["paused_reason"] = None
    metadata = event.get("metadata") or {}
    if state.get("work_id") is None and isinstance(metadata.get("work_id"), str):
        state["work_id"] = metadata["work_id"]


def _workflow_complete(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    state["status"] = "completed"
    state["completed_at"] = event["timestamp"]
    state["current_step"] = None
    state["paused_reason"] = None


def _workflow_error(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    state["status"] = "failed"
    _record_error(state, event)


def _workflow_cancelled(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    state["status"] = "cancelled"
    # The step that was running when the run was cancelled did not finish: say so.
    current = state["phases"].get(state["current_phase"]) if state["current_phase"] else None
    if current is not None and state["current_step"]:
        for step in current["steps"]:
            if step["id"] == state["current_step"] and step["status"] in ("in_progress", "retrying"):
                step["status"] = "cancelled"


def _workflow_paused(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    state["status"] = "paused"
    state["paused_reason"] = event.get("message")


def _workflow_resumed(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    state["status"] = "in_progress"
    state["completed_at"] = None
    state["paused_reason"] = None
    resume_from = (event.get("metadata") or {}).get("resume_from")
    if not isinstance(resume_from, dict):  # metadata is free-form: anything else says nothing usable
        resume_from = {}
    state["resumes"].append(
        {
            "event_id": event["event_id"],
            "timestamp": event["timestamp"],
            "phase": resume_from["phase"] if resume_from.get("phase") in PHASES else event.get("phase"),
            "step": resume_from["step"] if isinstance(resume_from.get("step"), str) else event.get("step"),
        }
    )


def _phase_start(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    assert phase is not None
    phase["status"] = "in_progress"
    phase["started_at"] = phase["started_at"] or event["timestamp"]
    phase["completed_at"] = None
    state["current_phase"] = event["phase"]
    state["current_step"] = None


def _phase_complete(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    assert phase is not None
    phase["status"] = "completed"
    phase["completed_at"] = event["timestamp"]
    phase["duration_ms"] = event.get("duration_ms")
    state["current_step"] = None


def _phase_skip(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    assert phase is not None
    phase["status"] = "skipped"


def _phase_error(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    assert phase is not None
    phase["status"] = "failed"
    state["current_phase"] = event["phase"]
    _record_error(state, event)


def _step_start(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    assert phase is not None
    _start_phase_if_pending(phase, event["timestamp"])
    step = _step(phase, event["step"])
    step["status"] = "in_progress"
    step["attempts"] += 1
    step["started_at"] = step["started_at"] or event["timestamp"]
    step["completed_at"] = None
    state["current_phase"] = event["phase"]
    state["current_step"] = event["step"]


def _step_complete(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    assert phase is not None
    _start_phase_if_pending(phase, event["timestamp"])
    step = _step(phase, event["step"])
    step["status"] = "completed"
    step["completed_at"] = event["timestamp"]
    step["duration_ms"] = event.get("duration_ms")
    step["attempts"] = max(step["attempts"], 1)


def _step_error(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    assert phase is not None
    _start_phase_if_pending(phase, event["timestamp"])
    step = _step(phase, event["step"])
    step["status"] = "failed"
    step["duration_ms"] = event.get("duration_ms")
    step["attempts"] = max(step["attempts"], 1)
    error = event.get("error") or {}
    step["last_error"] = {"event_id": event["event_id"], "code": error.get("code"), "message": error.get("message")}
    _record_error(state, event)


def _step_retry(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    assert phase is not None
    _start_phase_if_pending(phase, event["timestamp"])
    step = _step(phase, event["step"])
    step["status"] = "retrying"
    step["retries"] += 1


def _step_skip(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    assert phase is not None
    _step(phase, event["step"])["status"] = "skipped"


def _approval_request(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    state["pending_approvals"].append(
        {
            "event_id": event["event_id"],
            "requested_at": event["timestamp"],
            "phase": event.get("phase"),
            "step": event.get("step"),
            "message": event.get("message"),
        }
    )


def _approval_decision(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    # A decision answers the pending request for the same phase, or the oldest one if none matches.
    pending = state["pending_approvals"]
    match = next((p for p in pending if p["phase"] == event.get("phase")), pending[0] if pending else None)
    if match is not None:
        pending.remove(match)
    state["approvals"].append(
        {
            "event_id": event["event_id"],
            "decision": "granted" if event["type"] == "approval_granted" else "denied",
            "decided_at": event["timestamp"],
            "phase": event.get("phase") or (match or {}).get("phase"),
            "by": event.get("user"),
            "reason": event.get("message"),
        }
    )


def _retry_loop_enter(state: State, event: EventJson, phase: dict[str, Any] | None) -> None:
    if phase is not None:
        phase["retry_count"] += 1


_HANDLERS = {
    "workflow_start": _workflow_start,
    "workflow_complete": _workflow_complete,
    "workflow_error": _workflow_error,
    "workflow_cancelled": _workflow_cancelled,
    "workflow_paused": _workflow_paused,
    "workflow_resumed": _workflow_resumed,
    "phase_start": _phase_start,
    "phase_complete": _phase_complete,
    "phase_skip": _phase_skip,
    "phase_error": _phase_error,
    "step_start": _step_start,
    "step_complete": _step_complete,
    "step_error": _step_error,
    "step_retry": _step_retry,
    "step_skip": _step_skip,
    "approval_request": _approval_request,
    "approval_granted": _approval_decision,
    "approval_denied": _approval_decision,
    "retry_loop_enter": _retry_loop_enter,
}
_ERROR_RECORDED = frozenset({"workflow_error", "phase_error", "step_error"})

"""The reducer's handling of every event that carries an error (issue 19): each one is recorded
once, whole, and what failed is marked failed, never completed; the list of errors stays bounded."""

from __future__ import annotations

from typing import Any

import pytest
from faber_hookspecs.catalogue import EVENT_TYPES
from faber_hookspecs.reducer import (
    ANY_EVENT,
    LIFECYCLE,
    MAX_ERRORS_KEPT,
    apply_event,
    initial_state,
    initial_state_for,
    lifecycle_status,
    reconstruct,
    refusal,
)

RUN = "acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63"
ERROR = {"code": "BOOM", "message": "it broke", "recoverable": False}


def stored(event_id: int, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "timestamp": f"2026-11-26T07:13:{event_id:02d}.000Z", "run_id": RUN, **fields}


def started() -> dict[str, Any]:
    """A run in the middle of build:implement (second attempt)."""
    return reconstruct(initial_state(RUN, "1", "default", "2026-11-26T07:13:00.000Z"), [
        stored(1, type="workflow_start"),
        stored(2, type="phase_start", phase="build"),
        stored(3, type="step_start", phase="build", step="implement"),
        stored(4, type="step_retry", phase="build", step="implement"),
        stored(5, type="step_start", phase="build", step="implement"),
    ])


@pytest.mark.parametrize("kind", [*EVENT_TYPES, "x-acme.deploy_error"])
def test_every_event_with_an_error_records_it_once_and_whole(kind: str) -> None:
    state = started()
    apply_event(state, stored(6, type=kind, phase="build", step="implement", error=ERROR))
    assert state["errors"] == [{"event_id": 6, "timestamp": "2026-11-26T07:13:06.000Z", "type": kind,
                                "phase": "build", "step": "implement", **ERROR}]
    assert state["error_count"] == 1
    assert state["last_event_id"] == 6 and state["updated_at"] == "2026-11-26T07:13:06.000Z"


def test_a_step_error_fails_the_step_and_keeps_its_last_error() -> None:
    state = apply_event(started(), stored(6, type="step_error", phase="build", step="implement", duration_ms=7,
                                          error=ERROR))
    (step,) = state["phases"]["build"]["steps"]
    assert step == {"id": "implement", "name": "implement", "status": "failed", "attempts": 2, "retries": 1,
                    "started_at": "2026-11-26T07:13:03.000Z", "completed_at": None, "duration_ms": 7,
                    "last_error": {"event_id": 6, "code": "BOOM", "message": "it broke"}}
    assert state["status"] == "in_progress", "a step's error alone does not end the run"
    assert state["phases"]["build"]["status"] == "in_progress"


def test_a_step_error_first_in_its_phase_starts_the_phase_and_counts_one_attempt() -> None:
    state = initial_state(RUN, None, "default", None)
    apply_event(state, stored(1, type="step_error", phase="frame", step="fetch", error={"code": "X"}))
    frame = state["phases"]["frame"]
    assert frame["status"] == "in_progress" and frame["started_at"] == "2026-11-26T07:13:01.000Z"
    assert frame["steps"][0]["attempts"] == 1 and frame["steps"][0]["status"] == "failed"
    assert frame["steps"][0]["last_error"] == {"event_id": 1, "code": "X", "message": None}
    assert state["errors"][0]["message"] is None and state["errors"][0]["recoverable"] is None


def test_a_phase_error_fails_the_phase_not_the_run_and_makes_it_current() -> None:
    state = apply_event(started(), stored(6, type="phase_error", phase="evaluate", error=ERROR))
    assert state["phases"]["evaluate"]["status"] == "failed"
    assert state["phases"]["evaluate"]["completed_at"] is None
    assert state["phases"]["build"]["status"] == "in_progress"
    assert state["current_phase"] == "evaluate" and state["status"] == "in_progress"


def test_a_workflow_error_fails_the_run_and_a_resume_brings_it_back() -> None:
    state = apply_event(started(), stored(6, type="workflow_error", phase="build", error=ERROR))
    assert state["status"] == "failed" and state["completed_at"] is None
    assert state["phases"]["build"]["status"] == "in_progress", "the phase did not complete"
    apply_event(state, stored(7, type="workflow_resumed", metadata={"resume_from": {"phase": "build",
                                                                                     "step": "implement"}}))
    assert state["status"] == "in_progress" and state["error_count"] == 1
    assert state["resumes"] == [{"event_id": 7, "timestamp": "2026-11-26T07:13:07.000Z", "phase": "build",
                                 "step": "implement"}]


def test_the_errors_kept_are_the_latest_and_the_count_is_all() -> None:
    state = started()
    for event_id in range(6, 6 + MAX_ERRORS_KEPT + 2):
        apply_event(state, stored(event_id, type="step_error", phase="build", step="implement",
                                  error={"code": f"E{event_id}"}))
    assert state["error_count"] == MAX_ERRORS_KEPT + 2
    assert [error["code"] for error in state["errors"]] == [f"E{n}" for n in range(8, 8 + MAX_ERRORS_KEPT)]


@pytest.mark.parametrize("status", LIFECYCLE)
def test_refusal_follows_each_row_of_the_lifecycle(status: str) -> None:
    """In process, for the record store's check: each status takes exactly its row (a denied run is a
    cancelled one whose last decision was a denial), and a refusal says what to do instead."""
    state = initial_state(RUN, None, "default", None)
    state["status"] = "cancelled" if status == "denied" else status
    if status in ("denied", "cancelled"):
        state["approvals"] = [{"decision": "granted"}, {"decision": "denied" if status == "denied" else "granted"}]
    assert lifecycle_status(state) == status
    for kind in [*EVENT_TYPES, "x-acme.deploy"]:
        why = refusal(state, kind)
        if ANY_EVENT in LIFECYCLE[status] or kind in LIFECYCLE[status]:
            assert why is None, (status, kind)
            continue
        assert why is not None and f"({kind} refused)" in why and "`faber run --rerun ee04a6d4` starts a new run" in why
        if LIFECYCLE[status]:
            assert why.startswith(f"run {RUN} is {status} and takes only {', '.join(LIFECYCLE[status])} until")
            assert "`faber run --resume ee04a6d4` continues it" in why
        else:
            ended = "ended as denied" if status == "denied" else "is completed"
            assert why.startswith(f"run {RUN} {ended} and takes no new events")


def test_a_long_phase_finds_its_steps_by_id_as_a_short_one_does() -> None:
    """From 16 steps on, steps are found through an index: the same steps, attempts and errors."""
    events = [stored(1, type="workflow_start")]
    for n in range(40):
        step = f"s{n % 20}"  # each step twice: the second event finds the first entry
        events.append(stored(len(events) + 1, type="step_start", phase="build", step=step))
        events.append(stored(len(events) + 1, type="step_error" if n < 20 else "step_complete", phase="build",
                             step=step, duration_ms=n, error={"code": f"E{n}"}))
    state = reconstruct(initial_state(RUN, None, "default", None), events)
    steps = state["phases"]["build"]["steps"]
    assert [step["id"] for step in steps] == [f"s{n}" for n in range(20)]
    assert all(step["attempts"] == 2 and step["status"] == "completed" for step in steps)
    assert [step["last_error"]["code"] for step in steps] == [f"E{n}" for n in range(20)]
    assert [step["duration_ms"] for step in steps] == list(range(20, 40))


# What every other event leaves in the state (in process, for mutation testing: the record store applies
# these on each emit, and a rebuild replays them).

def test_a_cancelled_run_marks_the_running_step_cancelled_and_nothing_else() -> None:
    for running in ("step_start", "step_retry"):
        state = started()
        apply_event(state, stored(6, type="step_complete", phase="frame", step="fetch"))
        apply_event(state, stored(7, type=running, phase="build", step="implement"))
        apply_event(state, stored(8, type="workflow_cancelled"))
        assert state["status"] == "cancelled"
        assert state["phases"]["build"]["steps"][0]["status"] == "cancelled"
        assert state["phases"]["frame"]["steps"][0]["status"] == "completed"
    failed = apply_event(started(), stored(6, type="step_error", phase="build", step="implement", error=ERROR))
    apply_event(failed, stored(7, type="workflow_cancelled"))
    assert failed["phases"]["build"]["steps"][0]["status"] == "failed", "a failed step stays failed"
    fresh = apply_event(initial_state(RUN, None, "default", None), stored(1, type="workflow_cancelled"))
    assert fresh["status"] == "cancelled" and fresh["phases"]["build"]["steps"] == []


def test_artifacts_are_kept_by_name_path_url_or_type_and_event() -> None:
    artifacts = [{"name": "n", "path": "p", "type": "file"}, {"path": "p2", "url": "u"}, {"url": "u3"},
                 {"type": "log"}, {}]
    state = apply_event(started(), stored(6, type="artifact_create", phase="build", step="implement",
                                          artifacts=artifacts))
    assert list(state["artifacts"]) == ["n", "p2", "u3", "log-6", "artifact-6"]
    assert state["artifacts"]["n"] == {"name": "n", "path": "p", "type": "file", "event_id": 6, "phase": "build",
                                       "step": "implement"}
    assert state["artifacts"]["artifact-6"] == {"event_id": 6, "phase": "build", "step": "implement"}


def test_the_work_type_comes_from_the_params_then_from_events_that_find_it() -> None:
    metadata = {"run_id": RUN, "work_id": "9", "workflow_id": "w", "created_at": "2026-11-26T07:13:00.000Z"}
    state = initial_state_for({**metadata, "params": {"work_type": "bug"}})
    assert (state["run_id"], state["work_id"], state["workflow_id"], state["created_at"], state["updated_at"],
            state["work_type"]) == (RUN, "9", "w", "2026-11-26T07:13:00.000Z", "2026-11-26T07:13:00.000Z", "bug")
    for params in ({"work_type": 3}, "bug", None, {}):
        assert initial_state_for({**metadata, "params": params})["work_type"] is None, params
    assert initial_state_for({"run_id": RUN})["work_id"] is None
    apply_event(state, stored(1, type="phase_complete", phase="frame", metadata={"work_type": "feature"}))
    apply_event(state, stored(2, type="checkpoint", metadata={"work_type": ["not", "text"]}))
    assert state["work_type"] == "feature"


def test_workflow_start_keeps_the_first_start_and_a_work_id_already_known() -> None:
    state = initial_state(RUN, None, "default", None)
    apply_event(state, stored(1, type="workflow_start", metadata={"work_id": "42"}))
    assert (state["status"], state["started_at"], state["work_id"]) == ("in_progress", "2026-11-26T07:13:01.000Z", "42")
    apply_event(state, stored(2, type="workflow_paused", message="lunch"))
    assert (state["status"], state["paused_reason"]) == ("paused", "lunch")
    apply_event(state, stored(3, type="workflow_start", metadata={"work_id": "43"}))
    assert (state["status"], state["started_at"], state["work_id"], state["paused_reason"]) == (
        "in_progress", "2026-11-26T07:13:01.000Z", "42", None)
    apply_event(state, stored(4, type="workflow_complete"))
    assert (state["status"], state["completed_at"], state["current_step"]) == (
        "completed", "2026-11-26T07:13:04.000Z", None)
    apply_event(state, stored(5, type="workflow_start", metadata={"work_id": 7}))
    assert state["completed_at"] is None and state["work_id"] == "42"
    unknown = apply_event(initial_state(RUN, None, "default", None), stored(1, type="workflow_start",
                                                                          metadata={"work_id": 7}))
    assert unknown["work_id"] is None, "only text is a work id"


def test_a_decision_answers_the_request_of_its_phase_or_else_the_oldest() -> None:
    state = started()
    apply_event(state, stored(6, type="approval_request", phase="build", message="ok to build?"))
    apply_event(state, stored(7, type="approval_request", phase="release"))
    assert state["pending_approvals"][0] == {"event_id": 6, "requested_at": "2026-11-26T07:13:06.000Z",
                                             "phase": "build", "step": None, "message": "ok to build?"}
    apply_event(state, stored(8, type="approval_denied", phase="release", user="ana", message="not now"))
    assert [p["phase"] for p in state["pending_approvals"]] == ["build"]
    apply_event(state, stored(9, type="approval_granted"))
    assert state["pending_approvals"] == []
    apply_event(state, stored(10, type="approval_granted", phase="evaluate"))
    apply_event(state, stored(11, type="approval_denied"))
    assert state["approvals"] == [
        {"event_id": 8, "decision": "denied", "decided_at": "2026-11-26T07:13:08.000Z", "phase": "release",
         "by": "ana", "reason": "not now"},
        {"event_id": 9, "decision": "granted", "decided_at": "2026-11-26T07:13:09.000Z", "phase": "build",
         "by": None, "reason": None},
        {"event_id": 10, "decision": "granted", "decided_at": "2026-11-26T07:13:10.000Z", "phase": "evaluate",
         "by": None, "reason": None},
        {"event_id": 11, "decision": "denied", "decided_at": "2026-11-26T07:13:11.000Z", "phase": None,
         "by": None, "reason": None},
    ]


def test_events_that_lack_the_phase_or_step_their_type_needs_only_advance_the_log() -> None:
    for draft in ({"type": "step_start", "phase": "build"}, {"type": "step_complete"}, {"type": "phase_start"},
                  {"type": "phase_complete", "phase": "nowhere"}, {"type": "step_error", "step": "implement"}):
        state = started()
        before = {key: value for key, value in state.items() if key not in ("last_event_id", "reduced_event_id",
                                                                           "updated_at")}
        apply_event(state, stored(6, **draft))
        after = {key: value for key, value in state.items() if key not in ("last_event_id", "reduced_event_id",
                                                                          "updated_at")}
        assert after == before, draft
        assert state["last_event_id"] == state["reduced_event_id"] == 6
    late = apply_event(started(), stored(6, type="approval_request"))  # needs no phase: recorded
    assert late["pending_approvals"][0]["phase"] is None


def test_phase_and_step_events_leave_their_phase_and_step_as_they_say() -> None:
    state = started()
    apply_event(state, stored(6, type="step_complete", phase="build", step="implement", duration_ms=9))
    apply_event(state, stored(7, type="phase_complete", phase="build", duration_ms=70))
    build = state["phases"]["build"]
    assert (build["status"], build["started_at"], build["completed_at"], build["duration_ms"]) == (
        "completed", "2026-11-26T07:13:02.000Z", "2026-11-26T07:13:07.000Z", 70)
    assert build["steps"][0] | {} == {"id": "implement", "name": "implement", "status": "completed", "attempts": 2,
                                      "retries": 1, "started_at": "2026-11-26T07:13:03.000Z",
                                      "completed_at": "2026-11-26T07:13:06.000Z", "duration_ms": 9,
                                      "last_error": None}
    assert state["current_step"] is None and state["current_phase"] == "build"
    apply_event(state, stored(8, type="phase_start", phase="build"))
    assert (build["status"], build["started_at"], build["completed_at"]) == ("in_progress", "2026-11-26T07:13:02.000Z",
                                                                             None)
    apply_event(state, stored(9, type="phase_skip", phase="evaluate"))
    apply_event(state, stored(10, type="step_skip", phase="release", step="ship"))
    assert state["phases"]["evaluate"]["status"] == "skipped"
    assert state["phases"]["release"]["steps"][0]["status"] == "skipped"
    assert state["phases"]["release"]["status"] == "pending", "a skipped step does not start its phase"
    apply_event(state, stored(11, type="step_complete", phase="evaluate", step="lint"))
    evaluate = state["phases"]["evaluate"]
    assert (evaluate["status"], evaluate["started_at"]) == ("in_progress", "2026-11-26T07:13:11.000Z")
    assert evaluate["steps"][0]["attempts"] == 1 and evaluate["steps"][0]["started_at"] is None
    apply_event(state, stored(12, type="retry_loop_enter", phase="evaluate"))
    apply_event(state, stored(13, type="retry_loop_enter"))
    assert evaluate["retry_count"] == 1


def test_a_resume_records_where_it_continues_from_its_metadata_or_its_own_fields() -> None:
    state = apply_event(started(), stored(6, type="workflow_error", error=ERROR))
    for event_id, resume_from in ((7, "build:implement"), (8, {"phase": "nowhere", "step": 3}), (9, None)):
        apply_event(state, stored(event_id, type="workflow_resumed", phase="evaluate", step="lint",
                                  metadata={"resume_from": resume_from}))
    assert [(resume["phase"], resume["step"]) for resume in state["resumes"]] == [("evaluate", "lint")] * 3
    apply_event(state, stored(10, type="workflow_resumed", metadata={"resume_from": {"phase": "build"}}))
    assert state["resumes"][-1] == {"event_id": 10, "timestamp": "2026-11-26T07:13:10.000Z", "phase": "build",
                                    "step": None}
    assert (state["status"], state["completed_at"], state["paused_reason"]) == ("in_progress", None, None)

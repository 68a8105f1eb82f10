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

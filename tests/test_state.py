"""State is a pure function of the events: the incremental state always equals the rebuilt one."""

from __future__ import annotations

import json
from pathlib import Path

from faber_backend_local_files.store import LocalRunStore
from faber_hookspecs.catalogue import EVENT_TYPES, PHASES, required_fields
from faber_hookspecs.errors import RunFinished
from faber_hookspecs.reducer import apply_event, initial_state, reconstruct
from faber_hookspecs.run_id import RunId
from faber_hookspecs.state import RunState
from faber_hookspecs.validation import schema_validator
from faber_hookspecs.wire import utc_timestamp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

RUN = "acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63"


def stored(event_id: int, **fields: object) -> dict[str, object]:
    return {"event_id": event_id, "timestamp": f"2026-11-26T07:13:{event_id % 60:02d}.000Z", "run_id": RUN, **fields}


def test_a_failed_run_as_the_reference_fixture_tells_it() -> None:
    events = [
        stored(1, type="workflow_start", metadata={"work_id": "123"}),
        stored(2, type="phase_start", phase="frame"),
        stored(3, type="step_start", phase="frame", step="fetch-work"),
        stored(4, type="step_complete", phase="frame", step="fetch-work", duration_ms=1840),
        stored(5, type="phase_complete", phase="frame", duration_ms=2310),
        stored(6, type="phase_start", phase="build"),
        stored(7, type="step_start", phase="build", step="implement"),
        stored(8, type="step_error", phase="build", step="implement", error={"code": "BUILD_FAILED", "message": "tsc"}),
        stored(9, type="workflow_error", phase="build", error={"code": "STEP_FAILED", "message": "x"}),
    ]
    state = reconstruct(initial_state(RUN, None, "default", "2026-11-26T07:13:00.000Z"), events)
    assert state["status"] == "failed"
    assert state["work_id"] == "123"
    assert state["current_phase"] == "build" and state["current_step"] == "implement"
    assert state["last_event_id"] == 9 and state["updated_at"] == events[-1]["timestamp"]
    assert state["phases"]["frame"]["status"] == "completed"
    assert state["phases"]["frame"]["steps"][0] | {} == {
        "id": "fetch-work", "name": "fetch-work", "status": "completed", "attempts": 1, "retries": 0,
        "started_at": events[2]["timestamp"], "completed_at": events[3]["timestamp"],
        "duration_ms": 1840, "last_error": None,
    }
    implement = state["phases"]["build"]["steps"][0]
    assert implement["status"] == "failed" and implement["last_error"]["code"] == "BUILD_FAILED"
    assert [error["code"] for error in state["errors"]] == ["BUILD_FAILED", "STEP_FAILED"]
    assert state["phases"]["architect"]["status"] == "pending"
    RunState.model_validate(state)


def test_retry_resume_and_approvals() -> None:
    events = [
        stored(1, type="workflow_start"),
        stored(2, type="step_start", phase="build", step="compile"),
        stored(3, type="step_error", phase="build", step="compile", error={"code": "E", "message": "m"}),
        stored(4, type="step_retry", phase="build", step="compile"),
        stored(5, type="step_start", phase="build", step="compile"),
        stored(6, type="step_complete", phase="build", step="compile", duration_ms=3),
        stored(7, type="approval_request", phase="release"),
        stored(8, type="workflow_paused", message="waiting for approval"),
        stored(9, type="approval_granted", phase="release", user="ana", message="ship it"),
        stored(10, type="workflow_resumed", metadata={"resume_from": {"phase": "release", "step": "merge"}}),
        stored(11, type="artifact_create", artifacts=[{"type": "pr", "name": "PR #7", "url": "https://example.invalid/7"}]),
        stored(12, type="retry_loop_enter", phase="evaluate"),
        stored(13, type="workflow_complete"),
    ]
    state = initial_state(RUN, "1", "default", None)
    for event in events[:8]:
        apply_event(state, event)
    assert state["status"] == "paused" and state["paused_reason"] == "waiting for approval"
    assert state["pending_approvals"][0]["phase"] == "release"
    for event in events[8:]:
        apply_event(state, event)
    compile_step = state["phases"]["build"]["steps"][0]
    assert (compile_step["attempts"], compile_step["retries"], compile_step["status"]) == (2, 1, "completed")
    assert state["pending_approvals"] == []
    assert state["approvals"][0] | {} == {"event_id": 9, "decision": "granted", "decided_at": events[8]["timestamp"],
                                          "phase": "release", "by": "ana", "reason": "ship it"}
    assert state["resumes"] == [{"event_id": 10, "timestamp": events[9]["timestamp"], "phase": "release", "step": "merge"}]
    assert state["artifacts"]["PR #7"]["url"] == "https://example.invalid/7"
    assert state["phases"]["evaluate"]["retry_count"] == 1
    assert state["status"] == "completed" and state["completed_at"] == events[-1]["timestamp"]
    assert schema_validator("run-state").is_valid(state)


def test_vendor_events_only_advance_bookkeeping() -> None:
    state = initial_state(RUN, "1", "default", None)
    before = json.loads(json.dumps(state))
    apply_event(state, stored(1, type="x-acme.deploy", phase="release", metadata={"anything": [1, 2]}))
    assert state["last_event_id"] == state["reduced_event_id"] == 1
    bookkeeping = ("last_event_id", "reduced_event_id", "updated_at")
    assert {k: v for k, v in state.items() if k not in bookkeeping} == {
        k: v for k, v in before.items() if k not in bookkeeping
    }


def test_errors_kept_in_state_are_bounded() -> None:
    state = initial_state(RUN, "1", "default", None)
    for event_id in range(1, 201):
        apply_event(state, stored(event_id, type="test_run", error={"code": f"E{event_id}", "message": "m"}))
    assert state["error_count"] == 200
    assert len(state["errors"]) == 50 and state["errors"][-1]["code"] == "E200"


# Random valid drafts: any catalogue type with its required fields, phases and steps from small sets.
_steps = st.sampled_from(["fetch", "spec", "implement", "test", "merge"])


@st.composite
def drafts(draw: st.DrawFn) -> dict[str, object]:
    kind = draw(st.sampled_from([*sorted(EVENT_TYPES), "x-acme.custom"]))
    draft: dict[str, object] = {"type": kind}
    needs = required_fields(kind)
    if "phase" in needs or draw(st.booleans()):
        draft["phase"] = draw(st.sampled_from(PHASES))
    if "step" in needs:
        draft["step"] = draw(_steps)
    if "duration_ms" in needs or draw(st.booleans()):
        draft["duration_ms"] = draw(st.integers(0, 10_000))
    if "error" in needs or draw(st.integers(0, 9)) == 0:
        draft["error"] = {"code": draw(st.sampled_from(["E1", "E2"])), "message": "failed", "recoverable": draw(st.booleans())}
    if draw(st.integers(0, 5)) == 0:
        draft["artifacts"] = [{"type": "file", "name": draw(st.sampled_from(["a", "b"])), "path": "x/y"}]
    if kind == "workflow_resumed" and draw(st.booleans()):
        draft["metadata"] = {"resume_from": {"phase": draw(st.sampled_from(PHASES)), "step": draw(_steps)}}
    if draw(st.booleans()):
        draft["message"] = draw(st.text(max_size=10))
    return draft


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(drafts(), min_size=1, max_size=40))
def test_incremental_state_equals_reconstruction(tmp_path: Path, sequence: list[dict[str, object]]) -> None:
    store = LocalRunStore(str(tmp_path / "runs" / RunId.generate("a", "b").uuid), sync=False)
    run_id = RunId.generate("acme", "widget-service")
    store.create_run({"run_id": str(run_id), "work_id": "7", "workflow_id": "default", "created_at": utc_timestamp()})
    stored = 0
    for draft in sequence:  # a draw may end the run: later draws the lifecycle refuses are not stored
        try:
            _, state = store.append(run_id, draft)
        except RunFinished:
            continue
        stored += 1
    if not stored:
        return
    folder = store.folder(run_id)
    on_disk = json.loads(Path(folder.state_file).read_text())
    rebuilt = store.reconstruct(run_id)
    assert on_disk == rebuilt == state
    assert rebuilt["last_event_id"] == stored
    assert schema_validator("run-state").is_valid(rebuilt)
    # A second process (a fresh store, no cache) continues from state.json and still agrees.
    fresh = LocalRunStore(store.runs_dir, sync=False)
    try:
        _, state = fresh.append(run_id, {"type": "checkpoint"})
    except RunFinished:  # an ended run: the fresh store's reading of it must agree all the same
        state = fresh.current_state(run_id)
    assert state == fresh.reconstruct(run_id)

"""The timeline is a pure function of the events: bars, attempts, retries, resumes, waits, lineage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from faber_hookspecs.catalogue import EVENT_TYPES, PHASES, required_fields
from faber_hookspecs.reducer import initial_state, reconstruct
from faber_hookspecs.wire import utc_timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from faber_host.views.timeline import Lineage, Timeline, build_timeline, epoch_ms

FIXTURES = Path(__file__).resolve().parent / "fixtures"

RUN = "acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63"
T0 = epoch_ms("2026-11-26T07:00:00.000Z")


def at(seconds: float) -> str:
    return utc_timestamp(T0 / 1000 + seconds)


def log(*entries: tuple[float, str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Events numbered from 1, each at a number of seconds after T0."""
    return [
        {"event_id": number, "type": kind, "timestamp": at(seconds), "run_id": RUN, **fields}
        for number, (seconds, kind, fields) in enumerate(entries, start=1)
    ]


def spans(timeline: Timeline, phase: str, step: str | None = None) -> list[tuple[int, int, str, int]]:
    bar = timeline.rows("run")[0] if phase == "run" else timeline.bar(phase, step)
    assert bar is not None, (phase, step)
    return [(a.start_ms, a.end_ms, a.outcome, a.session) for a in bar.attempts]


def test_the_reference_failed_run_drawn_from_its_event_files() -> None:
    folder = FIXTURES / "reference-runs/runs/acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63"
    events = [json.loads(path.read_text()) for path in sorted((folder / "events").glob("*.json"))]
    metadata = json.loads((folder / "metadata.json").read_text())
    timeline = build_timeline(events, metadata)
    origin = epoch_ms(events[0]["timestamp"])

    def offset(event_id: int) -> int:
        return epoch_ms(events[event_id - 1]["timestamp"]) - origin

    assert timeline.status == "failed" and timeline.origin == events[0]["timestamp"]
    assert timeline.end_ms == offset(13) and timeline.event_count == 13 and timeline.sessions == 1
    assert [(b.kind, b.label, b.status) for b in timeline.bars] == [
        ("run", "run", "failed"),
        ("phase", "frame", "completed"), ("step", "fetch-work", "completed"),
        ("phase", "architect", "completed"), ("step", "generate-spec", "completed"),
        ("phase", "build", "failed"), ("step", "implement", "failed"),
        ("phase", "evaluate", "pending"), ("phase", "release", "pending"),
    ]
    assert spans(timeline, "frame") == [(offset(2), offset(5), "completed", 0)]
    assert spans(timeline, "frame", "fetch-work") == [(offset(3), offset(4), "completed", 0)]
    assert spans(timeline, "build", "implement") == [(offset(11), offset(12), "failed", 0)]
    # build had no phase_error: the workflow_error in build ends it as failed.
    assert spans(timeline, "build") == [(offset(10), offset(13), "failed", 0)]
    implement = timeline.bar("build", "implement")
    assert implement is not None and implement.error is not None and implement.error.code == "BUILD_FAILED"
    assert implement.duration_ms == 98300  # what the step reported, not the gap between its events
    assert [(m.kind, m.event_id) for m in timeline.markers] == [("error", 13)]
    assert timeline.lineage == Lineage()  # no re-run, parent or children
    json.dumps(timeline.to_json())


def test_a_step_that_failed_was_retried_then_resumed_after_the_run_failed() -> None:
    events = log(
        (0, "workflow_start", {}),
        (1, "phase_start", {"phase": "build"}),
        (2, "step_start", {"phase": "build", "step": "compile"}),
        (5, "step_error", {"phase": "build", "step": "compile", "error": {"code": "E1", "message": "tsc"}}),
        (6, "step_retry", {"phase": "build", "step": "compile"}),
        (6, "step_start", {"phase": "build", "step": "compile", "retry_attempt": 1}),
        (9, "step_error", {"phase": "build", "step": "compile", "error": {"code": "E2", "message": "tsc again"}}),
        (10, "workflow_error", {"phase": "build", "error": {"code": "STEP_FAILED", "message": "build:compile"}}),
        # an hour later, someone fixes the code and resumes from the failed step
        (3610, "workflow_resumed", {"metadata": {"resume_from": {"phase": "build", "step": "compile"}}}),
        (3611, "phase_start", {"phase": "build"}),
        (3612, "step_start", {"phase": "build", "step": "compile"}),
        (3620, "step_complete", {"phase": "build", "step": "compile", "duration_ms": 8000}),
        (3621, "phase_complete", {"phase": "build"}),
        (3622, "workflow_complete", {}),
    )
    timeline = build_timeline(events)
    assert timeline.status == "completed" and timeline.sessions == 2
    assert spans(timeline, "build", "compile") == [
        (2000, 5000, "failed", 0), (6000, 9000, "failed", 0), (3_612_000, 3_620_000, "completed", 1),
    ]
    compile_bar = timeline.bar("build", "compile")
    assert compile_bar is not None
    assert compile_bar.status == "completed" and compile_bar.retries == 1 and compile_bar.error is None
    assert [a.error.code for a in compile_bar.attempts if a.error] == ["E1", "E2"]
    assert compile_bar.duration_ms == 3000 + 3000 + 8000
    assert spans(timeline, "build") == [(1000, 10_000, "failed", 0), (3_611_000, 3_621_000, "completed", 1)]
    assert spans(timeline, "run") == [(0, 10_000, "failed", 0), (3_610_000, 3_622_000, "completed", 1)]
    assert timeline.active_ms == 10_000 + 12_000  # the hour between failure and resume is not work
    resume = [m for m in timeline.markers if m.kind == "resume"]
    assert [(m.at_ms, m.event_id, m.phase, m.step, m.label) for m in resume] == [
        (3_610_000, 9, "build", "compile", "resumed at build/compile")
    ]
    # The timeline agrees with the reducer about the step and the run.
    state = reconstruct(initial_state(RUN, None, None, None), events)
    step = state["phases"]["build"]["steps"][0]
    assert (step["status"], step["attempts"], step["retries"]) == ("completed", 3, 1)
    assert len(compile_bar.attempts) == step["attempts"] and state["status"] == timeline.status


def test_a_run_killed_mid_step_then_resumed() -> None:
    events = log(
        (0, "workflow_start", {}),
        (1, "step_start", {"phase": "frame", "step": "fetch"}),
        (2, "checkpoint", {"phase": "frame"}),
        # the process was killed here: no error event; resumed later
        (100, "workflow_resumed", {"phase": "frame", "step": "fetch"}),
        (101, "step_start", {"phase": "frame", "step": "fetch"}),
        (103, "step_complete", {"phase": "frame", "step": "fetch", "duration_ms": 2000}),
    )
    timeline = build_timeline(events, now=at(500))
    # The dead session ends at the last thing that happened before the resume.
    assert spans(timeline, "run") == [(0, 2000, "interrupted", 0), (100_000, 500_000, "running", 1)]
    assert spans(timeline, "frame", "fetch") == [(1000, 2000, "interrupted", 0), (101_000, 103_000, "completed", 1)]
    # frame had no phase_start: it runs from its first step, and is still open in the running run.
    assert spans(timeline, "frame") == [(1000, 2000, "interrupted", 0), (101_000, 500_000, "running", 1)]
    assert timeline.status == "in_progress" and timeline.end_ms == 500_000
    assert [m.label for m in timeline.markers] == ["resumed at frame/fetch"]
    # Without ``now`` a running run ends at its last event.
    assert build_timeline(events).end_ms == 103_000


def test_waits_for_approval_pauses_and_a_denial() -> None:
    events = log(
        (0, "workflow_start", {}),
        (1, "step_complete", {"phase": "evaluate", "step": "test", "duration_ms": 1000}),
        (2, "approval_request", {"phase": "release", "message": "merge PR #7?"}),
        (3, "workflow_paused", {"message": "waiting for approval"}),
        (60, "approval_granted", {"phase": "release", "user": "ana", "message": "ship it"}),
        (61, "workflow_resumed", {"phase": "release"}),
        (62, "approval_request", {"phase": "release", "message": "deploy?"}),
        (70, "approval_denied", {"phase": "release", "user": "bo"}),
        (71, "workflow_cancelled", {"message": "deploy refused"}),
    )
    timeline = build_timeline(events)
    approvals = timeline.rows("approval")
    assert [(b.label, b.status, b.phase) for b in approvals] == [
        ("approval (release)", "granted", "release"), ("approval (release)", "denied", "release"),
    ]
    assert [(a.start_ms, a.end_ms) for b in approvals for a in b.attempts] == [(2000, 60_000), (62_000, 70_000)]
    # a step_complete with no step_start is placed from its reported duration
    assert spans(timeline, "evaluate", "test") == [(0, 1000, "completed", 0)]
    assert spans(timeline, "run") == [(0, 3000, "paused", 0), (61_000, 71_000, "cancelled", 1)]
    assert timeline.status == "cancelled"
    kinds = [(m.kind, m.event_id) for m in timeline.markers]
    assert kinds == [("approval_request", 3), ("pause", 4), ("approval_decision", 5), ("resume", 6),
                     ("approval_request", 7), ("approval_decision", 8), ("cancel", 9)]
    # Approval rows sit under their phase, after its steps.
    order = [(b.kind, b.label) for b in timeline.bars]
    assert order.index(("phase", "release")) < order.index(("approval", "approval (release)"))
    assert [m.label for m in timeline.markers if m.kind == "approval_request"] == [
        "approval requested: merge PR #7?", "approval requested: deploy?"]


def test_lineage_comes_from_metadata_and_the_rerun_event() -> None:
    original = "acme/widget-service/11111111-1111-4111-8111-111111111111"
    child = "acme/widget-service/22222222-2222-4222-8222-222222222222"
    metadata = {"run_id": RUN, "phases": ["frame", "build"],
                "relationships": {"rerun_of": original, "parent_run_id": original, "child_runs": [child]},
                "root_run_id": original}
    events = log((0, "workflow_rerun", {"metadata": {"rerun_of": original, "changed_params": {"model": ["a", "b"]}}}),
                 (1, "workflow_start", {}))
    timeline = build_timeline(events, metadata)
    assert timeline.lineage.rerun_of == original and timeline.lineage.child_runs == (child,)
    assert timeline.lineage.root_run_id == original
    assert timeline.lineage.rerun_changes["changed_params"] == {"model": ["a", "b"]}
    assert [(m.kind, m.label) for m in timeline.markers] == [("rerun", f"re-run of {original}")]
    # Only the phases the run declares are drawn (others appear once they have events).
    assert [b.label for b in timeline.rows("phase")] == ["frame", "build"]
    assert spans(timeline, "run") == [(1000, 1000, "running", 0)]


def test_no_events_and_vendor_events() -> None:
    empty = build_timeline([], {"run_id": RUN})
    assert empty.origin is None and empty.end_ms == 0 and empty.sessions == 0 and empty.status == "pending"
    assert [b.label for b in empty.bars] == ["run", *PHASES] and all(not b.attempts for b in empty.bars)
    vendor = build_timeline(log((0, "x-acme.deploy_start", {"phase": "release"})))
    assert all(not bar.attempts for bar in vendor.bars) and vendor.event_count == 1


def test_reconstructed_events_are_marked_approximate() -> None:
    events = log(
        (0, "workflow_start", {"metadata": {"reconstructed": {"timing": "recorded"}}}),
        (600, "step_complete", {"phase": "frame", "step": "fetch", "duration_ms": 0,
                                "metadata": {"reconstructed": {"timing": "approximate"}}}),
    )
    timeline = build_timeline(events)
    assert timeline.reconstructed
    fetch = timeline.bar("frame", "fetch")
    assert fetch is not None and [a.time_known for a in fetch.attempts] == [False]
    run = timeline.bar("frame")
    assert run is not None and not run.attempts[0].time_known


# Random logs: the timeline never contradicts the reducer, and every attempt lies on the axis. -------

_steps = st.sampled_from(["fetch", "spec", "implement"])


@st.composite
def event_logs(draw: st.DrawFn) -> list[dict[str, Any]]:
    entries = []
    seconds = 0.0
    for _ in range(draw(st.integers(1, 30))):
        kind = draw(st.sampled_from(sorted(EVENT_TYPES)))
        fields: dict[str, Any] = {}
        needs = required_fields(kind)
        if "phase" in needs or draw(st.booleans()):
            fields["phase"] = draw(st.sampled_from(PHASES))
        if "step" in needs:
            fields["step"] = draw(_steps)
        if "duration_ms" in needs or draw(st.integers(0, 3)) == 0:
            fields["duration_ms"] = draw(st.integers(0, 20_000))
        if "error" in needs:
            fields["error"] = {"code": "E", "message": "failed"}
        seconds += draw(st.sampled_from([0, 0.001, 0.5, 3, 600]))
        entries.append((seconds, kind, fields))
    return log(*entries)


@settings(max_examples=80, deadline=None)
@given(event_logs())
def test_random_logs_agree_with_the_reducer(events: list[dict[str, Any]]) -> None:
    timeline = build_timeline(events)
    state = reconstruct(initial_state(RUN, None, None, None), events)
    assert timeline.status == state["status"]
    assert timeline.end_ms == epoch_ms(events[-1]["timestamp"]) - epoch_ms(timeline.origin or "")
    for bar in timeline.bars:
        for attempt in bar.attempts:
            assert 0 <= attempt.start_ms <= attempt.end_ms <= timeline.end_ms
    reducer_steps = {(p, s["id"]): s for p, phase in state["phases"].items() for s in phase["steps"]}
    drawn = {(bar.phase, bar.step): bar for bar in timeline.rows("step")}
    assert set(drawn) == set(reducer_steps)
    for key, step in reducer_steps.items():
        bar = drawn[key]
        assert bar.retries == step["retries"]
        ends = [e["type"] for e in events if (e.get("phase"), e.get("step")) == key and e["type"] != "step_retry"]
        if ends and ends[-1] in ("step_complete", "step_error", "step_skip"):
            assert bar.status == step["status"]
    json.dumps(timeline.to_json())


def test_build_timeline_is_pure(tmp_path: Path) -> None:
    events = log((0, "workflow_start", {}), (1, "step_start", {"phase": "build", "step": "x"}))
    frozen = json.dumps(events)
    first = build_timeline(events, now=at(10))
    assert json.dumps(events) == frozen  # the events are not changed
    assert build_timeline(events, now=at(10)) == first  # same input, same timeline


def test_a_long_idle_gap_is_drawn_narrow() -> None:
    from faber_host.views.axis import BREAK_SHARE, Axis
    from faber_host.views.chart import Scale
    from faber_host.views.text import chart_lines

    day = 86_400
    events = log(
        (0, "workflow_start", {}),
        (1, "step_start", {"phase": "build", "step": "compile"}),
        (61, "step_error", {"phase": "build", "step": "compile", "error": {"code": "E", "message": "m"}}),
        (62, "workflow_error", {"error": {"code": "E", "message": "m"}}),
        (2 * day, "workflow_resumed", {}),
        (2 * day + 1, "step_start", {"phase": "build", "step": "compile"}),
        (2 * day + 121, "step_complete", {"phase": "build", "step": "compile", "duration_ms": 120_000}),
        (2 * day + 122, "workflow_complete", {}),
    )
    timeline = build_timeline(events)
    axis = Axis.of(timeline)
    assert axis.breaks == ((62_000, 2 * day * 1000),) and axis.active_ms == 62_000 + 122_000
    # The work before and after the gap shares the width to scale; the gap takes BREAK_SHARE of it.
    assert axis.fraction(62_000) == pytest.approx(62 / 184 * (1 - BREAK_SHARE))
    assert axis.fraction(2 * day * 1000) == pytest.approx(62 / 184 * (1 - BREAK_SHARE) + BREAK_SHARE)
    assert axis.fraction(timeline.end_ms) == 1.0 and axis.fraction(0) == 0.0
    samples = [axis.fraction(ms) for ms in range(0, timeline.end_ms + 1, 997)]
    assert samples == sorted(samples)  # never goes back
    assert all(not (62_000 < at < 2 * day * 1000) for at, _ in axis.ticks(8))  # no tick inside the gap
    compile_columns = [
        (Scale(axis, 50).column(a.start_ms), Scale(axis, 50).column(a.end_ms))
        for a in (timeline.bar("build", "compile") or build_timeline([])).attempts
    ]
    assert compile_columns[0][1] - compile_columns[0][0] >= 10  # the first try is visible, not a sliver
    lines = chart_lines(timeline)
    assert "//" in lines[0] and lines[-1].endswith("// 1d 23h idle, not to scale")
    # Short gaps are drawn to scale.
    assert Axis.of(build_timeline(events[:4])).breaks == ()


def test_free_form_metadata_never_breaks_the_state_or_the_timeline(tmp_path: Path) -> None:
    """Event metadata is the caller's: odd shapes where faber reads a value are ignored, not fatal."""
    from faber_backend_local_files.store import LocalRunStore
    from faber_hookspecs.run_id import RunId
    from faber_hookspecs.state import RunState

    store = LocalRunStore(str(tmp_path), sync=False)
    run_id = RunId.generate("acme", "widget-service")
    store.create_run({"run_id": str(run_id), "work_id": "1", "workflow_id": "default", "created_at": at(0)})
    for metadata in ({"resume_from": "build"}, {"resume_from": {"phase": 5, "step": ["x"]}},
                     {"resume_from": {"phase": "nope"}}, {"reconstructed": True}, {"rerun_of": 7}):
        kind = "workflow_rerun" if "rerun_of" in metadata else "workflow_resumed"
        _, state = store.append(run_id, {"type": kind, "phase": "build", "metadata": metadata})
        RunState.model_validate(state)  # still a valid state
    assert [r["phase"] for r in state["resumes"]] == ["build", "build", "build", "build"]
    timeline = build_timeline(store.iter_events(run_id))
    assert [m.label for m in timeline.markers if m.kind == "resume"] == ["resumed at build"] * 4
    assert not timeline.reconstructed
    assert store.reconstruct(run_id) == state


def test_a_step_is_drawn_inside_its_phase_and_a_reported_figure_is_marked() -> None:
    """A step that reports (--duration-ms) more than its phase has run, with no step_start, is drawn
    from its phase's start, never before it; its figure is the reported one, marked as such."""
    from faber_host.views.text import chart_lines

    events = log(
        (0, "workflow_start", {}),
        (1, "phase_start", {"phase": "build"}),
        (2, "step_complete", {"phase": "build", "step": "compile", "duration_ms": 3_600_000}),
        (3, "step_start", {"phase": "build", "step": "test"}),
        (5, "step_complete", {"phase": "build", "step": "test"}),
        (6, "phase_complete", {"phase": "build"}),
        (7, "workflow_complete", {}),
    )
    timeline = build_timeline(events)
    assert spans(timeline, "build") == [(1000, 6000, "completed", 0)]
    assert spans(timeline, "build", "compile") == [(1000, 2000, "completed", 0)]
    for bar in timeline.rows("step"):
        phase = timeline.bar(bar.phase or "")
        assert phase is not None and phase.start_ms is not None and bar.start_ms is not None
        assert phase.start_ms <= bar.start_ms and (bar.end_ms or 0) <= (phase.end_ms or 0)
    compile_bar, test_bar = timeline.bar("build", "compile"), timeline.bar("build", "test")
    assert compile_bar is not None and compile_bar.reported and compile_bar.duration_ms == 3_600_000
    assert test_bar is not None and not test_bar.reported and test_bar.duration_ms == 2000
    lines = chart_lines(timeline)
    compile_line = next(line for line in lines if line.lstrip().startswith("compile"))
    test_line = next(line for line in lines if line.lstrip().startswith("test"))
    assert compile_line.split("|")[2].split()[:2] == ["1h", "00m*"] and "*" not in test_line.split("|")[2]
    assert lines[-1].endswith("* as the step reported it (--duration-ms), not measured")
    shown = {bar["label"]: bar["duration_reported"] for bar in timeline.to_json()["bars"]}
    assert shown["compile"] is True and shown["test"] is False and shown["build"] is False

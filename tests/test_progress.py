"""The resume point is a pure function of the run's state and the resolved workflow."""

from __future__ import annotations

from typing import Any

import pytest
from faber_hookspecs.catalogue import PHASES
from faber_hookspecs.reducer import apply_event, initial_state
from faber_hookspecs.state import RunState
from faber_hookspecs.workflow import Autonomy, ResolvedPhase, ResolvedStep, ResolvedWorkflow

from faber_host.runner.progress import Selection, plan

RUN = "acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63"


def workflow(approvals: list[str] | None = None) -> ResolvedWorkflow:
    layout = {"frame": ["fetch"], "architect": [], "build": ["compile", "package"], "evaluate": ["test"],
              "release": ["ship"]}
    phases = [
        ResolvedPhase(name=name, steps=[  # type: ignore[arg-type]
            ResolvedStep(phase=name, id=step, run="true", source="w", file="w.json",  # type: ignore[arg-type]
                         json_path=f"$.phases.{name}.steps[{i}]") for i, step in enumerate(layout[name])
        ]) for name in PHASES
    ]
    return ResolvedWorkflow(id="w", file="w.json", inheritance_chain=["w"], files=["w.json"], phases=phases,
                            autonomy=Autonomy(level="guarded", require_approval_for=approvals or []))  # type: ignore[arg-type]


def state_after(*events: dict[str, Any]) -> RunState:
    state = initial_state(RUN, "1", "w", "2026-11-26T07:00:00.000Z")
    for number, event in enumerate(events, start=1):
        apply_event(state, {"event_id": number, "timestamp": f"2026-11-26T07:00:{number:02d}.000Z", "run_id": RUN,
                            **event})
    return RunState.model_validate(state)


def done(phase: str, step: str) -> list[dict[str, Any]]:
    return [{"type": "step_start", "phase": phase, "step": step},
            {"type": "step_complete", "phase": phase, "step": step, "duration_ms": 1}]


FRAME_DONE = [{"type": "workflow_start"}, {"type": "phase_start", "phase": "frame"}, *done("frame", "fetch"),
              {"type": "phase_complete", "phase": "frame"}, {"type": "phase_skip", "phase": "architect"}]


def test_a_failed_step_is_next_and_done_steps_are_listed() -> None:
    state = state_after(*FRAME_DONE, {"type": "phase_start", "phase": "build"}, *done("build", "compile"),
                        {"type": "step_start", "phase": "build", "step": "package"},
                        {"type": "step_error", "phase": "build", "step": "package",
                         "error": {"code": "E", "message": "m"}})
    result = plan(state, workflow(), Selection())
    assert (result.next_action, result.phase, result.step and result.step.id) == ("run_step", "build", "package")
    assert result.completed_steps == {"frame": ["fetch"], "build": ["compile"]}
    assert result.completed_phases == ["frame"]
    assert [s.key for s in result.remaining] == ["build:package", "evaluate:test", "release:ship"]


def test_an_interrupted_step_runs_again_and_a_new_run_starts_at_the_top() -> None:
    crashed = state_after(*FRAME_DONE, {"type": "step_start", "phase": "build", "step": "compile"})
    assert plan(crashed, workflow(), Selection()).step.key == "build:compile"  # type: ignore[union-attr]
    assert plan(state_after(), workflow(), Selection()).step.key == "frame:fetch"  # type: ignore[union-attr]


def test_a_phase_whose_steps_are_done_needs_closing_then_the_run_needs_finishing() -> None:
    events = [*FRAME_DONE, {"type": "phase_start", "phase": "build"}, *done("build", "compile"),
              *done("build", "package")]
    assert plan(state_after(*events), workflow(), Selection()).next_action == "close_phase"
    everything = [*events, {"type": "phase_complete", "phase": "build"}, *done("evaluate", "test"),
                  {"type": "phase_complete", "phase": "evaluate"}, *done("release", "ship"),
                  {"type": "phase_complete", "phase": "release"}]
    finished = plan(state_after(*everything), workflow(), Selection())
    assert finished.next_action == "finish" and finished.remaining == []
    assert finished.completed_phases == ["frame", "build", "evaluate", "release"]


REQUEST = {"type": "approval_request", "phase": "release"}


@pytest.mark.parametrize(
    ("decisions", "action"),
    [
        ([], "request_approval"),
        ([REQUEST], "await_approval"),
        ([REQUEST, {"type": "approval_granted", "phase": "release"}], "run_step"),
        ([REQUEST, {"type": "approval_denied", "phase": "release"}], "end_denied"),
        ([{"type": "approval_denied", "phase": "release"}, {"type": "approval_granted", "phase": "release"}],
         "run_step"),
    ],
)
def test_an_approval_gate_before_a_phase(decisions: list[dict[str, Any]], action: str) -> None:
    events = [*FRAME_DONE, *done("build", "compile"), *done("build", "package"),
              {"type": "phase_complete", "phase": "build"},
              *done("evaluate", "test"), {"type": "phase_complete", "phase": "evaluate"}, *decisions]
    result = plan(state_after(*events), workflow(approvals=["release"]), Selection())
    assert (result.next_action, result.phase) == (action, "release")
    autonomous = plan(state_after(*events), workflow(approvals=["release"]), Selection(autonomy="autonomous"))
    assert autonomous.next_action == "run_step"


def test_start_at_reopens_completed_steps_from_there_on_and_selection_skips_phases() -> None:
    state = state_after(*FRAME_DONE, *done("build", "compile"), *done("build", "package"))
    again = plan(state, workflow(), Selection(start_at="build:package"))
    assert again.step.key == "build:package" and again.completed_steps["build"] == ["compile"]  # type: ignore[union-attr]
    only_release = plan(state, workflow(), Selection(phases=frozenset({"release"})))
    assert only_release.step.key == "release:ship"  # type: ignore[union-attr]


# Every kind of stopped run, and where it continues: (events after FRAME_DONE, next action, phase, step).
BUILD = [{"type": "phase_start", "phase": "build"}, *done("build", "compile")]
STOPPED = {
    "failed at a step": ([*BUILD, {"type": "step_start", "phase": "build", "step": "package"},
                          {"type": "step_error", "phase": "build", "step": "package", "error": {"code": "E"}},
                          {"type": "workflow_error", "phase": "build", "error": {"code": "E"}}],
                         "run_step", "build", "package"),
    "failed in a phase": ([*BUILD, *done("build", "package"), {"type": "phase_error", "phase": "build",
                                                               "error": {"code": "E"}}],
                          "close_phase", "build", None),
    "cancelled mid-step": ([*BUILD, {"type": "step_start", "phase": "build", "step": "package"},
                            {"type": "workflow_cancelled"}], "run_step", "build", "package"),
    "crashed mid-step": ([*BUILD, {"type": "step_start", "phase": "build", "step": "package"}],
                         "run_step", "build", "package"),
    "retrying": ([*BUILD, {"type": "step_start", "phase": "build", "step": "package"},
                  {"type": "step_retry", "phase": "build", "step": "package"}], "run_step", "build", "package"),
    "paused between steps": ([*BUILD, {"type": "workflow_paused", "message": "lunch"}], "run_step", "build", "package"),
    "a skipped step counts as done": ([*BUILD, {"type": "step_skip", "phase": "build", "step": "package"}],
                                      "close_phase", "build", None),
    "a skipped phase counts as done": ([*BUILD, *done("build", "package"), {"type": "phase_complete", "phase": "build"},
                                        {"type": "phase_skip", "phase": "evaluate"}], "run_step", "release", "ship"),
    "a phase error after completion": ([*BUILD, *done("build", "package"), {"type": "phase_complete", "phase": "build"},
                                        {"type": "phase_error", "phase": "build", "error": {"code": "E"}}],
                                       "close_phase", "build", None),
}


@pytest.mark.parametrize("kind", STOPPED)
def test_every_kind_of_stopped_run_continues_at_its_first_unfinished_step(kind: str) -> None:
    events, action, phase, step = STOPPED[kind]
    result = plan(state_after(*FRAME_DONE, *events), workflow(), Selection())
    assert (result.next_action, result.phase, result.step and result.step.id) == (action, phase, step)
    assert result.completed_steps["frame"] == ["fetch"] and "frame" in result.completed_phases
    assert "build" not in result.completed_phases or kind.startswith("a skipped phase")
    if step is not None:
        assert result.remaining[0].key == f"{phase}:{step}"


def test_a_failed_phase_is_not_listed_as_completed_and_skipped_phases_are_not_either() -> None:
    events = [*BUILD, *done("build", "package"), {"type": "phase_error", "phase": "build", "error": {"code": "E"}}]
    result = plan(state_after(*FRAME_DONE, *events), workflow(), Selection())
    assert result.completed_phases == ["frame"], "architect was skipped, build failed"
    assert result.completed_steps == {"frame": ["fetch"], "build": ["compile", "package"]}
    assert [s.key for s in result.remaining] == ["evaluate:test", "release:ship"]


def test_a_run_that_never_started_starts_at_the_top() -> None:
    fresh = plan(state_after(), workflow(), Selection())
    assert (fresh.next_action, fresh.phase, fresh.completed_phases, fresh.completed_steps) == ("run_step", "frame", [], {})
    assert [s.key for s in fresh.remaining] == ["frame:fetch", "build:compile", "build:package", "evaluate:test",
                                                "release:ship"]


def phases_workflow(**changes: dict[str, Any]) -> ResolvedWorkflow:
    """workflow() with some phases changed (enabled, require_approval) and the autonomy given."""
    base = workflow()
    autonomy = changes.pop("autonomy", {})
    phases = [phase.model_copy(update=changes.get(phase.name, {})) for phase in base.phases]
    return base.model_copy(update={"phases": phases, "autonomy": Autonomy(**autonomy)})


def test_disabled_unselected_and_empty_phases_are_passed_over() -> None:
    state = state_after(*FRAME_DONE, *done("build", "compile"), *done("build", "package"))
    disabled = plan(state, phases_workflow(build={"enabled": False}), Selection())
    assert (disabled.next_action, disabled.phase) == ("run_step", "evaluate"), "build's steps are done, it is off"
    assert [s.key for s in disabled.remaining] == ["evaluate:test", "release:ship"]
    unselected = plan(state_after(), workflow(), Selection(phases=frozenset({"build", "release"})))
    assert unselected.step.key == "build:compile"  # type: ignore[union-attr]
    assert [s.key for s in unselected.remaining] == ["build:compile", "build:package", "release:ship"]
    assert plan(state_after(*FRAME_DONE), workflow(), Selection()).phase == "build", "architect has no steps"


@pytest.mark.parametrize(
    ("autonomy", "level", "gated"),
    [
        ({}, "assist", {"frame", "build", "evaluate", "release"}),
        ({}, "assisted", {"frame", "build", "evaluate", "release"}),
        ({}, "guarded", set()),
        ({"require_approval_for": ["build"]}, "guarded", {"build"}),
        ({"pause_before_release": True}, "guarded", {"release"}),
        ({"pause_before_release": False}, "guarded", set()),
        ({"require_approval_for": ["build"], "pause_before_release": True}, "autonomous", set()),
        ({"require_approval_for": ["build"]}, "dry-run", set()),
    ],
)
def test_which_phases_wait_for_a_person(autonomy: dict[str, Any], level: str, gated: set[str]) -> None:
    """The first step of each phase, with the phases before it done: gated ones ask for approval first."""
    build_done = [*FRAME_DONE, *done("build", "compile"), *done("build", "package"),
                  {"type": "phase_complete", "phase": "build"}]
    evaluate_done = [*build_done, *done("evaluate", "test"), {"type": "phase_complete", "phase": "evaluate"}]
    for name, before in (("frame", []), ("build", FRAME_DONE), ("evaluate", build_done), ("release", evaluate_done)):
        result = plan(state_after(*before), phases_workflow(autonomy=autonomy), Selection(autonomy=level))  # type: ignore[arg-type]
        assert (result.phase, result.next_action) == (name, "request_approval" if name in gated else "run_step")


def test_a_phase_that_requires_approval_itself_waits_at_guarded_only() -> None:
    wf = phases_workflow(build={"require_approval": True})
    assert plan(state_after(*FRAME_DONE), wf, Selection()).next_action == "request_approval"
    assert plan(state_after(*FRAME_DONE), wf, Selection(autonomy="autonomous")).next_action == "run_step"


def test_a_gate_counts_only_its_own_phase_and_only_before_the_phase_starts() -> None:
    wf = workflow(approvals=["build"])
    other = plan(state_after(*FRAME_DONE, {"type": "approval_request", "phase": "release"},
                             {"type": "approval_granted", "phase": "release"}), wf, Selection())
    assert other.next_action == "request_approval", "release's decision does not open build"
    asked = plan(state_after(*FRAME_DONE, {"type": "approval_request", "phase": "release"}), wf, Selection())
    assert asked.next_action == "request_approval", "a request for release is not one for build"
    started = plan(state_after(*FRAME_DONE, {"type": "phase_start", "phase": "build"}), wf, Selection())
    assert (started.next_action, started.step and started.step.key) == ("run_step", "build:compile")
    regranted = plan(state_after(*FRAME_DONE, {"type": "approval_granted", "phase": "build"},
                                 {"type": "approval_denied", "phase": "build"}), wf, Selection())
    assert regranted.next_action == "end_denied", "the latest decision counts"


def test_start_at_reopens_its_phase_and_every_later_step_but_no_earlier_one() -> None:
    everything = [*FRAME_DONE, {"type": "phase_start", "phase": "build"}, *done("build", "compile"),
                  *done("build", "package"), {"type": "phase_complete", "phase": "build"}, *done("evaluate", "test"),
                  {"type": "phase_complete", "phase": "evaluate"}, *done("release", "ship"),
                  {"type": "phase_complete", "phase": "release"}]
    state = state_after(*everything)
    at_compile = plan(state, workflow(), Selection(start_at="build:compile"))
    assert at_compile.step.key == "build:compile"  # type: ignore[union-attr]
    assert at_compile.completed_steps == {"frame": ["fetch"]} and at_compile.completed_phases == ["frame"]
    assert [s.key for s in at_compile.remaining] == ["build:compile", "build:package", "evaluate:test", "release:ship"]
    at_package = plan(state, workflow(), Selection(start_at="build:package"))
    assert at_package.step.key == "build:package"  # type: ignore[union-attr]
    assert at_package.completed_steps == {"frame": ["fetch"], "build": ["compile"]}
    at_test = plan(state, workflow(), Selection(start_at="evaluate:test"))
    assert at_test.step.key == "evaluate:test" and at_test.completed_phases == ["frame", "build"]  # type: ignore[union-attr]
    at_ship = plan(state, workflow(), Selection(start_at="release:ship"))
    assert at_ship.step.key == "release:ship"  # type: ignore[union-attr]
    assert at_ship.completed_phases == ["frame", "build", "evaluate"]

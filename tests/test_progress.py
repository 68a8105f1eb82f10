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

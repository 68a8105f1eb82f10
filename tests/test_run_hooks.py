"""The run hooks through the Python API: an installed executor is asked before the built-in shell
one, a backend can veto a resume, an executor's crash fails the step and not the run; and the live
display on a real terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import FABER, clean_environ, event_types, executed_steps, shell_step, write_workflow
from faber_hookspecs import hookimpl
from faber_hookspecs.errors import ResumeVetoed
from faber_hookspecs.execution import StepContext, StepResult
from faber_hookspecs.resume import ResumeContext
from faber_hookspecs.runs import RunRecord
from faber_hookspecs.workflow import ResolvedStep

from faber_host.api import Faber

WORKFLOW = {
    "id": "mixed",
    "autonomy": {"level": "autonomous"},
    "phases": {
        "architect": {"steps": [{"id": "spec", "prompt": "Write the spec for {work_id}"}]},
        "build": {"steps": [shell_step("compile", "true"), shell_step("broken", "exit 1")]},
    },
}


class AgentExecutor:
    """An executor a backend might install: it runs prompt steps, and claims shell step 'compile'."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    @hookimpl
    def faber_execute_step(self, step: ResolvedStep, context: StepContext) -> StepResult | None:
        if step.prompt is None and step.id != "compile":
            return None
        self.calls.append((step.key, step.prompt or "", context.environment))
        return StepResult(status="completed", executor="agent", duration_ms=5, metadata={"model": "test"})


def test_an_installed_executor_is_asked_before_the_shell(faber: Faber, project_dir: Path) -> None:
    write_workflow(project_dir, WORKFLOW)
    agent = AgentExecutor()
    faber.gateway.manager.register(agent, name="agent")
    outcome = faber.run_workflow("mixed", "12")
    assert outcome.status == "failed" and outcome.failed_step == "build:broken"
    assert [key for key, _, _ in agent.calls] == ["architect:spec", "build:compile"]
    assert agent.calls[0][1] == "Write the spec for 12"
    assert agent.calls[1][2]["FABER_STEP"] == "compile" and agent.calls[1][2]["FABER_PHASE"] == "build"
    assert executed_steps(project_dir) == ["broken"]  # the shell ran only what the agent left
    spec = next(e for e in faber.events(outcome.run_id, type="step_complete") if e.step == "spec")
    assert spec.metadata == {"attempt": 1, "executor": "agent", "model": "test"}


class Veto:
    @hookimpl
    def faber_on_resume(self, run: RunRecord, context: ResumeContext) -> None:
        assert context.resume_from is not None and context.resume_from.step == "broken"
        raise ResumeVetoed("the archive is still uploading")


class Crashing:
    @hookimpl(tryfirst=True)
    def faber_execute_step(self, step: ResolvedStep) -> Any:
        raise RuntimeError("the executor fell over")


def test_a_backend_can_veto_a_resume_and_nothing_is_recorded(faber: Faber, project_dir: Path) -> None:
    write_workflow(project_dir, WORKFLOW)
    faber.gateway.manager.register(AgentExecutor(), name="agent")
    run_id = faber.run_workflow("mixed", "12").run_id
    before = event_types(faber, run_id)
    faber.gateway.manager.register(Veto(), name="archive")
    with pytest.raises(ResumeVetoed, match=r"backend 'archive' refused to resume run .*: the archive is still up"):
        faber.resume_workflow(run_id)
    with pytest.raises(ResumeVetoed):
        faber.resume(run_id)
    assert event_types(faber, run_id) == before


def test_an_executor_that_raises_fails_the_step_not_the_run(faber: Faber, project_dir: Path) -> None:
    write_workflow(project_dir, {"id": "one", "autonomy": {"level": "autonomous"},
                                 "phases": {"build": {"steps": [shell_step("x", "true")]}}})
    faber.gateway.manager.register(Crashing(), name="crashing")
    outcome = faber.run_workflow("one", "1")
    assert outcome.status == "failed" and outcome.exit_code == 1
    error = next(iter(faber.events(outcome.run_id, type="step_error"))).error
    assert error is not None and error.code == "EXECUTOR_ERROR" and "the executor fell over" in error.message
    faber.gateway.manager.unregister(name="crashing")
    assert faber.resume_workflow(outcome.run_id).status == "completed"


def test_the_live_display_on_a_terminal(project_dir: Path) -> None:
    write_workflow(project_dir, {"id": "tty", "autonomy": {"level": "autonomous"}, "phases": {
        "build": {"steps": [shell_step("compile", "echo compiling widgets; sleep 0.3")]},
        "evaluate": {"steps": [shell_step("test", "exit 3")]},
    }})
    main, child = pty.openpty()
    process = subprocess.Popen([FABER, "run", "tty", "--work-id", "1"], cwd=project_dir,
                               env=clean_environ(TERM="xterm"),
                               stdin=child, stdout=child, stderr=child, close_fds=True)
    os.close(child)
    output = b""
    while True:
        ready, _, _ = select.select([main], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal closed: faber exited
            break
        if not chunk:
            break
        output += chunk
    os.close(main)
    assert process.wait(timeout=30) == 1
    text = " ".join(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode("utf-8", errors="replace")).split())
    assert "✓" in text and "compile" in text and "✗" in text and "compiling widgets" in text
    assert "failed at evaluate:test" in text and "faber run --resume" in text
    assert "[build] compile started" not in text  # the plain lines are for pipes

"""The shell executor, in process (so mutation testing sees it): what a ``run`` step is run with, and
what its events say when it completes, fails, is killed or runs out of time."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from faber_host.api import Faber
from faber_host.testing import GatewayFactory, TestProject


def run_steps(project: TestProject, gateway: GatewayFactory, *steps: dict[str, Any]) -> tuple[Faber, str, str]:
    """Run a one-phase autonomous workflow of ``steps`` for work id 7; the Faber, the run id and the outcome."""
    document = {"id": "shell", "autonomy": {"level": "autonomous"}, "phases": {"build": {"steps": list(steps)}}}
    (project.faber_dir / "workflows" / "shell.json").write_text(json.dumps(document))
    faber = Faber(project.project, gateway())
    outcome = faber.run_workflow("shell", "7")
    return faber, outcome.run_id, outcome.status


def last_event(faber: Faber, run_id: str, kind: str) -> Any:
    return [event for event in faber.events(run_id) if event.type == kind][-1]


def test_a_step_runs_in_the_project_root_with_the_run_variables_and_no_stdin(
    faber_project: TestProject, faber_gateway: GatewayFactory
) -> None:
    command = 'pwd; echo "$FABER_WORK_ID/$FABER_STEP/$FABER_ATTEMPT"; read line || echo "no stdin"; printf "a\\r\\nb\\n"'
    faber, run_id, status = run_steps(faber_project, faber_gateway, {"id": "look", "run": command})
    assert status == "completed"
    done = last_event(faber, run_id, "step_complete")
    assert done.metadata["executor"] == "shell" and done.metadata["exit_code"] == 0
    assert done.metadata["output_tail"] == f"{os.path.realpath(faber_project.root)}\n7/look/1\nno stdin\na\nb"
    assert done.duration_ms >= 0


def test_a_failing_step_reports_its_exit_code_and_last_line(
    faber_project: TestProject, faber_gateway: GatewayFactory
) -> None:
    faber, run_id, status = run_steps(faber_project, faber_gateway,
                                      {"id": "fail", "run": "echo first; echo '  the reason  '; echo; exit 3"})
    assert status == "failed"
    error = last_event(faber, run_id, "step_error")
    assert error.error.code == "STEP_FAILED" and error.error.recoverable
    assert error.error.message == "exit code 3: the reason"
    assert error.metadata["exit_code"] == 3 and error.metadata["output_tail"] == "first\n  the reason  \n"
    silent = run_steps(faber_project, faber_gateway, {"id": "quiet", "run": "exit 1"})
    assert last_event(silent[0], silent[1], "step_error").error.message == "exit code 1"


def test_a_step_killed_by_a_signal_says_which(faber_project: TestProject, faber_gateway: GatewayFactory) -> None:
    faber, run_id, _ = run_steps(faber_project, faber_gateway, {"id": "killed", "run": "kill -9 $$"})
    error = last_event(faber, run_id, "step_error")
    assert error.error.message == "killed by SIGKILL" and error.metadata["exit_code"] == -9


def test_a_timeout_stops_the_whole_process_group(faber_project: TestProject, faber_gateway: GatewayFactory) -> None:
    """The background child the shell started is stopped too, and the step fails as timed out."""
    pid_file = faber_project.root / "child.pid"
    command = "trap '' TERM; sleep 60 & echo $! > child.pid; echo started; wait"
    faber, run_id, status = run_steps(faber_project, faber_gateway, {"id": "slow", "run": command, "timeout": 1})
    assert status == "failed"
    error = last_event(faber, run_id, "step_error")
    assert error.error.code == "STEP_TIMEOUT" and error.error.recoverable
    assert error.error.message == "stopped after the step's timeout of 1 s"
    assert error.metadata["output_tail"] == "started"
    stat = Path(f"/proc/{int(pid_file.read_text())}/stat")  # gone, or a zombie its new parent has yet to reap
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z", "the background child lives on"

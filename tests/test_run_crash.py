"""`faber run` killed with SIGKILL in the middle of a step, then resumed to completion.

Real processes and a real signal: no step before the killed one runs twice, the killed step's shell
dies with faber (PR_SET_PDEATHSIG), the run is still in_progress (interrupted), and verify is clean
before and after the resume.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import FABER, Cli, clean_environ, event_types, executed_steps, shell_step, write_workflow

from faber_host.api import Faber

WORKFLOW = {
    "id": "crash",
    "autonomy": {"level": "autonomous"},
    "phases": {
        "frame": {"steps": [shell_step("fetch", "true"), shell_step("branch", "true")]},
        "architect": {"steps": [shell_step("spec", "echo spec > spec.md")]},
        # The first attempt says where it is and sleeps; faber is killed while it sleeps.
        "build": {"steps": [shell_step("compile", "if [ ! -f started ]; then echo $$ > step.pid; touch started; "
                                                  "exec sleep 60; fi")]},
        "evaluate": {"steps": [shell_step("test", "test -f spec.md")]},
        "release": {"steps": [shell_step("ship", "true")]},
    },
}


def test_sigkill_in_the_middle_of_a_step_then_resume(cli: Cli, faber: Faber, project_dir: Path) -> None:
    write_workflow(project_dir, WORKFLOW)
    process = subprocess.Popen([FABER, "run", "crash", "--work-id", "13"], cwd=project_dir, env=clean_environ(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (project_dir / "started").exists():
            assert time.monotonic() < deadline and process.poll() is None, "the step never started"
            time.sleep(0.01)
        step_pid = int((project_dir / "step.pid").read_text())
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        process.kill()
    assert _gone(step_pid), "the killed run's step kept running"

    run_id = faber.list_runs()[0].run_id
    state = faber.run(run_id).state
    assert state.status == "in_progress" and state.current_step == "compile"
    assert cli("runs", "verify", run_id).returncode == 0  # the log itself is sound after the kill
    context = cli.json("runs", "resume-context", run_id, "--json")
    assert context["resumable"] is True and context["next_step"]["id"] == "compile"  # type: ignore[index]
    assert context["next_step"]["status"] == "in_progress"  # type: ignore[index]

    resumed = cli("run", "--resume", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert executed_steps(project_dir) == ["fetch", "branch", "spec", "compile", "compile", "test", "ship"]
    kinds = event_types(faber, run_id)
    assert kinds.count("workflow_start") == 1 and kinds.count("workflow_resumed") == 1
    assert [e.step for e in faber.events(run_id, type="step_start")] == [
        "fetch", "branch", "spec", "compile", "compile", "test", "ship"
    ]
    assert faber.run(run_id).state.status == "completed"
    verified = cli("runs", "verify", run_id)
    assert verified.returncode == 0 and "ok" in verified.stdout


def _gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False

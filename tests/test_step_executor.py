"""The shell executor, in process (so mutation testing sees it): what a ``run`` step is run with, and
what its events say when it completes, fails, is killed or runs out of time."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from faber_hookspecs.execution import StepContext

from faber_host.api import Faber
from faber_host.runner.shell import _child_setup, _start
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


def gone(pid: int) -> bool:
    """The process has exited: no longer there, or a zombie its new parent has yet to reap."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_step_runs_in_the_project_root_with_the_run_variables_and_no_stdin(
    faber_project: TestProject, faber_gateway: GatewayFactory
) -> None:
    command = ('pwd; echo "$FABER_WORK_ID/$FABER_STEP/$FABER_ATTEMPT"; read line || echo "no stdin"; printf "a\\r\\nb\\n"; '
               'echo "on stderr" >&2')
    typed, saved = os.pipe(), os.dup(0)  # faber's own stdin holds a line the step must not read
    os.write(typed[1], b"typed\n")
    os.dup2(typed[0], 0)
    try:
        faber, run_id, status = run_steps(faber_project, faber_gateway, {"id": "look", "run": command})
    finally:
        os.dup2(saved, 0)
        for fd in (*typed, saved):
            os.close(fd)
    assert status == "completed"
    done = last_event(faber, run_id, "step_complete")
    assert done.metadata["executor"] == "shell" and done.metadata["exit_code"] == 0
    assert done.metadata["output_tail"] == f"{os.path.realpath(faber_project.root)}\n7/look/1\nno stdin\na\nb\non stderr"
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
    faber, run_id, _ = run_steps(faber_project, faber_gateway, {"id": "killed", "run": "kill -9 $$"},
                                 {"id": "termed", "run": "kill -TERM $$"}, {"id": "realtime", "run": "kill -35 $$"})
    error = last_event(faber, run_id, "step_error")
    assert error.error.message == "killed by SIGKILL" and error.metadata["exit_code"] == -9
    for step, message, code in [("termed", "killed by SIGTERM", -15), ("realtime", "killed by signal 35", -35)]:
        _, run_id, _ = run_steps(faber_project, faber_gateway, {"id": step, "run": f"kill -{-code} $$"})
        error = last_event(faber, run_id, "step_error")
        assert (error.error.message, error.metadata["exit_code"]) == (message, code)


def test_a_step_leads_its_own_session_blocks_no_signal_and_dies_with_faber(
    faber_project: TestProject, faber_gateway: GatewayFactory
) -> None:
    """Its own session and process group (so a stop reaches all it started, and a terminal's ^C does
    not), no signal blocked whatever faber has blocked, SIGTERM and SIGINT not ignored, and SIGKILL as
    its parent-death signal. Seen by python after the shell execs it (exec keeps all of these; the
    shell's own mask is no witness: dash blocks every signal while it waits for a command)."""
    probe = ("import ctypes, os, signal; death = ctypes.c_int(); ctypes.CDLL(None).prctl(2, ctypes.byref(death), 0, 0, 0); "
             "print(os.getsid(0) == os.getpgrp() == os.getpid(), signal.pthread_sigmask(signal.SIG_BLOCK, []), "
             "signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, signal.getsignal(signal.SIGINT) == signal.default_int_handler, "
             "death.value)")
    command = f"exec {shlex.quote(sys.executable)} -c {shlex.quote(probe)}"
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM, signal.SIGINT, signal.SIGUSR1])
    try:
        faber, run_id, status = run_steps(faber_project, faber_gateway, {"id": "probe", "run": command})
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    assert status == "completed"
    tail = last_event(faber, run_id, "step_complete").metadata["output_tail"]
    assert tail == f"True set() True True {int(signal.SIGKILL)}"


def test_a_step_started_as_faber_dies_ends_at_once() -> None:
    """PR_SET_PDEATHSIG does nothing if the parent died before the child asked for it: the child checks."""
    assert subprocess.run(["/bin/sh", "-c", "exit 0"], preexec_fn=_child_setup(os.getpid())).returncode == 0
    orphan = subprocess.run(["/bin/sh", "-c", "exit 0"], preexec_fn=_child_setup(os.getpid() + 1))
    assert orphan.returncode == 137


def test_a_step_that_cannot_start_leaves_the_signal_mask_as_it_was(tmp_path: Path) -> None:
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    context = StepContext(run_id="r", workflow_id="w", phase="build", working_directory=str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError):
        _start("true", context)
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before


def test_a_timeout_stops_the_whole_process_group(faber_project: TestProject, faber_gateway: GatewayFactory) -> None:
    """The background child the shell started is stopped too, and the step fails as timed out."""
    pid_file = faber_project.root / "child.pid"
    command = "trap '' TERM; sleep 6 & echo $! > child.pid; echo started; wait; echo lived > log"
    faber, run_id, status = run_steps(faber_project, faber_gateway, {"id": "slow", "run": command, "timeout": 1})
    assert status == "failed"
    error = last_event(faber, run_id, "step_error")
    assert error.error.code == "STEP_TIMEOUT" and error.error.recoverable
    assert error.error.message == "stopped after the step's timeout of 1 s"
    assert error.metadata["output_tail"] == "started"
    assert gone(int(pid_file.read_text())), "the background child lives on"
    assert not (faber_project.root / "log").exists(), "the shell ran to its end"


def test_a_timeout_sends_sigterm_to_the_whole_group_and_waits_its_grace_period(
    faber_project: TestProject, faber_gateway: GatewayFactory
) -> None:
    """The shell and a background child both get SIGTERM; the child's half-second cleanup finishes
    within the grace period, before any SIGKILL. The shell exits 0 on it: still a timeout."""
    child = 'trap "sleep 0.5; echo child cleaned >> log; exit 0" TERM; for i in $(seq 100); do sleep 0.1; done'
    command = f"trap 'echo shell stopped >> log; exit 0' TERM; sh -c {shlex.quote(child)} & echo started; wait"
    faber, run_id, status = run_steps(faber_project, faber_gateway, {"id": "slow", "run": command, "timeout": 1})
    assert status == "failed"
    error = last_event(faber, run_id, "step_error")
    assert error.error.code == "STEP_TIMEOUT" and error.metadata["exit_code"] == 0
    assert sorted((faber_project.root / "log").read_text().splitlines()) == ["child cleaned", "shell stopped"]


def test_a_member_that_ignores_sigterm_is_killed_after_the_shell_is_gone(
    faber_project: TestProject, faber_gateway: GatewayFactory
) -> None:
    """SIGTERM ends the shell at once; the background child ignoring it still gets SIGKILL, so it
    never reaches its last line, and nothing of the step is left running."""
    command = "sh -c 'trap \"\" TERM; echo $$ > child.pid; sleep 6; echo lived >> log' & echo started; wait"
    faber, run_id, status = run_steps(faber_project, faber_gateway, {"id": "slow", "run": command, "timeout": 1})
    assert status == "failed" and last_event(faber, run_id, "step_error").error.code == "STEP_TIMEOUT"
    assert gone(int((faber_project.root / "child.pid").read_text()))
    assert not (faber_project.root / "log").exists(), "the background child ran to its end"


def test_a_timed_out_step_returns_only_once_its_group_is_gone(
    faber_project: TestProject, faber_gateway: GatewayFactory
) -> None:
    """A background child that ignores SIGTERM and does not hold the output pipe: the shell's end closes
    the output, yet the step must not return (nor faber exit) before the stop has killed the child."""
    command = "sh -c 'trap \"\" TERM; echo $$ > child.pid; exec sleep 6' > /dev/null 2>&1 & echo started; wait"
    faber, run_id, status = run_steps(faber_project, faber_gateway, {"id": "slow", "run": command, "timeout": 1})
    assert status == "failed" and last_event(faber, run_id, "step_error").error.code == "STEP_TIMEOUT"
    assert gone(int((faber_project.root / "child.pid").read_text())), "the background child outlived the step"

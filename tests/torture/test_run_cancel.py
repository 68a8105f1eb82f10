"""Stopping `faber run` (SIGINT, SIGTERM) ends the running step's whole process group, background
children included, and records the run as cancelled. Repeated: leaving children behind was a race."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from conftest import FABER, clean_environ, write_workflow

from faber_host.api import Faber

from .kit import record

# Three background children, one ignoring SIGTERM (so only the SIGKILL after the grace period ends
# it); then the shell writes its pid, which is its process group (faber starts it in a new session).
STEP = ("sh -c 'trap \"\" TERM; touch trapped; sleep 30' & a=$!; sleep 30 & b=$!; sleep 30 & "
        "echo $a $b $! > children; while [ ! -e trapped ]; do sleep 0.01; done; "
        "echo $$ > group.tmp; mv group.tmp group; wait")
WORKFLOW = {"id": "background", "autonomy": {"level": "autonomous"},
            "phases": {"build": {"steps": [{"id": "spawn", "run": STEP}]}}}


def living_members(group: int) -> list[str]:
    """The processes of ``group`` that are not dead: any state but zombie (Z) or dead (X)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):  # it ended meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        if int(fields[2]) == group and fields[0] not in ("Z", "X"):
            found.append(f"{entry.name} ({fields[0]}): {stat.split(')')[0]})")
    return found


def wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert process.poll() is None, f"faber ended before the step started: {process.communicate()}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_stopping_faber_run_ends_the_steps_whole_process_group(project_dir: Path, faber: Faber) -> None:
    write_workflow(project_dir, WORKFLOW)
    tries = 0
    for signum in (signal.SIGINT, signal.SIGTERM) * 3:
        for name in ("group", "children", "trapped"):
            (project_dir / name).unlink(missing_ok=True)
        process = subprocess.Popen([FABER, "run", "background", "--work-id", "W-1"], cwd=project_dir,
                                   env=clean_environ(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(project_dir / "group", process)
            group = int((project_dir / "group").read_text())
            children = [int(pid) for pid in (project_dir / "children").read_text().split()]
            assert len(children) == 3 and len(living_members(group)) >= 4  # the shell and its children
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
        tries += 1
        assert process.returncode == 128 + signum, stdout + stderr
        assert "Traceback" not in stderr
        # Every member was sent SIGKILL at the latest before faber exited; a killed process may take a
        # moment to be reaped by init, so wait for the living ones to go rather than look once.
        deadline = time.monotonic() + 10
        while living_members(group) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert living_members(group) == [], f"{signal.Signals(signum).name} left processes behind"
        run_id = faber.list_runs()[0].run_id
        state = faber.run(run_id).state
        assert state.status == "cancelled" and state.phases["build"].steps[0].status == "cancelled"
        cancelled = [event for event in faber.events(run_id) if event.type == "workflow_cancelled"]
        assert len(cancelled) == 1 and cancelled[0].metadata["signal"] == signal.Signals(signum).name
    record("test_stopping_faber_run_ends_the_steps_whole_process_group", inputs_tried=tries)

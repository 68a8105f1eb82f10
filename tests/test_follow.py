"""`faber events RUN --follow`: events written by another process appear as they are written."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
from pathlib import Path

from conftest import FABER, Cli, assert_one_line_error, clean_environ

from faber_host.api import Faber

WAIT = 30.0  # seconds: generous on a loaded 2-core machine; a passing run takes a fraction of this


class Follower:
    """A real `faber events --follow` process, its stdout read line by line on a thread."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [FABER, "events", *args, "--follow", "--interval", "0.05"], cwd=cwd, env=clean_environ(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self) -> str | None:
        return self.lines.get(timeout=WAIT)

    def finish(self) -> tuple[int, str]:
        code = self.process.wait(timeout=WAIT)
        assert self.process.stderr is not None
        return code, self.process.stderr.read()


def emit_from_another_process(cwd: Path, run: str, *args: str) -> None:
    subprocess.run([FABER, "event", "emit", run, *args], cwd=cwd, env=clean_environ(), check=True,
                   capture_output=True, timeout=WAIT)


def test_follow_prints_each_event_as_another_process_writes_it_and_stops_when_the_run_ends(
    faber: Faber, project_dir: Path, run_id: str
) -> None:
    faber.emit(run_id, "workflow_start")  # written before following starts
    follower = Follower(project_dir, run_id[-36:][:8])
    assert follower.next_line().split() == ["ID", "TIME", "TYPE", "WHERE", "STATUS", "MESSAGE"]  # type: ignore[union-attr]
    assert follower.next_line().split()[:3] == ["1", faber.run(run_id).state.started_at, "workflow_start"]  # type: ignore[union-attr]
    # Each event is seen before the next one is written: the output is live, not buffered.
    for number, (kind, *options) in enumerate(
        [("phase_start", "--phase", "build"), ("step_start", "--phase", "build", "--step", "compile"),
         ("step_complete", "--phase", "build", "--step", "compile", "--duration-ms", "5", "--message", "ok")],
        start=2,
    ):
        emit_from_another_process(project_dir, run_id, kind, *options)
        fields = follower.next_line().split()  # type: ignore[union-attr]
        assert (fields[0], fields[2]) == (str(number), kind)
    assert fields[3:] == ["build/compile", "-", "ok"]
    assert follower.process.poll() is None  # still following a running run
    emit_from_another_process(project_dir, run_id, "workflow_complete")
    assert follower.next_line().split()[:3][::2] == ["5", "workflow_complete"]  # type: ignore[index, union-attr]
    assert follower.next_line() is None  # it stopped by itself: the run ended
    assert follower.finish() == (0, "")


def test_ctrl_c_stops_following_quietly(project_dir: Path, run_id: str) -> None:
    follower = Follower(project_dir, run_id, "--json")
    emit_from_another_process(project_dir, run_id, "workflow_start")
    assert json.loads(follower.next_line() or "")["type"] == "workflow_start"
    follower.process.send_signal(signal.SIGINT)
    assert follower.next_line() is None
    assert follower.finish() == (0, "")


def test_filters_apply_but_the_end_of_the_run_is_still_seen(faber: Faber, project_dir: Path, run_id: str) -> None:
    follower = Follower(project_dir, run_id, "--type", "step_error", "--json")
    faber.emit(run_id, "workflow_start")
    faber.emit(run_id, "step_error", phase="build", step="compile", error={"code": "E", "message": "tsc"})
    faber.emit(run_id, "workflow_error", error={"code": "STEP_FAILED", "message": "compile"})
    shown = json.loads(follower.next_line() or "")
    assert (shown["event_id"], shown["type"], shown["error"]["code"]) == (2, "step_error", "E")
    assert follower.next_line() is None and follower.finish() == (0, "")


def test_a_finished_run_is_printed_and_not_waited_for(faber: Faber, cli: Cli, run_id: str) -> None:
    for kind in ("workflow_start", "checkpoint", "workflow_cancelled"):
        faber.emit(run_id, kind)
    out = cli.ok("events", run_id, "--follow", "--since-id", "1", "--json")
    assert [json.loads(line)["event_id"] for line in out.splitlines()] == [2, 3]
    assert_one_line_error(cli("events", run_id, "--follow", "--interval", "0"), 2)
    assert_one_line_error(cli("events", run_id, "--follow", "--phase", "nope"), 2)


def test_the_api_follows_until_the_end_and_rechecks_the_log(faber: Faber, run_id: str) -> None:
    faber.emit(run_id, "workflow_start")
    naps: list[float] = []

    def nap(seconds: float) -> None:  # stands in for time.sleep: each nap, the run moves on
        naps.append(seconds)
        faber.emit(run_id, "checkpoint" if len(naps) < 3 else "workflow_complete")

    seen = [event.event_id for event in faber.follow(run_id, interval=0.25, sleep=nap)]
    assert seen == [1, 2, 3, 4] and naps == [0.25, 0.25, 0.25]

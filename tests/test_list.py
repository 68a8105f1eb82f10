"""`faber runs list`: status, work id, workflow, start, duration and last activity, from state.json."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Cli, assert_one_line_error, clean_environ
from faber_hookspecs.errors import InvalidInput
from faber_hookspecs.state import RunState

from faber_host.api import Faber
from faber_host.views.run_list import run_rows
from faber_host.views.times import epoch_ms, format_duration, relative_ms


def columns(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def test_the_columns_of_finished_running_and_new_runs(faber: Faber, cli: Cli) -> None:
    done = faber.new_run("101", workflow_id="core").run_id
    faber.emit(done, "workflow_start")
    faber.emit(done, "workflow_complete")
    broken = faber.new_run("102").run_id
    faber.emit(broken, "workflow_start")
    faber.emit(broken, "workflow_error", error={"code": "E", "message": "m"})
    running = faber.new_run("103").run_id
    faber.emit(running, "workflow_start")
    fresh = faber.new_run("104").run_id

    lines = cli.ok("runs", "list").splitlines()
    assert columns(lines[0]) == ["RUN", "STATUS", "WORK", "WORKFLOW", "STARTED (UTC)", "DURATION", "UPDATED"]
    rows = {columns(line)[0]: columns(line) for line in lines[1:]}
    assert [columns(line)[0] for line in lines[1:]] == [fresh, running, broken, done]  # newest first
    for run, status, work in ((done, "completed", "101"), (broken, "failed", "102"), (running, "in_progress", "103")):
        state = faber.run(run).state
        assert state.started_at is not None
        assert rows[run][1:5] == [status, work, "core" if run == done else "default",
                                  f"{state.started_at[:10]} {state.started_at[11:16]}"]
        assert rows[run][6].endswith("ago") or rows[run][6] == "just now"
    finished = faber.run(done).state
    assert finished.completed_at is not None
    took = datetime.fromisoformat(finished.completed_at) - datetime.fromisoformat(finished.started_at or "")
    assert rows[done][5] == format_duration(took.total_seconds() * 1000)
    assert rows[fresh][1:] == ["pending", "104", "default", "-", "-", rows[fresh][-1]]

    coloured = cli("runs", "list", env=clean_environ(FORCE_COLOR="1"))
    assert "\x1b[32mcompleted" in coloured.stdout and "\x1b[1;31mfailed" in coloured.stdout
    no_colour = cli("runs", "list", env=clean_environ(FORCE_COLOR="1", NO_COLOR="1"))
    assert "\x1b[" not in no_colour.stdout and columns(no_colour.stdout.splitlines()[1])[0] == fresh


def test_listing_reads_state_json_and_nothing_else(faber: Faber, cli: Cli, project_dir: Path) -> None:
    run = faber.new_run("7").run_id
    faber.emit(run, "workflow_start")
    faber.emit(run, "workflow_complete")
    folder = Path(faber.run(run).location)
    before = [columns(line)[:-1] for line in cli.ok("runs", "list").splitlines()]  # all but the relative time
    # Without its metadata and event files, a run whose state.json is current lists the same.
    (folder / "metadata.json").unlink()
    for event_file in (folder / "events").glob("*.json"):
        event_file.unlink()
    assert [columns(line)[:-1] for line in cli.ok("runs", "list").splitlines()] == before
    assert before[1][:2] == [run, "completed"]


LISTING = ("import sys\nfrom faber_host.cli import main\ncode = main(['runs', 'list', *sys.argv[1:]])\n"
           "sys.stdout.flush()\n"
           "print(sorted({'faber_hookspecs.archive', 'faber_hookspecs.workflow', 'faber_host.archive', "
           "'faber_host.runner.lifecycle'} & set(sys.modules)), file=sys.stderr)\nsys.exit(code)\n")


def test_runs_list_loads_neither_the_archive_nor_the_workflow_models(faber: Faber, project_dir: Path) -> None:
    """Building the CLI imports every command module: those load what only their own command needs when
    it runs, so that listing runs pays for the run state alone."""
    run = faber.new_run("7").run_id
    faber.emit(run, "workflow_start")
    for args in ([], ["--json"], ["--status", "in_progress", "--limit", "1"]):
        result = subprocess.run([sys.executable, "-c", LISTING, *args], cwd=project_dir, env=clean_environ(),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert run in result.stdout
        assert result.stderr.splitlines()[-1] == "[]"


def test_relative_times_and_durations() -> None:
    now = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)

    def relative_time(timestamp: str, now: datetime) -> str:
        return relative_ms(round(now.timestamp() * 1000) - epoch_ms(timestamp))

    assert relative_time("2026-11-26T11:59:59.700Z", now) == "just now"
    assert relative_time("2026-11-26T11:59:30.000Z", now) == "30s ago"
    assert relative_time("2026-11-26T11:57:00.000Z", now) == "3m ago"
    assert relative_time("2026-11-26T07:00:00.000Z", now) == "5h ago"
    assert relative_time("2026-11-20T12:00:00.000Z", now) == "6d ago"
    assert relative_time("2026-11-26T12:00:05.000Z", now) == "in 5s"
    assert [format_duration(ms) for ms in (0, 999, 1840, 45_210, 125_000, 3_720_000, 97_200_000)] == [
        "0ms", "999ms", "1.8s", "45s", "2m 05s", "1h 02m", "1d 03h"]
    # Any size a step may report: years past 365 days, one bound past that, nothing for nonsense.
    year = 365 * 86_400_000
    assert [format_duration(ms) for ms in (364 * 86_400_000, year, 2 * year + 15 * 86_400_000, 999 * year,
                                           1000 * year, 10**30, float("inf"), -5, float("nan"))] == [
        "364d 00h", "1y 000d", "2y 015d", "999y 000d", ">999y", ">999y", ">999y", "-", "-"]
    assert relative_time("1026-11-26T12:00:00.000Z", now) == ">999y ago"
    assert relative_time("2024-11-26T12:00:00.000Z", now) == "2y ago"
    state = RunState.model_validate({
        "run_id": "acme/w/ee04a6d4-8111-4fde-8172-e0639c154b63", "status": "in_progress", "work_id": "1",
        "workflow_id": "default", "started_at": "2026-11-26T11:00:00.000Z", "updated_at": "2026-11-26T11:58:00.000Z",
        "phases": {},
    })
    assert run_rows([state], now)[0][4:] == ["2026-11-26 11:00", "1h 00m", "2m ago"]  # running: so far
    paused = state.model_copy(update={"status": "paused"})
    assert run_rows([paused], now)[0][5] == "58m 00s"  # stopped: until its last event
    typed = state.model_copy(update={"work_id": "PROJ-1\nsecond line", "workflow_id": "my\tflow"})
    assert run_rows([typed], now)[0][2:4] == ["PROJ-1 second line", "my flow"]  # one line per run, always



def test_filters_by_workflow_and_start_window_through_both_paths(faber: Faber, cli: Cli) -> None:
    """--workflow in a pipe and with --debug; --since and --until on the
    run's start (else creation), as a date, a date-time or an age."""
    core = faber.new_run("201", workflow_id="core").run_id
    faber.emit(core, "workflow_start")
    plain = faber.new_run("202").run_id  # never started: filtered on its creation time
    today = datetime.now(UTC).strftime("%Y-%m-%d")

    def listed(*args: str) -> list[str]:
        return [columns(line)[0] for line in cli.ok(*args).splitlines()[1:]]

    for prefix in ((), ("--debug",)):
        assert listed(*prefix, "runs", "list", "--workflow", "core") == [core]
        assert listed(*prefix, "runs", "list", "--workflow", "nope") == []
        assert listed(*prefix, "runs", "list", "--since", "1h") == [plain, core]
        assert listed(*prefix, "runs", "list", "--since", today, "--workflow", "default") == [plain]
        assert listed(*prefix, "runs", "list", "--until", "2000-01-01T00:00:00Z") == []
        assert listed(*prefix, "runs", "list", "--since", "2100-01-01") == []
    started = faber.run(core).state.started_at
    assert started is not None
    assert [s.run_id for s in faber.list_runs(since=started, until=started)] == [core]
    line = assert_one_line_error(cli("runs", "list", "--since", "last week"))
    assert "invalid --since 'last week'" in line
    line = assert_one_line_error(cli("runs", "list", "--status", "bogus", "--json"))
    assert line.endswith("use pending, in_progress, paused, completed, failed, cancelled")
    with pytest.raises(InvalidInput, match="unknown status 'bogus'"):
        faber.list_runs(status="bogus")

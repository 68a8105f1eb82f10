"""Hostile files planted in a run: a counter set ahead or absurd, a duplicate of an event under another
name, links where faber writes, leftovers of killed commands. Everything through the real `faber`
program; a hang guard (a subprocess timeout) where the failure once was an endless loop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import FABER, Cli, assert_one_line_error, clean_environ
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_support import call

from faber_host.api import Faber
from faber_host.testing import AWS_TEST_ENVIRONMENT

from .kit import RUNS, check_log, check_settled, record
from .test_full_disk import try_mount, unmount
from .test_s3_archive import archiving  # noqa: F401  (the fixture: moto's S3 server, a fresh bucket)

ABSURD = 10**20 - 1  # 99999999999999999999: the counter the issue planted
HANG_GUARD = 20  # seconds: only against an endless loop (the answer comes in well under one)


def guarded(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    """The program, killed (and the test failed) if it has not answered within the hang guard."""
    return subprocess.run([FABER, *args], cwd=cli.cwd, env=clean_environ(), capture_output=True, text=True,
                          timeout=HANG_GUARD)


def new_run(cli: Cli, *types: str) -> tuple[str, Path]:
    """A run made by the program, with one event per type; its id and folder."""
    run = cli.ok("runs", "new", "--work-id", "hostile").strip().splitlines()[-1]
    for kind in types:
        cli.ok("event", "emit", run, kind, *(["--phase", "build"] if kind.startswith("phase_") else []))
    return run, cli.cwd / RUNS / run


def test_a_counter_ahead_of_the_files_is_never_trusted(cli: Cli) -> None:
    run, folder = new_run(cli, "workflow_start", "checkpoint", "checkpoint")
    counter = folder / "events" / ".next-id"

    # Ahead by hand: verify says so; the next emit takes the id after the last file, not 1000.
    counter.write_text("1000\n")
    report = guarded(cli, "runs", "verify", run)
    assert report.returncode == 1 and "ahead of the last event 3" in report.stdout, report.stdout
    assert cli.ok("event", "emit", run, "checkpoint").strip() == "4"
    log = check_log(folder, run)
    assert log.ids == [1, 2, 3, 4] and not log.problems and not check_settled(folder, run, log)

    # Absurd: verify and repair answer at once, in the memory of the files present.
    counter.write_text(f"{ABSURD}\n")
    report = guarded(cli, "runs", "verify", run)
    assert report.returncode == 1, report
    assert f"events/.next-id is {ABSURD}, ahead of the last event 4, expected 5" in report.stdout, report.stdout
    repaired = guarded(cli, "runs", "repair", run)
    assert repaired.returncode == 0 and "set events/.next-id to 5" in repaired.stdout, repaired
    assert counter.read_text() == "5\n"

    # An event file that took such an id (as the emit did before this was fixed): verify names the gap
    # as a range; repair gives the event the id the store would have, and keeps the original aside.
    far = json.loads((folder / "events" / "004-checkpoint.json").read_bytes())
    far.update(event_id=ABSURD + 1, message="taken from a hostile counter")
    planted = folder / "events" / f"{ABSURD + 1}-checkpoint.json"
    planted.write_text(json.dumps(far, indent=2) + "\n")
    counter.write_text(f"{ABSURD + 2}\n")
    report = guarded(cli, "runs", "verify", run)
    assert report.returncode == 1 and f"have no valid event: 5-{ABSURD}" in report.stdout, report.stdout
    repaired = guarded(cli, "runs", "repair", run)
    assert repaired.returncode == 0, repaired
    assert f"renumbered event {ABSURD + 1} as 5" in repaired.stdout, repaired.stdout
    assert "log_repaired" not in repaired.stdout  # no filler for ids nobody ever wrote
    assert (folder / "events" / ".quarantine" / planted.name).read_bytes() == planted_bytes(far)
    log = check_log(folder, run)
    assert log.ids == [1, 2, 3, 4, 5] and not log.problems and not check_settled(folder, run, log)
    assert log.events[5]["message"] == "taken from a hostile counter"
    assert cli.ok("event", "emit", run, "checkpoint").strip() == "6"
    assert cli("runs", "verify", run).returncode == 0
    record("test_a_counter_ahead_of_the_files_is_never_trusted", inputs_tried=3)


@pytest.mark.anyio
async def test_mcp_verify_run_answers_for_an_absurd_counter(cli: Cli, tmp_path: Path) -> None:
    """The real `faber mcp` over stdio: verify_run named 10^20 missing ids as a list, without end."""
    run, folder = new_run(cli, "workflow_start")
    far = json.loads((folder / "events" / "001-workflow_start.json").read_bytes())
    far.update(event_id=ABSURD + 1, type="checkpoint")
    (folder / "events" / f"{ABSURD + 1}-checkpoint.json").write_text(json.dumps(far, indent=2) + "\n")
    (folder / "events" / ".next-id").write_text(f"{ABSURD * 10}\n")
    server = StdioServerParameters(command=FABER, args=["mcp"], cwd=cli.cwd, env=clean_environ())
    with open(tmp_path / "server.log", "w") as log, anyio.fail_after(3 * HANG_GUARD):  # a server starts too
        async with Client(stdio_client(server, errlog=log)) as client:
            report = await call(client, "verify_run", run=run)
    assert not report["ok"] and report["last_event_id"] == ABSURD + 1
    messages = [problem["message"] for problem in report["problems"]]
    assert f"{ABSURD - 1} event id(s) have no valid event: 2-{ABSURD}" in messages, messages
    assert f"events/.next-id is {ABSURD * 10}, ahead of the last event {ABSURD + 1}, expected {ABSURD + 2}" \
        in messages, messages


def planted_bytes(event: dict[str, object]) -> bytes:
    return (json.dumps(event, indent=2) + "\n").encode()


def test_repair_keeps_the_file_the_store_wrote_over_a_planted_duplicate(cli: Cli) -> None:
    run, folder = new_run(cli, "workflow_start", "phase_start", "checkpoint")
    events = folder / "events"
    genuine = (events / "002-phase_start.json").read_bytes()
    # The same event under another padding, made to look older (and so, before, the one kept).
    copy = json.loads(genuine)
    copy.update(timestamp="2000-01-01T00:00:00.000Z", message="planted")
    (events / "0002-phase_start.json").write_text(json.dumps(copy, indent=2) + "\n")
    report = cli("runs", "verify", run)
    assert report.returncode == 1 and "0002-phase_start.json claims id 2, already held by 002-phase_start.json" \
        in report.stdout, report.stdout
    repaired = cli("runs", "repair", run)
    assert repaired.returncode == 0, repaired
    assert (events / "002-phase_start.json").read_bytes() == genuine
    assert not (events / "0002-phase_start.json").exists()
    assert json.loads((events / ".quarantine" / "0002-phase_start.json").read_bytes())["message"] == "planted"
    log = check_log(folder, run)
    assert log.ids == [1, 2, 3] and not log.problems and not check_settled(folder, run, log)
    assert log.events[2].get("message") != "planted"


# Leftovers of killed commands ----------------------------------------------------------------------------

STAGING = (".restore-", ".events-restoring-", ".archive-new-", ".archive-scratch-", ".events-removed-")


def staged(root: Path) -> list[str]:
    """Every staging folder or temporary file under ``root`` (the project's FABER folder)."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*")
                  if path.name.startswith(STAGING) or ".tmp-" in path.name or path.parent.name == ".staging")


def start(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([FABER, *args], cwd=project, env=clean_environ(**AWS_TEST_ENVIRONMENT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def stop_when(process: subprocess.Popen[str], appeared: Callable[[], bool], what: str) -> None:
    """SIGSTOP ``process`` as soon as ``appeared()`` (polled), so that it is caught at that point."""
    deadline = time.monotonic() + 60
    while not appeared():
        assert process.poll() is None, f"the command ended before {what} appeared: {process.communicate()}"
        assert time.monotonic() < deadline, f"{what} never appeared"
        time.sleep(0.0005)
    os.killpg(process.pid, signal.SIGSTOP)


def killed(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(timeout=HANG_GUARD) == -signal.SIGKILL


def test_killed_restores_and_consolidations_leave_nothing_behind(
    archiving: tuple[Faber, Any, str], project_dir: Path  # noqa: F811 (the fixture imported above)
) -> None:
    faber, _, _ = archiving
    faber_dir = project_dir / RUNS.parent
    # A run big enough (about 50 MB) that a restore or a consolidation is caught in the middle.
    big = faber.new_run("big").run_id
    for number in range(250):
        faber.emit_draft(big, {"type": "checkpoint", "metadata": {"number": number, "blob": "x" * 200_000}})
    small = faber.new_run("small").run_id
    faber.emit(small, "workflow_complete")
    for run in (big, small):
        faber.archive_run(run, cleanup=True, force=True)
    run_dir = project_dir / RUNS / big

    # Killed while downloading; a restore running meanwhile (of another run) keeps its download folder.
    first = start(project_dir, "restore", big)
    stop_when(first, lambda: any(faber_dir.glob(".restore-*")), "the download folder")
    download = next(faber_dir.glob(".restore-*"))
    meanwhile = subprocess.run([FABER, "restore", small], cwd=project_dir, capture_output=True, text=True,
                               env=clean_environ(**AWS_TEST_ENVIRONMENT), timeout=120)
    assert meanwhile.returncode == 0, meanwhile
    assert download.is_dir(), "a live restore's download folder was removed"
    killed(first)
    # Killed while expanding the events into the run; it had removed the first one's download folder.
    second = start(project_dir, "restore", big)
    stop_when(second, lambda: any(run_dir.glob(".events-restoring-*")), "the restore's staging folder")
    killed(second)
    assert not download.exists()
    left = staged(faber_dir)
    pid = str(second.pid)
    assert [name.rpartition("-")[::2] for name in left] == [(".restore-" + left[0][9:].rpartition("-")[0], pid),
                                                            (f"runs/{big}/.events-restoring", pid)], left

    # The next restore removes what the killed ones left, and restores the run.
    again = subprocess.run([FABER, "restore", big], cwd=project_dir, capture_output=True, text=True,
                           env=clean_environ(**AWS_TEST_ENVIRONMENT), timeout=120)
    assert again.returncode == 0 and not again.stderr, again
    assert staged(faber_dir) == []
    assert guarded(Cli(project_dir), "runs", "verify", big).returncode == 0

    # A consolidation killed midway: verify reports its staging folder, repair removes it.
    third = start(project_dir, "consolidate", big)
    stop_when(third, lambda: any(run_dir.glob(".archive-new-*")), "the consolidation's staging folder")
    killed(third)
    report = guarded(Cli(project_dir), "runs", "verify", big)
    assert report.returncode == 1 and "leftover: .archive-new-" in report.stdout, report.stdout
    repaired = guarded(Cli(project_dir), "runs", "repair", big)
    assert repaired.returncode == 0 and "removed .archive-new-" in repaired.stdout, repaired
    assert staged(faber_dir) == []
    log = check_log(run_dir, big)
    assert log.ids == list(range(1, 251)) and not log.problems and not check_settled(run_dir, big, log)
    record("test_killed_restores_and_consolidations_leave_nothing_behind", kills_survived=3, events_written=251)


# Links planted where faber writes ----------------------------------------------------------------------


def test_links_planted_under_fractary_are_never_followed(tmp_path: Path, cli: Cli, project_dir: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("outside data\n")
    faber_dir = project_dir / RUNS.parent

    # faber init: a .gitignore keeps machine-local state (where such links would live) out of git.
    subprocess.run(["git", "init", "-q", str(project_dir)], check=True)
    ignored = subprocess.run(["git", "check-ignore", "--no-index", f"{RUNS}/x/y/z/state.json",
                              f"{RUNS.parent}/outbox/event_stream/x.ndjson", f"{RUNS.parent}/gateway.json"],
                             cwd=project_dir, capture_output=True, text=True)
    assert ignored.stdout.split() == [f"{RUNS}/x/y/z/state.json", f"{RUNS.parent}/outbox/event_stream/x.ndjson"]
    (faber_dir / ".gitignore").write_text("# mine\n")
    assert "unchanged .fractary/plugins/faber/.gitignore" in cli.ok("init")
    assert (faber_dir / ".gitignore").read_text() == "# mine\n"
    (faber_dir / "config.json").rename(outside / "config.json")
    (faber_dir / "config.json").symlink_to(outside / "config.json")
    before = (outside / "config.json").read_bytes()
    assert "symbolic link" in assert_one_line_error(cli("init"), code=1)
    assert (outside / "config.json").read_bytes() == before and not list(outside.glob("*.bak-*"))
    (faber_dir / "config.json").unlink()
    (outside / "config.json").rename(faber_dir / "config.json")

    # The Helm outbox and the JSON Lines mirror: a link at a run's file is refused (a warning: the
    # event itself is stored), never written through.
    gateway_file = faber_dir / "gateway.json"
    gateway = json.loads(gateway_file.read_text())
    gateway["backends"]["event_stream"] = {"enabled": True, "config": {"service_url": "http://127.0.0.1:9/v1/events"}}
    gateway["backends"]["jsonl_mirror"] = {"enabled": True}
    gateway_file.write_text(json.dumps(gateway))
    run, folder = new_run(cli)
    org, project, uuid = run.split("/")
    for planted in (faber_dir / "outbox/event_stream" / org / project / f"{uuid}.ndjson",
                    faber_dir / "mirror" / org / project / f"{uuid}.jsonl"):
        planted.parent.mkdir(parents=True, exist_ok=True)
        planted.unlink(missing_ok=True)
        planted.symlink_to(victim)
    emitted = cli("event", "emit", run, "checkpoint")
    assert emitted.returncode == 0 and emitted.stdout.strip() == "1", emitted
    assert emitted.stderr.count("symbolic link") == 2 and "Traceback" not in emitted.stderr, emitted.stderr
    assert victim.read_text() == "outside data\n"
    # A link at the outbox's folder of a project: the same.
    (faber_dir / "outbox/event_stream" / org / project).rename(outside / "project")
    (faber_dir / "outbox/event_stream" / org / project).symlink_to(outside / "project")
    assert "symbolic link" in cli("event", "emit", run, "checkpoint").stderr
    assert victim.read_text() == "outside data\n" and len(list((outside / "project").iterdir())) == 1
    gateway_file.write_text(json.dumps({**gateway, "backends": {
        name: entry for name, entry in gateway["backends"].items() if name not in ("event_stream", "jsonl_mirror")}}))

    # events/.quarantine: a link (repair would move files out of the run), a file or another file
    # system (repair ended in "internal error"): one line, nothing moved.
    (folder / "events" / "002-checkpoint.json").write_text("{ torn")
    quarantine = folder / "events" / ".quarantine"
    mounted = False
    for kind, expected in (("link", "a symbolic link"), ("file", "not a folder"), ("mount", "another file system")):
        if kind == "link":
            quarantine.symlink_to(outside, target_is_directory=True)
        elif kind == "file":
            quarantine.write_text("not a folder\n")
        else:
            quarantine.mkdir()
            mounted = try_mount(["-t", "tmpfs", "-o", "size=1m", "tmpfs", str(quarantine)]) is None
            if not mounted:  # mounting is not allowed here: the other two cases still ran
                quarantine.rmdir()
                continue
        try:
            line = assert_one_line_error(cli("runs", "repair", run), code=1)
            assert expected in line, line
            assert (folder / "events" / "002-checkpoint.json").read_text() == "{ torn"
        finally:
            if kind == "mount":
                unmount(quarantine)
                quarantine.rmdir()
            else:
                quarantine.unlink()
    assert sorted(path.name for path in outside.iterdir()) == ["project", "victim.txt"]
    assert cli("runs", "repair", run).returncode == 0

    # The archive folder: consolidating through a link would write the bundle outside.
    (folder / "archive").symlink_to(outside, target_is_directory=True)
    assert "symbolic link" in assert_one_line_error(cli("consolidate", run), code=1)
    assert sorted(path.name for path in outside.iterdir()) == ["project", "victim.txt"]
    record("test_links_planted_under_fractary_are_never_followed", inputs_tried=9 if mounted else 8,
           quarantine_mounted=str(mounted))

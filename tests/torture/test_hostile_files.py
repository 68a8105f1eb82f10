"""Hostile files planted in a run: a counter set ahead or absurd, a duplicate of an event under another
name, links where faber writes, leftovers of killed commands. Everything through the real `faber`
program; a hang guard (a subprocess timeout) where the failure once was an endless loop."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import FABER, Cli, clean_environ

from .kit import RUNS, check_log, check_settled, record

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

"""`faber runs verify` names every problem of a damaged run; `faber runs repair` makes it clean
without deleting anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, Cli, assert_one_line_error, shell_step, snapshot, write_workflow

from faber_host.api import Faber


@pytest.fixture
def finished_run(faber: Faber, project_dir: Path) -> tuple[str, Path]:
    """A completed run of three shell steps (made through the Python API), and its folder."""
    write_workflow(project_dir, {"id": "three", "autonomy": {"level": "autonomous"}, "phases": {
        "frame": {"steps": [shell_step("a", "true")]}, "build": {"steps": [shell_step("b", "true")]},
        "release": {"steps": [shell_step("c", "true")]},
    }})
    outcome = faber.run_workflow("three", "1")
    assert outcome.status == "completed"
    return outcome.run_id, Path(faber.run(outcome.run_id).location)


def damage(folder: Path, kind: str) -> None:
    if kind == "state":
        (folder / "state.json").unlink()
    elif kind == "event":
        (folder / "events" / "003-step_start.json").write_bytes(b'{"event_id": 3, "type": "step_st')
    elif kind == "counter":
        (folder / "events" / ".next-id").write_text("7\n")


EXPECTED = {
    "state": "state_missing: state.json is missing or unreadable",
    "event": "event_unreadable: 003-step_start.json cannot be read as JSON",
    "counter": "next_id_wrong: events/.next-id is 7, expected 17",
}


@pytest.mark.parametrize("kind", ["state", "event", "counter"])
def test_verify_names_each_problem(cli: Cli, finished_run: tuple[str, Path], kind: str) -> None:
    run_id, folder = finished_run
    assert cli("runs", "verify", run_id).returncode == 0
    damage(folder, kind)
    result = cli("runs", "verify", run_id)
    assert result.returncode == 1, result.stdout
    assert EXPECTED[kind] in result.stdout and "Traceback" not in result.stderr
    if kind == "event":  # the unreadable event also leaves a gap, and the cached state no longer matches
        assert "event_gap: 1 event id(s) have no valid event: 3" in result.stdout
        assert "state_mismatch" in result.stdout


def test_repair_makes_a_damaged_run_clean_without_deleting_anything(cli: Cli, finished_run: tuple[str, Path]) -> None:
    run_id, folder = finished_run
    for kind in ("state", "event", "counter"):
        damage(folder, kind)
    before = snapshot(folder)
    report = json.loads(cli("runs", "verify", run_id, "--json").stdout)
    assert report["ok"] is False
    assert {p["code"] for p in report["problems"]} == {
        "state_missing", "event_unreadable", "event_gap", "next_id_wrong"
    }

    repaired = cli("runs", "repair", run_id)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "moved events/003-step_start.json to events/.quarantine/003-step_start.json" in repaired.stdout
    assert f"run {run_id}: ok (16 events, last id 16)" in repaired.stdout
    after = snapshot(folder)
    # Nothing deleted: every file is still there, the broken one in quarantine with the same bytes.
    assert after["events/.quarantine/003-step_start.json"] == before["events/003-step_start.json"]
    for name, data in before.items():
        if name in ("events/003-step_start.json", "events/.next-id") or name.startswith(".state.json.swap"):
            continue  # (the swap files are the store's scratch buffers for writing state.json)
        assert after[name] == data, f"{name} changed"
    filler = json.loads(after["events/003-log_repaired.json"])
    assert filler["type"] == "log_repaired" and "003-step_start.json" in filler["message"]
    assert after["events/.next-id"] == b"17\n"
    assert cli("runs", "verify", run_id).returncode == 0
    # The run is readable again, and as finished as before: a new event is refused, not misnumbered.
    assert "takes no new events" in cli("event", "emit", run_id, "checkpoint").stderr


def test_repair_handles_duplicates_gaps_a_killed_commit_and_broken_metadata(
    cli: Cli, faber: Faber, finished_run: tuple[str, Path]
) -> None:
    run_id, folder = finished_run
    events = folder / "events"
    (events / "005-phase_complete.json").rename(events / "005-phase_start.json")  # a name that lies
    (events / "009-step_complete.json").unlink()  # a gap nobody can fill from the log
    duplicate = json.loads((events / "002-phase_start.json").read_text()) | {"timestamp": "2099-01-01T00:00:00.000Z"}
    (events / "002-phase_again.json").write_text(json.dumps(duplicate | {"type": "phase_again"}))
    (events / ".pending").write_text('{"event_id": 17, "type": "chec')  # a writer killed while committing
    (folder / "metadata.json").write_text("not json")
    report = json.loads(cli("runs", "verify", run_id, "--json").stdout)
    codes = sorted({p["code"] for p in report["problems"]})
    assert codes == ["event_gap", "event_invalid", "metadata_invalid", "pending_write"]

    repaired = cli("runs", "repair", run_id, "--json")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    result = json.loads(repaired.stdout)
    assert result["after"]["ok"] is True and result["before"]["ok"] is False
    assert sorted(result["quarantined"]) == [
        "events/.quarantine/002-phase_again.json", "events/.quarantine/005-phase_start.json",
        "events/.quarantine/metadata.json",
    ]
    kinds = [e.type for e in faber.events(run_id)]
    assert kinds[4] == "log_repaired" and kinds[8] == "log_repaired" and len(kinds) == 16
    assert faber.run(run_id).metadata.run_id == run_id
    assert not (events / ".pending").exists()


def test_verify_reads_the_reference_runs_and_names_their_defects(cli: Cli, project_dir: Path) -> None:
    import shutil

    runs = project_dir / ".fractary/plugins/faber/runs"
    shutil.copytree(FIXTURES / "reference-runs" / "runs" / "acme", runs / "acme")
    result = cli("runs", "verify", "ee04a6d4")
    assert result.returncode == 1
    assert "state_mismatch: state.json does not reflect the events" in result.stdout
    assert cli("runs", "repair", "ee04a6d4").returncode == 0
    assert cli("runs", "verify", "ee04a6d4").returncode == 0
    assert_one_line_error(cli("runs", "verify", "00000000"), 2)

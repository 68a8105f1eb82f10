"""Repair at the store, in process: a damaged run is made clean without deleting anything; verify
names each kind of damage. (tests/test_integrity.py does the same through the CLI.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from faber_backend_local_files.inspection import verify_run
from faber_backend_local_files.repair import repair_run
from faber_backend_local_files.store import LocalRunStore
from faber_hookspecs.errors import StorageError
from faber_hookspecs.run_id import RunId
from faber_hookspecs.wire import utc_timestamp


@pytest.fixture
def store(tmp_path: Path) -> LocalRunStore:
    return LocalRunStore(str(tmp_path / "runs"), sync=False)


def finished_run(store: LocalRunStore, checkpoints: int = 6) -> tuple[RunId, Path]:
    run_id = RunId.generate("acme", "widget-service")
    store.create_run({"run_id": str(run_id), "work_id": "7", "workflow_id": "default", "created_at": utc_timestamp()})
    store.append(run_id, {"type": "workflow_start", "metadata": {"work_id": "7", "workflow_id": "default"}})
    for index in range(checkpoints):
        store.append(run_id, {"type": "checkpoint", "message": f"step {index}"})
    store.append(run_id, {"type": "workflow_complete"})
    return run_id, Path(store.folder(run_id).path)


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".swap" not in p.name}


def codes(store: LocalRunStore, run_id: RunId) -> set[str]:
    return {problem.code for problem in verify_run(store, run_id).problems}


def test_an_unreadable_event_a_lost_state_and_a_wrong_counter_are_mended_and_nothing_is_deleted(
    store: LocalRunStore,
) -> None:
    run_id, folder = finished_run(store)
    (folder / "events" / "003-checkpoint.json").write_bytes(b'{"event_id": 3, "type": "check')
    (folder / "state.json").unlink()
    (folder / "events" / ".next-id").write_text("4\n")
    before = files_of(folder)
    assert codes(store, run_id) == {"event_unreadable", "event_gap", "state_missing", "next_id_wrong"}

    report = repair_run(store, run_id)
    assert report.before.ok is False and report.after.ok is True and verify_run(store, run_id).ok
    assert report.quarantined == ["events/.quarantine/003-checkpoint.json"]
    assert "moved events/003-checkpoint.json to events/.quarantine/003-checkpoint.json" in report.actions
    assert "set events/.next-id to 9" in report.actions and "rebuilt state.json from 8 events" in report.actions
    after = files_of(folder)
    assert after["events/.quarantine/003-checkpoint.json"] == before["events/003-checkpoint.json"]
    for name, data in before.items():
        if name not in ("events/003-checkpoint.json", "events/.next-id"):
            assert after[name] == data, f"{name} changed"
    filler = json.loads(after["events/003-log_repaired.json"])
    assert (filler["type"], filler["event_id"], filler["source"]) == ("log_repaired", 3, "faber-repair")
    assert "003-checkpoint.json" in filler["message"] and filler["metadata"]["lost_file"] == "003-checkpoint.json"
    assert filler["timestamp"] == json.loads(before["events/002-checkpoint.json"])["timestamp"], "times keep order"
    assert after["events/.next-id"] == b"9\n"
    state = store.current_state(run_id)
    assert (state["last_event_id"], state["status"]) == (8, "completed")
    assert repair_run(store, run_id).actions == [], "a clean run is left alone"


def test_duplicates_a_lying_name_a_gap_a_killed_commit_and_broken_metadata(store: LocalRunStore) -> None:
    run_id, folder = finished_run(store)
    events = folder / "events"
    (events / "005-checkpoint.json").rename(events / "005-phase_start.json")  # a name that lies
    (events / "007-checkpoint.json").unlink()  # a gap nobody can fill from the log
    duplicate = json.loads((events / "002-checkpoint.json").read_text()) | {"type": "workflow_start"}
    (events / "002-workflow_start.json").write_text(json.dumps(duplicate))
    (events / ".pending").write_text('{"event_id": 9, "type": "chec')  # a writer killed while committing
    (folder / "metadata.json").write_text("not json")
    assert codes(store, run_id) == {"event_gap", "event_invalid", "event_duplicate_id", "metadata_invalid",
                                    "pending_write"}

    report = repair_run(store, run_id)
    assert report.after.ok is True, report.after.problems
    assert sorted(report.quarantined) == ["events/.quarantine/002-workflow_start.json",
                                          "events/.quarantine/005-phase_start.json",
                                          "events/.quarantine/metadata.json"]
    assert "dropped an interrupted commit that never reached the log (events/.pending)" in report.actions
    assert "wrote a new metadata.json from the run id and the events" in report.actions
    kinds = [event["type"] for event in store.iter_events(run_id)]
    assert kinds == ["workflow_start", "checkpoint", "checkpoint", "checkpoint", "log_repaired", "checkpoint",
                     "log_repaired", "workflow_complete"]
    metadata = store.load_metadata(run_id)
    assert (metadata["run_id"], metadata["repaired"], metadata["work_id"], metadata["workflow_id"]) == (
        str(run_id), True, "7", "default")
    assert not (events / ".pending").exists()


def test_a_commit_that_reached_the_log_is_finished(store: LocalRunStore) -> None:
    run_id, folder = finished_run(store)
    events = folder / "events"
    (events / ".pending").write_bytes((events / "008-workflow_complete.json").read_bytes())
    (events / ".next-id").write_text("8\n")
    report = repair_run(store, run_id)
    assert "finished the interrupted commit of event 8" in report.actions
    assert report.after.ok and (events / ".next-id").read_text() == "9\n" and not (events / ".pending").exists()


def test_a_gap_longer_than_the_run_has_files_is_a_counter_skip_renumbered(store: LocalRunStore) -> None:
    """Ids are given one after the other, so a gap wider than the run's files was a counter set ahead:
    the events after it are renumbered to follow the log (the originals kept), not padded with fillers."""
    run_id, folder = finished_run(store, checkpoints=2)
    events = folder / "events"
    for old, new in ((3, 100), (4, 101)):
        kind = "checkpoint" if old == 3 else "workflow_complete"
        event = json.loads((events / f"{old:03d}-{kind}.json").read_text()) | {"event_id": new}
        (events / f"{new:03d}-{kind}.json").write_text(json.dumps(event, indent=2) + "\n")
        (events / f"{old:03d}-{kind}.json").unlink()
    report = repair_run(store, run_id)
    assert report.after.ok, report.after.problems
    assert [(e["event_id"], e["type"]) for e in store.iter_events(run_id)] == [
        (1, "workflow_start"), (2, "checkpoint"), (3, "checkpoint"), (4, "workflow_complete")]
    assert sorted(report.quarantined) == ["events/.quarantine/100-checkpoint.json",
                                          "events/.quarantine/101-workflow_complete.json"]
    assert any(action.startswith("renumbered event 100 as 3") for action in report.actions)


def test_a_linked_quarantine_is_refused_before_anything_changes(store: LocalRunStore, tmp_path: Path) -> None:
    run_id, folder = finished_run(store)
    (folder / "events" / "003-checkpoint.json").write_bytes(b"{")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, folder / "events" / ".quarantine")
    before = files_of(folder)
    with pytest.raises(StorageError, match="is a symbolic link; repair moves files only into a folder of the run"):
        repair_run(store, run_id)
    assert files_of(folder) == before and list(elsewhere.iterdir()) == []


def test_reading_a_run_trusts_a_current_checkpoint_and_names_what_is_damaged(store: LocalRunStore) -> None:
    from faber_backend_local_files.inspection import inspect_run

    run_id, folder = finished_run(store)
    full = store.reconstruct(run_id)
    assert inspect_run(store, run_id)[1:] == (full, [])
    (folder / "state.json").write_text(json.dumps(store.state_at(run_id, 5)))  # a checkpoint behind the log
    assert inspect_run(store, run_id)[1:] == (full, []), "brought forward by the events after it"
    # Not a checkpoint this store wrote (another writer moved it): read in full, and what differs named.
    (folder / "state.json").write_text(json.dumps({**full, "status": "failed", "reduced_event_id": 2}))
    metadata, state, warnings = inspect_run(store, run_id)
    assert state == full and len(warnings) == 1
    assert warnings[0].startswith("state.json does not reflect the events: differs in status 'failed' instead of "
                                  "'completed'")
    assert warnings[0].endswith("; the state shown is rebuilt from the events (`faber runs repair RUN` rewrites "
                                "the file)")
    (folder / "state.json").unlink()
    (folder / "events" / "003-checkpoint.json").write_bytes(b"{")
    (folder / "events" / "004-checkpoint.json").write_text(json.dumps({"event_id": 4, "type": "checkpoint"}))
    _, state, warnings = inspect_run(store, run_id)
    assert state["last_event_id"] == 8 and metadata["run_id"] == str(run_id)
    assert warnings[0].startswith("003-checkpoint.json cannot be read as JSON (") and warnings[0].endswith(
        "; the file was skipped")
    assert warnings[1].startswith("004-checkpoint.json is not a valid event (") and "skipped" in warnings[1]
    assert warnings[2].startswith("2 event id(s) have no valid event")
    assert warnings[-1].startswith("state.json is missing or unreadable; the state shown is rebuilt")


def test_reading_a_run_names_broken_lineage(store: LocalRunStore) -> None:
    from faber_backend_local_files.inspection import inspect_run

    original, _ = finished_run(store)
    rerun, _ = finished_run(store)
    store.update_metadata(rerun, lambda m: {**m, "relationships": {"parent_run_id": None, "rerun_of": str(original),
                                                                   "child_runs": []}})
    (Path(store.folder(rerun).path) / "state.json").unlink()  # (a current checkpoint is trusted without a full read)
    assert f"this run re-runs {original} but has no workflow_rerun event recording the change" in inspect_run(
        store, rerun)[2]
    assert inspect_run(store, original)[2] == [], "a checkpoint that is current is trusted: no full read"
    (Path(store.folder(original).path) / "state.json").unlink()
    assert inspect_run(store, original)[2][-1] == (
        f"run {rerun} is a re-run of this run but is missing from its child_runs")
    store.update_metadata(original, lambda m: {**m, "relationships": {"parent_run_id": None, "rerun_of": None,
                                                                      "child_runs": [str(rerun)]}})
    assert not any("child_runs" in warning for warning in inspect_run(store, original)[2])


def test_a_cleaned_up_run_is_read_from_its_state_alone(store: LocalRunStore) -> None:
    from faber_backend_local_files.archiving import cleanup_run, consolidate_run
    from faber_backend_local_files.inspection import inspect_run

    run_id, folder = finished_run(store)
    full = store.reconstruct(run_id)
    bundle = consolidate_run(store, run_id)
    cleanup_run(store, run_id, bundle.manifest_sha256, dry_run=False)
    assert inspect_run(store, run_id)[1:] == (full, [])
    (folder / "state.json").unlink()
    with pytest.raises(StorageError, match=r"state.json of run .* is missing and its events were archived"):
        inspect_run(store, run_id)

"""`faber migrate`: the old single-file state becomes a run, as far as the file allows."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, Cli, assert_one_line_error, snapshot
from faber_backend_local_files.store import LocalRunStore
from faber_hookspecs.errors import InvalidEvent, RunFinished, StorageError
from faber_hookspecs.events import Event
from faber_hookspecs.metadata import RunMetadata
from faber_hookspecs.run_id import RunId
from faber_hookspecs.runs import RunRecord
from faber_hookspecs.validation import schema_validator

from faber_host.api import Faber

EXAMPLE = FIXTURES / "reference-config" / "config__state.example.json"


@pytest.fixture
def old_state(project_dir: Path) -> Path:
    target = project_dir / ".fractary" / "plugins" / "faber" / "state.json"
    shutil.copyfile(EXAMPLE, target)
    return target


def test_the_reference_example_becomes_a_run(faber: Faber, cli: Cli, old_state: Path) -> None:
    before = old_state.read_bytes()
    out = cli.ok("migrate")
    first = out.splitlines()[0]
    assert first.startswith(f"migrated {old_state} to run acme/widget-service/") and first.endswith("(11 events)")
    run_id = first.split(" to run ")[1].split()[0]
    assert "could not recover:" in out and "the old file is kept as it was" in out
    assert "when each step started and ended" in out and "'default' is assumed" in out
    assert old_state.read_bytes() == before  # the old file is kept, unchanged

    events = [e.model_dump(mode="json", exclude_none=True) for e in faber.events(run_id)]
    assert [(e["type"], e.get("phase"), e.get("step")) for e in events] == [
        ("workflow_start", None, None),
        ("phase_start", "frame", None),
        ("step_complete", "frame", "fetch-work"),
        ("step_complete", "frame", "classify"),
        ("step_complete", "frame", "setup-env"),
        ("branch_create", "frame", None),
        ("phase_complete", "frame", None),
        ("phase_start", "architect", None),
        ("hook_execute", "architect", None),
        ("step_start", "architect", "generate-spec"),
        ("spec_generate", None, None),
    ]
    timing = [e["metadata"]["reconstructed"]["timing"] for e in events]
    assert [e["event_id"] for e in events if timing[e["event_id"] - 1] == "recorded"] == [1, 2, 7, 8]
    assert events[0]["timestamp"] == "2025-11-19T15:00:00.000Z" and events[6]["timestamp"] == "2025-11-19T15:10:00.000Z"
    assert events[9]["timestamp"] == "2025-11-19T15:15:00.000Z"  # the current step, as of the last update
    assert all(e["source"] == "faber-migrate" for e in events)
    assert events[5]["artifacts"] == [{"type": "branch", "name": "feat/158-review-faber-workflow-config"}]
    assert events[10]["artifacts"][0]["path"] == "/specs/WORK-00158-review-faber-workflow-config.md"

    record = faber.run(run_id)
    assert record.warnings == []
    state = record.state
    assert (state.status, state.current_phase, state.current_step) == ("in_progress", "architect", "generate-spec")
    assert state.started_at == "2025-11-19T15:00:00.000Z"
    assert [s.id for s in state.phases["frame"].steps if s.status == "completed"] == ["fetch-work", "classify", "setup-env"]
    assert state.phases["architect"].status == "in_progress" and state.phases["build"].status == "pending"
    metadata = record.metadata.to_json()
    assert (metadata["work_id"], metadata["target"], metadata["autonomy"], metadata["workflow_id"]) == (
        "158", "faber-workflow-config-review", "guarded", "default")
    assert metadata["params"] == {"additional_instructions": "Focus on performance and keep changes minimal"}
    origin = metadata["migrated_from"]
    assert origin["file"] == ".fractary/plugins/faber/state.json"
    assert origin["sha256"] == hashlib.sha256(before).hexdigest()
    assert origin["old_state"] == json.loads(before)  # nothing the file said is lost
    assert schema_validator("run-metadata").is_valid(metadata)

    # Once is enough: a second migrate points at the run; --force imports again as another run.
    assert cli.ok("migrate").startswith(f"{old_state} was already migrated to run {run_id}")
    assert len(faber.list_runs()) == 1
    again = json.loads(cli.ok("migrate", "--force", "--json"))
    assert again["run_id"] != run_id and again["event_count"] == 11 and len(faber.list_runs()) == 2

    # The migrated run goes on like any other: state.json, the counter and the log agree.
    faber.emit(run_id, "step_complete", phase="architect", step="generate-spec", duration_ms=10)
    assert faber.run(run_id).state == faber.reconstruct(run_id)[0]
    assert faber.run(run_id).state.last_event_id == 12
    timeline = faber.timeline(run_id)
    assert timeline.reconstructed and timeline.end_ms > 15 * 60 * 1000  # the new event is now, a year later
    frame = timeline.bar("frame")
    assert frame is not None and frame.duration_ms == 10 * 60 * 1000
    fetch = timeline.bar("frame", "fetch-work")
    assert fetch is not None and fetch.duration_ms is None and not fetch.attempts[0].time_known
    page = faber.report(run_id)  # the report fades what is approximate, and says why
    assert 'class="attempt outcome-completed approximate"' in page and "rebuilt by <code>faber migrate</code>" in page


def test_a_dry_run_writes_nothing(faber: Faber, cli: Cli, old_state: Path, project_dir: Path) -> None:
    before = snapshot(project_dir)
    out = cli.ok("migrate", "--dry-run")
    assert out.startswith("would migrate") and "  10  2025-11-19T15:15:00.000Z~ step_start" in out
    assert snapshot(project_dir) == before
    document = json.loads(cli.ok("migrate", "--dry-run", "--json"))
    assert document["dry_run"] and document["run_id"] is None and len(document["events"]) == 11


def test_a_failed_run_with_approvals_retries_errors_and_oddities(faber: Faber, cli: Cli, tmp_path: Path) -> None:
    old = {
        "work_id": 42, "status": "failed", "current_phase": "evaluate", "current_step": "run tests",
        "started_at": "2025-01-02T10:00:00+02:00", "updated_at": "2025-01-02T09:30:00.123Z",
        "workflow": "core", "mystery": {"x": 1},
        "phases": {
            "frame": {"status": "completed", "started_at": "2025-01-02T08:00:00Z", "completed_at": "2025-01-02T08:05:00Z",
                      "completed_step_ids": ["frame:fetch-work"], "hooks_executed": {"post": ["notify"]}},
            "architect": {"status": "skipped"},
            "build": {"status": "completed", "started_at": "not a time", "completed_at": "2025-01-02T09:00:00Z",
                      "completed_steps": ["implement"], "artifacts": ["commit: abc123"]},
            "evaluate": {"status": "failed", "started_at": "2025-01-02T09:01:00Z"},
            "review": {"status": "completed"},
        },
        "retries": {"evaluate": 2},
        "errors": [{"phase": "evaluate", "step": "run tests", "code": "TESTS_FAILED", "message": "3 failed"},
                   {"message": "flaky network", "timestamp": "2025-01-02T09:10:00Z"}],
        "pending_approvals": [{"phase": "release", "message": "ship anyway?"}],
        "artifacts": {"pr_number": 7, "pr_url": None, "commits": ["abc123", "def456"]},
    }
    source = tmp_path / "old-state.json"
    source.write_text(json.dumps(old))
    result = json.loads(cli.ok("migrate", "--file", str(source), "--json"))
    run_id = result["run_id"]
    state = faber.run(run_id).state
    assert state.status == "failed" and state.work_id == "42"
    assert state.phases["architect"].status == "skipped" and state.phases["frame"].status == "completed"
    assert state.phases["evaluate"].status == "failed" and state.phases["evaluate"].retry_count == 2
    failed_step = state.phases["evaluate"].steps[0]
    assert (failed_step.id, failed_step.status, failed_step.last_error.code if failed_step.last_error else None) == (
        "run-tests", "failed", "TESTS_FAILED")
    # the step's error is also its phase's and the run's; the other error of the file is kept too
    assert [e.code for e in state.errors] == ["TESTS_FAILED", "TESTS_FAILED", "MIGRATED_ERROR", "TESTS_FAILED"]
    assert state.errors[2].message == "flaky network"
    assert state.pending_approvals[0].phase == "release"
    assert {a["name"] for a in state.artifacts.values()} == {"abc123", "def456", "#7"}
    assert faber.run(run_id).metadata.workflow_id == "core"
    events = list(faber.events(run_id))
    assert events[0].timestamp == "2025-01-02T08:00:00.000Z"  # +02:00 read right; the earliest time comes first
    times = [e.timestamp for e in events]
    assert times == sorted(times)  # never going back, even where the file contradicts itself
    not_recovered = " | ".join(result["not_recovered"])
    assert "phases.build.started_at 'not a time' is not a time" in not_recovered
    assert "phases FABER does not have: review" in not_recovered
    assert "fields with no place in a run: mystery" in not_recovered
    assert "when the run started" not in not_recovered


def test_bad_old_files_are_refused_with_one_line(faber: Faber, cli: Cli, project_dir: Path, tmp_path: Path) -> None:
    before = snapshot(project_dir)
    assert "nothing to migrate" in assert_one_line_error(cli("migrate"))
    cases = {
        "not json": "{oops",
        "a list": "[]",
        "a run's state": json.dumps({"run_id": "a/b/c", "last_event_id": 3, "reducer_version": 1, "phases": {}}),
        "no work id": json.dumps({"status": "in_progress", "started_at": "2025-01-01T00:00:00Z"}),
        "no time": json.dumps({"work_id": "1", "status": "in_progress"}),
        "phases not an object": json.dumps({"work_id": "1", "phases": []}),
    }
    for name, text in cases.items():
        source = tmp_path / f"{name}.json"
        source.write_text(text)
        line = assert_one_line_error(cli("migrate", "--file", str(source)))
        assert str(source) in line, line
        assert source.read_text() == text
    assert "--work-id" in assert_one_line_error(cli("migrate", "--file", str(tmp_path / "no work id.json")))
    assert snapshot(project_dir) == before  # nothing imported, nothing half-written
    ok = cli.ok("migrate", "--file", str(tmp_path / "no work id.json"), "--work-id", "77")
    assert ok.splitlines()[0].endswith("(1 event)")


def test_migrate_imports_history_through_the_store(faber: Faber, project_dir: Path) -> None:
    """The record store imports a history as given, or refuses it whole."""
    run_id = str(RunId.generate("acme", "widget-service"))
    metadata = RunMetadata(run_id=run_id, work_id="1", workflow_id="default", created_at="2025-01-01T00:00:00.000Z")

    def event(number: int, second: int, run: str = run_id, **fields: object) -> Event:
        return Event.model_validate({"event_id": number, "type": "checkpoint", "run_id": run,
                                     "timestamp": f"2025-01-01T00:00:{second:02d}.000Z", **fields})

    before = snapshot(project_dir)
    for events, problem in (
        ([event(1, 0), event(3, 1)], "event_id 3"),
        ([event(1, 5), event(2, 4)], "older than the event before it"),
        ([event(1, 0, "acme/other/" + run_id.rsplit("/", 1)[1])], "belongs to run"),
    ):
        with pytest.raises(InvalidEvent, match=problem):
            faber.gateway.store.import_history(metadata, events)
        assert snapshot(project_dir) == before  # refused whole: no folder, no staging left behind
    with pytest.raises(InvalidEvent, match="needs"):  # each event is checked against its type's rules
        LocalRunStore(str(project_dir / "runs"), sync=False).import_history(
            metadata.to_json(), [event(1, 0).to_json() | {"type": "step_start"}])

    record = faber.gateway.store.import_history(metadata, [
        event(1, 0, type="workflow_start"), event(2, 0), event(3, 9, type="workflow_complete")])
    assert isinstance(record, RunRecord) and record.warnings == []
    assert (record.state.status, record.state.last_event_id, record.state.completed_at) == (
        "completed", 3, "2025-01-01T00:00:09.000Z")
    assert [e.timestamp for e in faber.events(run_id)] == [
        "2025-01-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z", "2025-01-01T00:00:09.000Z"]
    with pytest.raises(RunFinished):  # an imported completed run is finished too
        faber.emit(run_id, "checkpoint")
    runs = str(project_dir / ".fractary/plugins/faber/runs")
    assert LocalRunStore(runs).folder(RunId.parse(run_id)).next_id() == 4  # the counter is right
    with pytest.raises(StorageError, match="already exists"):
        faber.gateway.store.import_history(metadata, [event(1, 0)])

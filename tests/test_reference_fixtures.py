"""Runs written by the FABER reference scripts are read, with their defects reported as warnings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, Cli, snapshot

from faber_host.api import Faber

RUNS = FIXTURES / "reference-runs" / "runs"
FAILED = "acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63"
RERUN = "acme/widget-service/9ebb4212-33fe-4c71-9286-c61081627fa3"


@pytest.fixture
def reference_project(project_dir: Path) -> Path:
    runs = project_dir / ".fractary/plugins/faber/runs"
    shutil.rmtree(runs)
    shutil.copytree(RUNS, runs)
    return project_dir


def test_every_reference_run_is_readable(reference_project: Path) -> None:
    faber = Faber.open(reference_project, {})
    listed = {state.run_id: state for state in faber.list_runs()}
    assert set(listed) == {FAILED, RERUN}
    for run_id in listed:
        record = faber.run(run_id)
        assert record.metadata.run_id == run_id
        events = list(faber.events(run_id))
        assert [e.event_id for e in events] == list(range(1, len(events) + 1))


def test_the_failed_run_is_shown_as_failed_with_its_defects(reference_project: Path) -> None:
    faber = Faber.open(reference_project, {})
    record = faber.run(FAILED)
    state = record.state
    assert state.status == "failed" and state.current_phase == "build" and state.last_event_id == 13
    assert state.phases["frame"].status == "completed" and state.phases["architect"].status == "completed"
    assert state.phases["build"].steps[0].id == "implement" and state.phases["build"].steps[0].status == "failed"
    assert state.artifacts["WORK-00123-pagination.md"]["path"] == "specs/WORK-00123-pagination.md"
    assert [e.code for e in state.errors] == ["BUILD_FAILED", "STEP_FAILED"]
    joined = "\n".join(record.warnings)
    assert "state.json does not reflect the events" in joined and "status 'pending' instead of 'failed'" in joined
    assert f"run {RERUN} is a re-run of this run but is missing from its child_runs" in joined
    assert listed_status(faber, FAILED) == "failed"


def test_the_rerun_without_its_event_is_reported(reference_project: Path) -> None:
    record = Faber.open(reference_project, {}).run(RERUN)
    assert record.state.last_event_id == 0 and record.metadata.relationships.rerun_of == FAILED
    assert any("has no workflow_rerun event" in warning for warning in record.warnings)
    assert record.metadata.autonomy == "autonomous"


def test_reading_changes_nothing_and_cli_prints_warnings(reference_project: Path) -> None:
    before = snapshot(reference_project)
    result = Cli(reference_project)("runs", "show", "ee04a6d4")
    assert result.returncode == 0
    assert "faber: warning: state.json does not reflect the events" in result.stderr
    assert "failed" in result.stdout
    assert snapshot(reference_project) == before


def test_emitting_into_a_reference_run_continues_its_log(reference_project: Path) -> None:
    faber = Faber.open(reference_project, {})
    result = faber.emit(FAILED, "workflow_resumed", metadata={"resume_from": {"phase": "build", "step": "implement"}})
    assert result.event.event_id == 14
    assert result.state.status == "in_progress" and result.state.phases["frame"].status == "completed"
    folder = reference_project / ".fractary/plugins/faber/runs" / FAILED
    assert (folder / "events/014-workflow_resumed.json").is_file()
    assert (folder / "events/.next-id").read_text() == "15\n"
    assert json.loads((folder / "state.json").read_text())["last_event_id"] == 14
    assert faber.run(FAILED).warnings[:1] != ["state.json does not reflect the events"]


def listed_status(faber: Faber, run_id: str) -> str:
    return next(s.status for s in faber.list_runs() if s.run_id == run_id)

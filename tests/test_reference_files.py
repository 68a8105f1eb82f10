"""The files a run shares with the FABER reference's readers and writers: the state keys its readers
use, and its writers' events that break faber's stricter schema, read with a warning."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES, Cli, clean_environ

from faber_host.api import Faber

FAILED = "acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63"


def test_state_json_carries_what_the_reference_readers_use(faber: Faber, project_dir: Path) -> None:
    run = faber.new_run("42", params={"work_type": "feature"}).run_id
    for kind, fields in (("workflow_start", {}), ("phase_start", {"phase": "frame"}),
                         ("step_start", {"phase": "frame", "step": "fetch"}),
                         ("step_complete", {"phase": "frame", "step": "fetch", "duration_ms": 5}),
                         ("step_start", {"phase": "frame", "step": "classify"}),
                         ("decision_point", {"phase": "frame", "metadata": {"work_type": "bug"}})):
        faber.emit(run, kind, **fields)  # type: ignore[arg-type]
    faber.reconstruct(run, write=True)
    path = project_dir / ".fractary/plugins/faber/runs" / run / "state.json"
    state = json.loads(path.read_text())
    assert state["work_type"] == "bug" and state["workflow_version"] == "2.1" and state["last_event_id"] == 6
    # resume-run.sh's own reading of the current step: the first step not completed, by name.
    found = subprocess.run(["jq", "-r", '.phases[.current_phase].steps | map(select(.status != "completed")) '
                                        '| .[0].name'], input=path.read_text(), capture_output=True, text=True)
    assert found.stdout.strip() == "classify"
    assert faber.run(run).state.phases["frame"].steps[0].name == "fetch"


@pytest.fixture
def reference_run(project_dir: Path) -> Path:
    """The reference fixture's failed run, with one step_complete as its gateway writes it when the
    duration is 0 (dropped) and one error event without its error."""
    runs = project_dir / ".fractary/plugins/faber/runs"
    shutil.rmtree(runs)
    shutil.copytree(FIXTURES / "reference-runs" / "runs", runs)
    events = runs / FAILED / "events"
    for name, key in (("004-step_complete.json", "duration_ms"), ("012-step_error.json", "error")):
        document = json.loads((events / name).read_text())
        del document[key]
        (events / name).write_text(json.dumps(document, indent=2) + "\n")
    return project_dir


def test_a_reference_event_breaking_the_schema_is_read_with_a_warning(reference_run: Path) -> None:
    cli = Cli(reference_run)
    shown = cli("runs", "show", "ee04a6d4")
    assert shown.returncode == 0 and "Traceback" not in shown.stderr
    assert "004-step_complete.json lacks 'duration_ms'" in shown.stderr and "012-step_error.json lacks 'error'" in (
        shown.stderr)
    listed = cli("events", "ee04a6d4", "--json")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 13
    assert FAILED in cli.ok("runs", "list")
    record = Faber.open(reference_run, clean_environ()).run(FAILED)
    assert record.state.status == "failed" and record.state.phases["build"].steps[0].status == "failed"
    verify = cli("runs", "verify", "ee04a6d4")
    assert verify.returncode != 0
    assert "event_incomplete: 004-step_complete.json" in verify.stdout and "event_incomplete: 012-step_error.json" in (
        verify.stdout)

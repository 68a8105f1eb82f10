"""contrib/faber-plugin/scripts: the drop-in run-manager scripts, run as the FABER plugin's agents and
skills call them (section 3 of the reference interfaces), against the real `faber` command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import FABER, REPO, clean_environ

from faber_host.api import Faber

SCRIPTS = REPO / "contrib/faber-plugin/scripts"
REFERENCE_SCRIPTS = ["generate-run-id.sh", "init-run-directory.sh", "emit-event.sh", "resume-run.sh", "rerun-run.sh"]


def script(project: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPTS / name), *args], cwd=project, env=clean_environ(FABER=FABER),
                          capture_output=True, text=True, timeout=120)


def ok(project: Path, name: str, *args: str) -> Any:
    result = script(project, name, *args)
    assert result.returncode == 0, (name, args, result.stdout, result.stderr)
    return json.loads(result.stdout) if result.stdout.lstrip().startswith("{") else result.stdout.strip()


def emit_error(project: Path, *args: str) -> dict[str, Any]:
    """An emit-event.sh call that must fail as the reference fails: exit 1, one JSON line on stderr."""
    result = script(project, "emit-event.sh", *args)
    assert result.returncode == 1 and result.stdout == "", (args, result.stdout, result.stderr)
    (line,) = result.stderr.strip().splitlines()
    document: dict[str, Any] = json.loads(line)
    assert document["status"] == "error" and "Traceback" not in line
    return document["error"]  # type: ignore[no-any-return]


@pytest.fixture
def run(project_dir: Path) -> str:
    """A run made as faber-manager.md makes one: generate-run-id.sh, then init-run-directory.sh."""
    run_id = ok(project_dir, "generate-run-id.sh")
    assert isinstance(run_id, str) and run_id.startswith("acme/widget-service/")
    created = ok(project_dir, "init-run-directory.sh", "--run-id", run_id, "--work-id", "42", "--target", "api",
                 "--workflow", "default", "--autonomy", "guarded", "--plan-id", "plan-7")
    assert created["status"] == "success" and created["operation"] == "init-run-directory"
    assert created["run_id"] == run_id and created["work_id"] == "42" and len(created["files_created"]) == 3
    assert all((project_dir / path).exists() for path in created["files_created"])
    return run_id


def test_every_run_manager_script_has_a_drop_in() -> None:
    assert {path.name for path in SCRIPTS.glob("*.sh") if not path.name.startswith("_")} == set(REFERENCE_SCRIPTS)
    assert all((SCRIPTS / name).stat().st_mode & 0o111 for name in REFERENCE_SCRIPTS)


def test_generate_run_id_prints_plain_text(project_dir: Path) -> None:
    assert len(ok(project_dir, "generate-run-id.sh", "--uuid-only")) == 36
    assert ok(project_dir, "generate-run-id.sh", "--org", "other", "--project", "thing").startswith("other/thing/")
    unknown = script(project_dir, "generate-run-id.sh", "--nope")
    assert unknown.returncode == 1 and unknown.stderr.strip() == "Unknown option: --nope"


def test_the_agents_emit_calls_are_recorded(project_dir: Path, run: str) -> None:
    """Each emit-event.sh call shape of agents/faber-manager.md and skills/feedback-handler, in a run's
    order; those the reference script rejects (--data, --duration, step_failed, ...) are recorded too."""
    calls: list[list[str]] = [
        ["--type", "workflow_start", "--message", "Starting", "--data", '{"work_id": "42", "autonomy": "guarded"}'],
        ["--type", "decision_point", "--phase", "frame", "--message", "Proceed?"],
        ["--type", "approval_granted", "--phase", "frame", "--message", "ok"],
        ["--type", "phase_start", "--phase", "frame", "--status", "started", "--message", "Frame"],
        ["--type", "step_start", "--phase", "frame", "--step", "fetch", "--status", "started", "--message", "go"],
        ["--type", "skill_invoked", "--phase", "frame", "--step", "fetch", "--skill_name", "issue-fetch",
         "--skill_config", "{}", "--message", "skill"],
        ["--type", "step_failed", "--phase", "frame", "--step", "fetch", "--status", "failed", "--message", "boom",
         "--data", '{"attempt": 1}'],
        ["--type", "step_retry", "--phase", "frame", "--step", "fetch", "--message", "again", "--data", '{"n": 2}'],
        ["--type", "step_start", "--phase", "frame", "--step", "fetch", "--status", "started", "--message", "go"],
        ["--type", "step_complete", "--phase", "frame", "--step", "fetch", "--status", "completed", "--duration",
         "1500", "--message", "done", "--data", '{"files": 3}'],
        ["--type", "decision_point", "--phase", "frame", "--step", "fetch", "--message", "asked",
         "--metadata", '{"request_id": "r1"}'],
        ["--type", "feedback_received", "--phase", "frame", "--step", "fetch", "--message", "answered",
         "--metadata", '{"request_id": "r1"}'],
        ["--type", "phase_complete", "--phase", "frame", "--status", "completed", "--message", "Frame done"],
        ["--type", "retry_loop_enter", "--phase", "evaluate", "--message", "round 2"],
        ["--type", "retry_loop_exit", "--phase", "evaluate", "--status", "failed", "--message", "gave up"],
        ["--type", "workflow_resumed", "--message", "resumed"],
        ["--type", "step_complete", "--phase", "build", "--step", "x", "--duration-ms", "0",
         "--artifacts", '[{"type": "file", "name": "a.py", "path": "a.py"}]'],
        ["--type", "workflow_complete", "--status", "completed", "--message", "done", "--data", '{"pr": 9}'],
    ]
    for number, arguments in enumerate(calls, start=1):
        answer = ok(project_dir, "emit-event.sh", "--run-id", run, *arguments)
        assert set(answer) == {"status", "operation", "event_id", "type", "run_id", "timestamp", "event_path"}
        assert answer["status"] == "success" and answer["operation"] == "emit-event"
        assert answer["event_id"] == number and answer["run_id"] == run
        assert (project_dir / answer["event_path"]).is_file(), answer["event_path"]
    events = list(Faber.open(project_dir, clean_environ()).events(run))
    assert events[0].metadata == {"work_id": "42", "autonomy": "guarded"}  # --data kept as metadata
    assert events[5].type == "skill_invoke" and events[5].metadata == {"skill_name": "issue-fetch",
                                                                       "skill_config": "{}"}
    assert events[6].type == "step_error" and events[6].error is not None and events[6].error.message == "boom"
    assert events[9].duration_ms == 1500 and events[16].duration_ms == 0 and events[16].artifacts[0].path == "a.py"
    assert Faber.open(project_dir, clean_environ()).run(run).state.status == "completed"


def test_emit_refusals_are_the_reference_errors(project_dir: Path, run: str) -> None:
    assert emit_error(project_dir, "--type", "phase_start")["code"] == "MISSING_RUN_ID"
    assert emit_error(project_dir, "--run-id", run)["code"] == "MISSING_EVENT_TYPE"
    assert emit_error(project_dir, "--run-id", "a/b", "--type", "checkpoint")["code"] == "INVALID_RUN_ID"
    assert emit_error(project_dir, "--run-id", run, "--type", "checkpoint", "--metadata", "[1]")["code"] == (
        "INVALID_METADATA")
    assert emit_error(project_dir, "--run-id", run, "--type", "checkpoint", "--artifacts", "{}")["code"] == (
        "INVALID_ARTIFACTS")
    assert emit_error(project_dir, "--run-id", run, "--type", "checkpoint", "--error", "x")["code"] == "INVALID_ERROR"
    assert emit_error(project_dir, "--run-id", run, "--type", "checkpoint", "--duration-ms", "-1")["code"] == (
        "INVALID_DURATION")
    # Types with no unambiguous faber meaning are refused in one line, nothing stored.
    for kind in ("workflow_rerun_confirmed", "step_pending_input", "command_invoked"):
        refused = emit_error(project_dir, "--run-id", run, "--type", kind, "--message", "m")
        assert refused["code"] == "INVALID_EVENT_TYPE" and kind in refused["message"]
    missing = emit_error(project_dir, "--run-id", "acme/widget-service/00000000-0000-4000-8000-000000000000",
                         "--type", "checkpoint")
    assert missing["code"] == "RUN_NOT_FOUND"
    # A step_complete needs its duration: faber's one line says so.
    assert "duration_ms" in emit_error(project_dir, "--run-id", run, "--type", "step_complete", "--phase", "build",
                                       "--step", "s")["message"]
    assert list(Faber.open(project_dir, clean_environ()).events(run)) == []
    unknown = script(project_dir, "emit-event.sh", "--run-id", run, "--type", "checkpoint", "--plan-id", "x")
    assert unknown.returncode == 1 and unknown.stderr.strip() == "Unknown option: --plan-id"


def test_init_run_directory_refusals(project_dir: Path, run: str) -> None:
    again = script(project_dir, "init-run-directory.sh", "--run-id", run, "--work-id", "1")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert script(project_dir, "init-run-directory.sh", "--work-id", "1").stderr.strip() == (
        "Error: --run-id is required")
    assert script(project_dir, "init-run-directory.sh", "--run-id", run).stderr.strip() == (
        "Error: --work-id is required")
    metadata = Faber.open(project_dir, clean_environ()).run(run).metadata
    assert metadata.params == {"plan_id": "plan-7"} and metadata.target == "api"


def test_resume_run_as_the_director_calls_it(project_dir: Path, run: str) -> None:
    for arguments in (["--type", "workflow_start"], ["--type", "phase_start", "--phase", "frame"],
                      ["--type", "phase_complete", "--phase", "frame"], ["--type", "phase_start", "--phase", "build"],
                      ["--type", "step_start", "--phase", "build", "--step", "implement"],
                      ["--type", "step_error", "--phase", "build", "--step", "implement",
                       "--error", '{"code": "E", "message": "m"}'],
                      ["--type", "workflow_error", "--error", '{"code": "E", "message": "m"}']):
        ok(project_dir, "emit-event.sh", "--run-id", run, *arguments)
    answer = ok(project_dir, "resume-run.sh", "--run-id", run)
    assert answer["status"] == "success" and answer["operation"] == "resume-run" and answer["run_status"] == "failed"
    context = answer["resume_context"]
    # faber's judgement of where to go on: the workflow's first step not done (architect was never run)
    assert context["completed_phases"] == ["frame"] and context["current_phase"] == "architect"
    assert context["current_step"] and context["event_count"] == 7 and answer["metadata"]["run_id"] == run
    assert answer["resume_from"]["phase"] == "architect" and answer["completed_phases"] == ["frame"]  # the director's
    at_step = ok(project_dir, "resume-run.sh", "--run-id", run, "--step", "build:implement")
    assert at_step["resume_context"]["current_step"] == "implement"
    ok(project_dir, "emit-event.sh", "--run-id", run, "--type", "workflow_resumed")
    ok(project_dir, "emit-event.sh", "--run-id", run, "--type", "workflow_cancelled")
    refused = script(project_dir, "resume-run.sh", "--run-id", run)
    assert refused.returncode == 1 and json.loads(refused.stdout)["status"] == "error"
    assert "cancelled" in json.loads(refused.stdout)["error"]


def test_rerun_run_records_its_event_and_links_the_original(project_dir: Path, run: str) -> None:
    answer = ok(project_dir, "rerun-run.sh", "--run-id", run, "--autonomy", "autonomous", "--phases", "build")
    assert answer["status"] == "success" and answer["operation"] == "rerun-run"
    assert answer["original_run_id"] == run and answer["relationships"]["rerun_of"] == run
    assert answer["autonomy"] == "autonomous" and answer["phases"] == ["build"] and answer["work_id"] == "42"
    assert answer["original_params"]["autonomy"] == "guarded" and (project_dir / answer["run_path"]).is_dir()
    faber = Faber.open(project_dir, clean_environ())
    assert [event.type for event in faber.events(answer["new_run_id"])] == ["workflow_rerun"]
    assert faber.run(run).metadata.relationships.child_runs == [answer["new_run_id"]]
    missing = script(project_dir, "rerun-run.sh", "--run-id", "acme/widget-service/00000000-0000-4000-8000-"
                                                              "000000000000")
    assert missing.returncode == 1 and json.loads(missing.stdout)["status"] == "error"

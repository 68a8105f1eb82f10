"""`faber run`, resume, re-run and approvals, end to end through the real `faber` command.

Every scenario runs real shell steps in a temporary project; the Python API is only used to look
at what was recorded.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    FABER,
    Cli,
    assert_one_line_error,
    clean_environ,
    event_types,
    executed_steps,
    shell_step,
    write_workflow,
)

from faber_host.api import Faber

COMPILE = "test -f fixed || { echo 'error: src/app.c:3: missing semicolon' >&2; exit 2; }"

CI: dict[str, Any] = {
    "id": "ci",
    "autonomy": {"level": "autonomous"},
    "phases": {
        "frame": {"steps": [shell_step("fetch", "echo fetched {work_id}")]},
        "architect": {"steps": [shell_step("plan", "echo planning")]},
        "build": {"steps": [shell_step("compile", COMPILE)]},
        "evaluate": {"steps": [shell_step("test", "echo tests pass")]},
        "release": {"steps": [shell_step("ship", "echo shipping {version}")]},
    },
}


def run_id_of(stdout: str) -> str:
    match = re.search(r"^run ([a-z0-9_-]+/[a-z0-9_-]+/[0-9a-f-]{36}) \(", stdout, re.MULTILINE)
    assert match, stdout
    return match[1]


def short(run_id: str) -> str:
    return run_id.rsplit("/", 1)[-1][:8]


def events(faber: Faber, run_id: str, kind: str) -> list[Any]:
    return [event for event in faber.events(run_id) if event.type == kind]


@pytest.fixture
def ci(project_dir: Path) -> Path:
    return write_workflow(project_dir, CI)


def test_fail_then_resume_to_completion(cli: Cli, faber: Faber, project_dir: Path, ci: Path) -> None:
    first = cli("run", "ci", "--work-id", "42", "--param", "version=1.0")
    assert first.returncode == 1, first.stderr
    run_id = run_id_of(first.stdout)
    assert "[build] compile failed" in first.stdout and "error: src/app.c:3: missing semicolon" in first.stdout
    assert f"faber run --resume {short(run_id)}" in first.stdout
    record = faber.run(run_id)
    assert record.state.status == "failed" and record.state.phases["build"].steps[0].status == "failed"
    step_error = events(faber, run_id, "step_error")[0]
    assert step_error.error.code == "STEP_FAILED" and step_error.metadata["exit_code"] == 2
    assert "missing semicolon" in step_error.metadata["output_tail"]

    context = cli.json("runs", "resume-context", short(run_id), "--json")
    assert context["resumable"] is True and context["next_action"] == "run_step"
    assert context["next_step"]["phase"] == "build" and context["next_step"]["id"] == "compile"
    assert context["next_step"]["status"] == "failed" and context["next_step"]["attempts"] == 1
    assert context["completed_steps"] == {"frame": ["fetch"], "architect": ["plan"]}
    assert context["completed_phases"] == ["frame", "architect"]
    assert context["remaining_steps"] == ["build:compile", "evaluate:test", "release:ship"]
    last = record.state.last_event_id
    assert context["resume_from"] == {"phase": "build", "step": "compile", "event_id": last}
    assert faber.run(run_id).state.last_event_id == last  # resume-context recorded nothing

    (project_dir / "fixed").touch()
    second = cli("run", "--resume", short(run_id))
    assert second.returncode == 0, second.stdout + second.stderr
    assert run_id_of(second.stdout) == run_id and "resumed at build:compile" in second.stdout
    assert executed_steps(project_dir) == ["fetch", "plan", "compile", "compile", "test", "ship"]
    resumed = events(faber, run_id, "workflow_resumed")
    assert len(resumed) == 1 and len(events(faber, run_id, "workflow_start")) == 1
    assert resumed[0].metadata["resume_from"] == {"phase": "build", "step": "compile", "event_id": last}
    assert resumed[0].metadata["completed_steps"] == ["frame:fetch", "architect:plan"]
    state = faber.run(run_id).state
    assert state.status == "completed" and state.resumes[0].step == "compile"
    assert [s.attempts for s in state.phases["build"].steps] == [2]
    assert cli.ok("runs", "verify", run_id).startswith(f"run {run_id}: ok")

    refused = assert_one_line_error(cli("run", "--resume", short(run_id)), 2)
    assert "is completed" in refused and f"faber run --rerun {short(run_id)}" in refused


def test_steps_get_the_run_in_their_environment_and_safe_placeholders(cli: Cli, project_dir: Path) -> None:
    write_workflow(project_dir, {"id": "env", "autonomy": {"level": "autonomous"}, "phases": {"build": {"steps": [
        {"id": "show", "run": 'printf "%s|%s|%s|%s|%s|%s\\n" "$FABER_RUN_ID" "$FABER_WORK_ID" "$FABER_PHASE" '
                              '"$FABER_STEP" "$FABER_PARAM_GREETING" {greeting} > env.txt'},
    ]}}})
    result = cli("run", "env", "--work-id", "W-7", "--param", "greeting=hi; touch pwned")
    assert result.returncode == 0, result.stdout + result.stderr
    run_id = run_id_of(result.stdout)
    assert (project_dir / "env.txt").read_text() == f"{run_id}|W-7|build|show|hi; touch pwned|hi; touch pwned\n"
    assert not (project_dir / "pwned").exists()


def test_retries_record_each_attempt_and_timeouts_stop_the_step(cli: Cli, faber: Faber, project_dir: Path) -> None:
    flaky = 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo "attempt $n"; [ "$n" -ge 3 ]'
    write_workflow(project_dir, {"id": "flaky", "autonomy": {"level": "autonomous"}, "phases": {
        "build": {"steps": [{"id": "flaky", "run": flaky, "retries": 2}]},
        "evaluate": {"steps": [{"id": "slow", "run": "sleep 30", "timeout": 0.5}]},
    }})
    started = time.monotonic()
    result = cli("run", "flaky", "--work-id", "1")
    assert result.returncode == 1 and time.monotonic() - started < 15
    run_id = run_id_of(result.stdout)
    flaky_events = [(e.type, e.retry_attempt) for e in faber.events(run_id) if e.step == "flaky"]
    assert flaky_events == [
        ("step_start", None), ("step_error", None), ("step_retry", 1), ("step_start", None), ("step_error", None),
        ("step_retry", 2), ("step_start", None), ("step_complete", None),
    ]
    state = faber.run(run_id).state
    assert state.phases["build"].steps[0].attempts == 3 and state.phases["build"].steps[0].retries == 2
    timeout = events(faber, run_id, "step_error")[-1]
    assert timeout.step == "slow" and timeout.error.code == "STEP_TIMEOUT"


def wait_for(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def process_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


SLOW_BUILD = {
    "id": "slow",
    "autonomy": {"level": "autonomous"},
    "phases": {
        "frame": {"steps": [shell_step("fetch", "true")]},
        # The first attempt signals it started, then sleeps; later attempts finish at once.
        "build": {"steps": [shell_step("compile", "if [ ! -f started ]; then echo $$ > step.pid; touch started; "
                                                  "sleep 60; fi")]},
        "release": {"steps": [shell_step("ship", "true")]},
    },
}


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_cancelled_run_records_it_stops_its_step_and_resumes(
    cli: Cli, faber: Faber, project_dir: Path, signum: int, code: int
) -> None:
    write_workflow(project_dir, SLOW_BUILD)
    process = subprocess.Popen([FABER, "run", "slow", "--work-id", "5"], cwd=project_dir, env=clean_environ(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(project_dir / "started")
        step_pid = int((project_dir / "step.pid").read_text())
        run_id = faber.list_runs()[0].run_id
        # While it executes, nobody else may take the run over.
        busy = assert_one_line_error(cli("run", "--resume", run_id), 1)
        assert f"being executed by process {process.pid}" in busy
        assert cli.json("runs", "resume-context", run_id, "--json")["resumable"] is False  # type: ignore[index]
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == code, stdout + stderr
    assert f"cancelled by {signal.Signals(signum).name}" in stdout and "Traceback" not in stderr
    assert process_gone(step_pid), "the step's shell outlived the cancellation"
    cancelled = events(faber, run_id, "workflow_cancelled")[0]
    assert (cancelled.phase, cancelled.step) == ("build", "compile")
    state = faber.run(run_id).state
    assert state.status == "cancelled" and state.phases["build"].steps[0].status == "cancelled"

    resumed = cli("run", "--resume", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert executed_steps(project_dir) == ["fetch", "compile", "compile", "ship"]
    assert faber.run(run_id).state.status == "completed"


AGENT = {
    "id": "agent",
    "autonomy": {"level": "autonomous"},
    "phases": {
        "frame": {"steps": [shell_step("fetch", "true")]},
        "build": {"steps": [{"id": "implement", "name": "Implement", "command": "/fractary-faber:build",
                             "arguments": {"work_id": "{work_id}"}}]},
        "evaluate": {"steps": [shell_step("test", "true")]},
    },
}


def test_a_step_no_executor_can_run_pauses_for_an_agent(cli: Cli, faber: Faber, project_dir: Path) -> None:
    write_workflow(project_dir, AGENT)
    first = cli("run", "agent", "--work-id", "77")
    assert first.returncode == 3, first.stdout + first.stderr
    run_id = run_id_of(first.stdout)
    assert "paused at build:implement: it needs an agent" in first.stdout
    state = faber.run(run_id).state
    assert state.status == "paused" and "faber mcp" in (state.paused_reason or "")
    assert "install an executor plugin" in (state.paused_reason or "")
    context = cli.json("runs", "resume-context", run_id, "--json")
    expected = {"phase": "build", "id": "implement", "kind": "command", "command": "/fractary-faber:build",
                "arguments": {"work_id": "77"}}
    assert {key: context["next_step"][key] for key in expected} == expected  # type: ignore[index]

    # The agent resumes without executing anything, does the step itself, and records it.
    resumed = cli.json("runs", "resume", run_id, "--json")
    assert resumed["status"] == "in_progress" and resumed["next_step"]["id"] == "implement"  # type: ignore[index]
    assert event_types(faber, run_id)[-1] == "workflow_resumed"
    cli.ok("event", "emit", run_id, "step_start", "--phase", "build", "--step", "implement")
    cli.ok("event", "emit", run_id, "step_complete", "--phase", "build", "--step", "implement", "--duration-ms", "900")
    after = cli.json("runs", "resume-context", run_id, "--json")
    assert after["next_action"] == "close_phase" and after["resume_from"]["phase"] == "build"  # type: ignore[index]

    finish = cli("run", "--resume", run_id)
    assert finish.returncode == 0, finish.stdout + finish.stderr
    assert executed_steps(project_dir) == ["fetch", "test"]
    assert faber.run(run_id).state.status == "completed"


GUARDED = {
    "id": "guarded",
    "autonomy": {"level": "guarded", "require_approval_for": ["release"]},
    "phases": {
        "build": {"steps": [shell_step("compile", "true")]},
        "release": {"steps": [shell_step("ship", "true")]},
    },
}


def test_approval_granted_lets_the_resumed_run_release(cli: Cli, faber: Faber, project_dir: Path) -> None:
    write_workflow(project_dir, GUARDED)
    first = cli("run", "guarded", "--work-id", "9")
    assert first.returncode == 3, first.stdout + first.stderr
    run_id = run_id_of(first.stdout)
    assert "waiting for approval of release" in first.stdout and executed_steps(project_dir) == ["compile"]
    assert event_types(faber, run_id)[-2:] == ["approval_request", "workflow_paused"]
    assert faber.run(run_id).state.pending_approvals[0].phase == "release"
    refused = assert_one_line_error(cli("run", "--resume", run_id), 2)
    assert "waits for approval of release" in refused and "faber runs approve" in refused

    approved = cli.ok("runs", "approve", short(run_id), "--reason", "ship it")
    assert approved.startswith("release granted for run")
    granted = events(faber, run_id, "approval_granted")[0]
    assert granted.phase == "release" and granted.message == "ship it" and granted.user
    resumed = cli("run", "--resume", run_id)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert executed_steps(project_dir) == ["compile", "ship"]
    state = faber.run(run_id).state
    assert state.status == "completed" and state.approvals[0].decision == "granted"


def test_approval_denied_ends_the_resumed_run(cli: Cli, faber: Faber, project_dir: Path) -> None:
    write_workflow(project_dir, GUARDED)
    run_id = run_id_of(cli("run", "guarded", "--work-id", "9").stdout)
    cli.ok("runs", "approve", run_id, "--deny", "--reason", "not before the freeze ends")
    ended = cli("run", "--resume", run_id)
    assert ended.returncode == 4, ended.stdout + ended.stderr
    assert "release was denied by" in ended.stdout and "not before the freeze ends" in ended.stdout
    assert executed_steps(project_dir) == ["compile"]
    last = list(faber.events(run_id))[-1]
    assert (last.type, last.status, last.phase) == ("workflow_cancelled", "denied", "release")
    assert faber.run(run_id).state.status == "cancelled"
    nothing = assert_one_line_error(cli("runs", "approve", run_id, "--phase", "deploy"), 2)
    assert "unknown phase 'deploy'" in nothing


def test_a_rerun_of_a_run_started_without_an_autonomy_level_records_only_what_changed(cli: Cli) -> None:
    run = cli.ok("runs", "new", "--work-id", "7", "--param", "version=1.0").strip()  # no --autonomy: the workflow's
    created = cli.json("runs", "rerun", run, "--param", "version=1.1", "--json")
    assert created["parameter_changes"] == {"version": {"from": "1.0", "to": "1.1"}}  # type: ignore[index]


def test_rerun_records_the_changes_and_the_lineage_on_both_runs(
    cli: Cli, faber: Faber, project_dir: Path, ci: Path
) -> None:
    (project_dir / "fixed").touch()
    original = run_id_of(cli.ok("run", "ci", "--work-id", "42", "--param", "version=1.0", "--param", "channel=beta"))
    rerun = cli("run", "--rerun", short(original), "--param", "version=2.0", "--param", "notes=yes")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    new = run_id_of(rerun.stdout)
    assert new != original and new.rsplit("/", 1)[0] == original.rsplit("/", 1)[0]
    assert "shipping 2.0" in rerun.stdout

    changes = {"version": {"from": "1.0", "to": "2.0"}, "notes": {"from": None, "to": "yes"}}
    first_event = next(iter(faber.events(new)))
    assert first_event.type == "workflow_rerun" and first_event.metadata["parameter_changes"] == changes
    assert first_event.metadata["rerun_of"] == original
    shown = cli.json("runs", "show", new, "--json")
    metadata = shown["metadata"]  # type: ignore[index]
    assert metadata["params"] == {"version": "2.0", "channel": "beta", "notes": "yes"}
    assert metadata["parameter_changes"] == changes
    assert metadata["relationships"]["rerun_of"] == original and metadata["relationships"]["parent_run_id"] == original
    assert metadata["root_run_id"] == original
    assert faber.run(original).metadata.relationships.child_runs == [new]
    assert f"re-run:      {new} (completed)" in cli.ok("runs", "show", original)
    assert shown["warnings"] == []  # type: ignore[index]

    # A re-run of the re-run keeps the root; --json creates it without executing anything.
    before = executed_steps(project_dir)
    created = cli.json("runs", "rerun", new, "--autonomy", "assist", "--json")
    third = created["new_run_id"]  # type: ignore[index]
    assert created["parameter_changes"] == {"autonomy": {"from": "autonomous", "to": "assist"}}  # type: ignore[index]
    context = created["context"]  # type: ignore[index]
    assert context["status"] == "pending" and context["resumable"] is True
    assert context["next_action"] == "request_approval" and context["resume_from"]["phase"] == "frame"
    assert context["remaining_steps"][0] == "frame:fetch"
    assert executed_steps(project_dir) == before and event_types(faber, third) == ["workflow_rerun"]
    assert faber.run(third).metadata.root_run_id == original
    assert faber.run(new).metadata.relationships.child_runs == [third]
    started = cli("run", "--resume", third)
    assert started.returncode == 3, started.stdout  # assist: a person approves every phase, frame first
    assert "paused before frame" in started.stdout
    assert event_types(faber, third) == ["workflow_rerun", "workflow_start", "approval_request", "workflow_paused"]


def test_resume_after_the_workflow_changed_explains_and_needs_force(
    cli: Cli, faber: Faber, project_dir: Path, ci: Path
) -> None:
    run_id = run_id_of(cli("run", "ci", "--work-id", "42", "--param", "version=1.0").stdout)
    changed = json.loads(ci.read_text())
    changed["phases"]["build"]["steps"][0]["run"] = 'echo "compile" >> log.txt; echo fixed differently'
    changed["phases"]["build"]["steps"].append(shell_step("lint", "true"))
    changed["phases"]["frame"]["steps"][0]["description"] = "documentation does not count"
    ci.write_text(json.dumps(changed))

    refused = assert_one_line_error(cli("run", "--resume", run_id), 2)
    assert "the workflow changed since run" in refused and "step build:compile changed" in refused
    assert "step build:lint was added" in refused and "--force" in refused
    context = cli.json("runs", "resume-context", run_id, "--json")
    assert context["resumable"] is False and len(context["workflow_changes"]) == 3  # type: ignore[index]

    forced = cli("run", "--resume", run_id, "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert executed_steps(project_dir) == ["fetch", "plan", "compile", "compile", "lint", "test", "ship"]
    resumed = events(faber, run_id, "workflow_resumed")[0]
    assert resumed.metadata["forced"] is True and "step build:lint was added" in resumed.metadata["workflow_changes"]
    recorded = faber.run(run_id).metadata.workflow_fingerprint
    assert recorded is not None and recorded.hash == resumed.metadata["workflow_hash"]


def test_resume_at_a_chosen_step(cli: Cli, faber: Faber, project_dir: Path, ci: Path) -> None:
    run_id = run_id_of(cli("run", "ci", "--work-id", "42", "--param", "version=1.0").stdout)
    bad = assert_one_line_error(cli("run", "--resume", run_id, "--step", "build:nope"), 2)
    assert "has no step 'build:nope' (steps of build: build:compile)" in bad
    assert_one_line_error(cli("run", "--resume", run_id, "--step", "nonsense"), 2)
    too_far = assert_one_line_error(cli("run", "--resume", run_id, "--step", "release:ship"), 2)
    assert "not completed (build:compile, evaluate:test)" in too_far
    (project_dir / "fixed").touch()
    again = cli("run", "--resume", run_id, "--step", "architect:plan")
    assert again.returncode == 0, again.stdout + again.stderr
    assert executed_steps(project_dir) == ["fetch", "plan", "compile", "plan", "compile", "test", "ship"]
    assert events(faber, run_id, "workflow_resumed")[0].metadata["start_at"] == "architect:plan"


def test_usage_errors_are_one_line(cli: Cli, ci: Path) -> None:
    assert "give a WORKFLOW" in assert_one_line_error(cli("run"), 2)
    assert "cannot be used together" in assert_one_line_error(cli("run", "ci", "--resume", "abcdef12"), 2)
    assert "needs --work-id" in assert_one_line_error(cli("run", "ci"), 2)
    assert "do not go with --resume" in assert_one_line_error(cli("run", "--resume", "abcdef12", "--param", "a=b"), 2)
    new = ("run", "ci", "--work-id", "1")
    assert "unknown phase 'deploy'" in assert_one_line_error(cli(*new, "--phases", "deploy"), 2)
    assert "unknown autonomy level" in assert_one_line_error(cli(*new, "--autonomy", "yolo"), 2)
    assert "is reserved" in assert_one_line_error(cli("run", "ci", "--work-id", "1", "--param", "work_id=2"), 2)
    assert "no run matches" in assert_one_line_error(cli("run", "--resume", "abcdef12"), 2)


def test_phases_selection_and_dry_run(cli: Cli, faber: Faber, project_dir: Path, ci: Path) -> None:
    (project_dir / "fixed").touch()
    result = cli.ok("run", "ci", "--work-id", "1", "--param", "version=1", "--phases", "build,evaluate")
    run_id = run_id_of(result)
    assert executed_steps(project_dir) == ["compile", "test"]
    skipped = {e.phase: e.message for e in events(faber, run_id, "phase_skip")}
    assert skipped == {"frame": "not selected for this run", "architect": "not selected for this run",
                       "release": "not selected for this run"}
    dry = run_id_of(cli.ok("run", "ci", "--work-id", "1", "--param", "version=1", "--autonomy", "dry-run"))
    assert executed_steps(project_dir) == ["compile", "test"]  # nothing ran
    assert len(events(faber, dry, "step_skip")) == 5 and faber.run(dry).state.status == "completed"


def test_the_reference_default_workflow_pauses_at_its_first_agent_step(cli: Cli) -> None:
    result = cli("run", "default", "--work-id", "123", "--json")
    assert result.returncode == 3, result.stdout + result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "paused" and outcome["waiting_for"] == "frame:core-fetch-or-create-issue"
    assert outcome["exit_code"] == 3 and outcome["hint"].startswith("faber runs resume-context")
    assert "[frame] core-fetch-or-create-issue started" in result.stderr  # progress goes to stderr with --json


def test_one_autonomy_vocabulary_at_every_door(cli: Cli, faber: Faber) -> None:
    """runs new, faber run and runs rerun refuse an unknown level, name the same levels, and store an
    alias as the level it names; --help names the same levels."""
    refusal = "faber: error: unknown autonomy level 'bogus': use dry-run, assist, guarded, autonomous"
    assert assert_one_line_error(cli("runs", "new", "--work-id", "1", "--autonomy", "bogus")) == refusal
    assert assert_one_line_error(cli("run", "default", "--work-id", "1", "--autonomy", "bogus")) == refusal
    assert faber.list_runs() == [], "nothing stored"
    created = cli.json("runs", "new", "--work-id", "1", "--autonomy", "assisted", "--json")
    assert created["autonomy"] == "assist"  # type: ignore[index]
    run = created["run_id"]  # type: ignore[index]
    assert assert_one_line_error(cli("runs", "rerun", run, "--autonomy", "bogus")) == refusal
    same = cli.json("runs", "rerun", run, "--autonomy", "assisted", "--json")
    assert "autonomy" not in same["parameter_changes"]  # type: ignore[index]
    for command in (("runs", "new"), ("run",)):
        help_text = re.sub(r"[│\s]+", " ", cli.ok(*command, "--help"))
        assert "dry-run, assist, guarded" in help_text and "assisted" not in help_text

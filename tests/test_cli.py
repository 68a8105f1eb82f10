"""The `faber` command end to end, as a user runs it: real processes, real files."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import Cli, assert_one_line_error, clean_environ, snapshot
from faber_hookspecs.validation import validate_event

RUNS = Path(".fractary/plugins/faber/runs")


def test_a_run_from_start_to_a_failed_step(cli: Cli, project_dir: Path) -> None:
    run = cli.ok("runs", "new", "--work-id", "123", "--param", "ticket=W-1").strip()
    assert run.startswith("acme/widget-service/")
    assert cli.ok("event", "emit", run, "workflow_start", "--message", "go").strip() == "1"
    assert cli.ok("event", "emit", run, "phase_start", "--phase", "build").strip() == "2"
    assert cli.ok("event", "emit", run, "step_start", "--phase", "build", "--step", "compile").strip() == "3"
    stored = cli.json(
        "event", "emit", run, "step_error", "--phase", "build", "--step", "compile", "--status", "failed",
        "--data", '{"error": {"code": "E_TSC", "message": "3 type errors", "recoverable": true}, "metadata": {"k": 1}}',
        "--json",
    )
    assert stored["event_id"] == 4 and stored["error"]["code"] == "E_TSC" and stored["metadata"] == {"k": 1}
    assert stored["source"] == "faber-cli"

    files = sorted((project_dir / RUNS / run / "events").glob("*.json"))
    assert [f.name for f in files] == ["001-workflow_start.json", "002-phase_start.json", "003-step_start.json", "004-step_error.json"]
    for file in files:
        validate_event(json.loads(file.read_text()))

    lines = cli.ok("events", run, "--json").splitlines()
    assert [json.loads(line)["event_id"] for line in lines] == [1, 2, 3, 4]
    assert [json.loads(line)["type"] for line in cli.ok("events", run, "--json", "--since-id", "2").splitlines()] == ["step_start", "step_error"]
    assert len(cli.ok("events", run, "--json", "--phase", "build").splitlines()) == 3
    assert len(cli.ok("events", run, "--json", "--type", "step_error").splitlines()) == 1
    table = cli.ok("events", run)
    assert "step_error" in table and "build/compile" in table and "3 type errors" in table

    shown = cli.json("runs", "show", run.split("/")[-1][:8], "--json")
    assert shown["metadata"]["params"] == {"ticket": "W-1"} and shown["warnings"] == []
    assert shown["state"]["phases"]["build"]["steps"][0]["status"] == "failed"
    text = cli.ok("runs", "show", run)
    assert "compile" in text and "E_TSC" in text and "in_progress" in text

    listed = cli.json("runs", "list", "--json")
    assert [s["run_id"] for s in listed] == [run]
    assert cli.json("runs", "list", "--status", "completed", "--json") == []
    assert cli.json("runs", "list", "--work-id", "123", "--org", "acme", "--project", "widget-service", "--json")[0]["run_id"] == run


def test_reconstruct_rebuilds_a_lost_state(cli: Cli, project_dir: Path) -> None:
    run = cli.ok("runs", "new", "--work-id", "9").strip()
    cli.ok("event", "emit", run, "workflow_start")
    cli.ok("event", "emit", run, "workflow_complete")
    state_file = project_dir / RUNS / run / "state.json"
    expected = json.loads(state_file.read_text())
    state_file.write_text('{"run_id": "broken"')
    assert cli.json("runs", "reconstruct", run) == expected
    assert state_file.read_text() == '{"run_id": "broken"'  # without --write nothing changes
    cli.ok("runs", "reconstruct", run, "--write")
    assert json.loads(state_file.read_text()) == expected


def test_runs_list_and_show_table_output(cli: Cli) -> None:
    first = cli.ok("runs", "new", "--work-id", "1").strip()
    second = cli.ok("runs", "new", "--work-id", "2", "--workflow", "core").strip()
    table = cli.ok("runs", "list")
    assert table.index(second) < table.index(first), "newest first"
    assert len(cli.json("runs", "list", "--limit", "1", "--json")) == 1


def test_backends_lists_local_files_with_its_hooks(cli: Cli) -> None:
    (entry,) = [b for b in cli.json("backends", "--json") if b["name"] == "local_files"]
    assert entry["enabled"] is True and entry["distribution"] == "faber-backend-local-files"
    assert "faber_record_store" in entry["hooks"] and entry["version"]


def test_schema_command(cli: Cli) -> None:
    event_schema = cli.json("schema", "event")
    assert event_schema["$schema"].endswith("2020-12/schema")
    typed = cli.json("schema", "step_complete")
    assert typed["properties"]["type"] == {"const": "step_complete"}
    assert {"phase", "step", "duration_ms"} <= set(typed["required"])
    assert "workflow_resumed" in cli.ok("schema")
    assert cli.json("schema", "run-state")["title"] == "FABER run state"


def test_project_is_found_from_a_subfolder_or_named(cli: Cli, project_dir: Path, tmp_path: Path) -> None:
    sub = project_dir / "src" / "deep"
    sub.mkdir(parents=True)
    run = Cli(sub).ok("runs", "new", "--work-id", "1").strip()
    elsewhere = Cli(tmp_path)
    assert run in elsewhere.ok("--root", str(project_dir), "runs", "list")
    result = elsewhere("runs", "list", env=clean_environ(FABER_ROOT=str(project_dir)))
    assert result.returncode == 0 and run in result.stdout
    assert_one_line_error(elsewhere("runs", "list"))


def test_runs_path_override(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere-runs"
    result = cli("runs", "new", "--work-id", "1", env=clean_environ(FABER_RUNS_PATH=str(other)))
    assert result.returncode == 0
    run = result.stdout.strip()
    assert (other / run / "metadata.json").is_file()


def test_org_and_project_come_from_the_git_remote(tmp_path: Path) -> None:
    root = tmp_path / "Some Folder"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "remote", "add", "origin", "git@github.com:Fractary/Widget-Service.git"], check=True)
    assert "fractary/widget-service/<uuid>" in Cli(root).ok("init")
    run = Cli(root).ok("runs", "new", "--work-id", "1").strip()
    assert run.startswith("fractary/widget-service/")
    metadata = json.loads((root / RUNS / run / "metadata.json").read_text())
    assert metadata["environment"]["git_branch"] is None  # no commit yet: HEAD has no name
    other = Cli(root).ok("runs", "new", "--work-id", "1", "--org", "me", "--project", "thing").strip()
    assert other.startswith("me/thing/")


def test_folder_name_is_the_last_resort(tmp_path: Path) -> None:
    root = tmp_path / "My Service"
    root.mkdir()
    assert "local/my-service/<uuid>" in Cli(root).ok("init")


def test_metadata_outside_git_is_valid_json(cli: Cli, project_dir: Path) -> None:
    run = cli.ok("runs", "new", "--work-id", "5").strip()
    metadata = json.loads((project_dir / RUNS / run / "metadata.json").read_text())
    assert metadata["environment"]["git_branch"] is None and metadata["environment"]["git_commit"] is None
    assert metadata["relationships"] == {"parent_run_id": None, "rerun_of": None, "child_runs": []}
    assert metadata["work_id"] == "5" and metadata["root_run_id"] is None and metadata["params"] == {}


# Bad input: exit 2, one line on stderr, no traceback, nothing written -----------------------------


@pytest.fixture
def existing_run(cli: Cli) -> str:
    run = cli.ok("runs", "new", "--work-id", "1").strip()
    cli.ok("event", "emit", run, "workflow_start")
    return run


@pytest.mark.parametrize(
    "args",
    [
        ["event", "emit", "../../etc/passwd", "workflow_start"],
        ["event", "emit", "acme/widget-service/..", "workflow_start"],
        ["event", "emit", "acme/../x", "workflow_start"],
        ["event", "emit", "{run}", "not_a_type"],
        ["event", "emit", "{run}", "../../x"],
        ["event", "emit", "{run}", "workflow_start", "--data", "{not json"],
        ["event", "emit", "{run}", "workflow_start", "--data", "[1, 2]"],
        ["event", "emit", "{run}", "workflow_start", "--data", '{"surprise": 1}'],
        ["event", "emit", "{run}", "step_start", "--phase", "build"],
        ["event", "emit", "{run}", "phase_start", "--phase", "deploy"],
        ["event", "emit", "{run}", "step_start", "--phase", "build", "--step", "../x"],
        ["event", "emit", "{run}", "step_complete", "--phase", "build", "--step", "a", "--duration-ms", "-5"],
        ["event", "emit", "{run}", "workflow_start", "--duration-ms", "soon"],
        ["event", "emit", "deadbeef", "workflow_start"],
        ["event", "emit", "acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63", "workflow_start"],
        ["event", "emit", "{run}"],
        ["events", "{run}", "--phase", "deploy"],
        ["runs", "new"],
        ["runs", "new", "--work-id", "1", "--org", "Bad Org"],
        ["runs", "new", "--work-id", "1", "--param", "no-equals"],
        ["runs", "new", "--work-id", "1", "--param", "bad-name=1"],
        ["runs", "show", "abc"],
        ["runs", "list", "--org", "../x"],
        ["schema", "nonsense"],
        ["no-such-command"],
        ["event", "emit", "{run}", "workflow_start", "--no-such-option"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli: Cli, project_dir: Path, existing_run: str, args: list[str]) -> None:
    before = snapshot(project_dir)
    result = cli(*[arg.replace("{run}", existing_run) for arg in args])
    assert_one_line_error(result, 2)
    assert snapshot(project_dir) == before


def test_broken_gateway_json(cli: Cli, project_dir: Path, existing_run: str) -> None:
    gateway = project_dir / ".fractary/plugins/faber/gateway.json"
    cases = {
        "{broken": "not valid JSON",
        '{"backends": {"local_files": {"enabled": "yes please"}}}': "backends.local_files.enabled",
        '{"backends": {"local_files": {"enabled": true, "config": {"sync_writez": true}}}}': "backends.local_files.config.sync_writez",
        '{"backends": {"local_files": {"enabled": true}}, "surprise": {}}': "surprise",
        '{"backends": {"local_files": {"enabled": true, "config": {"base_path": "${NOPE_NOT_SET}"}}}}': "NOPE_NOT_SET",
        "[]": "JSON object",
    }
    for text, expected in cases.items():
        gateway.write_text(text)
        before = snapshot(project_dir)
        line = assert_one_line_error(cli("event", "emit", existing_run, "checkpoint"), 2)
        assert expected in line and "gateway.json" in line, line
        assert snapshot(project_dir) == before


def test_enabled_backend_that_is_not_installed(cli: Cli, project_dir: Path, existing_run: str) -> None:
    gateway = project_dir / ".fractary/plugins/faber/gateway.json"
    document = json.loads(gateway.read_text())
    document["backends"]["carrier_pigeon"] = {"enabled": True}
    gateway.write_text(json.dumps(document))
    emitted = cli("event", "emit", existing_run, "checkpoint")  # not the record store: stored, with a warning
    assert emitted.returncode == 0 and emitted.stdout.strip()
    (warning,) = emitted.stderr.splitlines()
    assert warning.startswith("faber: warning: backend 'carrier_pigeon' is not loaded") and "not installed" in warning
    cleanup = cli("cleanup")  # what needs every backend fails with its error (after the same warning)
    assert cleanup.returncode == 1 and "Traceback" not in cleanup.stderr
    assert cleanup.stderr.splitlines() == [warning, "faber: error: " + warning.split("(what needs it fails): ")[1]]


def test_debug_shows_the_traceback(cli: Cli) -> None:
    result = cli("--debug", "runs", "show", "deadbeef")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_help_and_version(cli: Cli) -> None:
    assert "event" in cli.ok("--help")
    assert cli.ok("--version").startswith("faber-host ")
    bare = cli()
    assert bare.returncode == 0 and "Usage" in bare.stdout


def test_output_to_a_closed_pipe_is_not_an_error(cli: Cli, project_dir: Path) -> None:
    run = cli.ok("runs", "new", "--work-id", "1").strip()
    for _ in range(3):
        cli.ok("event", "emit", run, "checkpoint")
    result = subprocess.run(
        f"'{os.environ.get('FABER_BIN', str(Path(__import__('sys').executable).with_name('faber')))}' events {run} --json | head -1",
        shell=True, cwd=project_dir, capture_output=True, text=True, env=clean_environ(),
    )
    assert result.returncode == 0 and "Traceback" not in result.stderr

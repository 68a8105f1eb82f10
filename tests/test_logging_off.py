"""The rollback switch: gateway.json disabling local_files turns event logging off. Every emit (CLI,
drop-in scripts, MCP) succeeds as a no-op with a one-line notice, `faber run` still executes the
workflow, and reads say that logging is off."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import FABER, REPO, Cli, clean_environ, executed_steps, shell_step, snapshot, write_workflow
from mcp import Client

from faber_host.api import Faber
from faber_host.mcp.server import build_server

GATEWAY = Path(".fractary/plugins/faber/gateway.json")


@pytest.fixture
def off(project_dir: Path, cli: Cli) -> str:
    """A run made while logging was on; then gateway.json turns logging off."""
    run_id = cli.ok("runs", "new", "--work-id", "1").strip()
    document = json.loads((project_dir / GATEWAY).read_text())
    document["backends"]["local_files"]["enabled"] = False
    (project_dir / GATEWAY).write_text(json.dumps(document))
    return run_id


def test_every_emit_is_a_noop_with_a_notice(project_dir: Path, cli: Cli, off: str) -> None:
    before = snapshot(project_dir)
    emitted = cli("event", "emit", off, "workflow_start")
    assert emitted.returncode == 0 and emitted.stdout == ""
    (line,) = emitted.stderr.splitlines()
    assert line.startswith("faber: event logging is off") and "not recorded" in line
    assert cli("event", "emit", off, "nonsense").returncode == 2, "bad input is still refused"
    script = subprocess.run([str(REPO / "contrib/faber-plugin/scripts/emit-event.sh"), "--run-id", off, "--type",
                             "phase_start", "--phase", "frame"], cwd=project_dir,
                            env=clean_environ(FABER=FABER), capture_output=True, text=True)
    assert script.returncode == 0 and json.loads(script.stdout)["status"] == "success"
    assert "event logging is off" in script.stderr
    assert snapshot(project_dir) == before


def test_reads_say_that_logging_is_off(project_dir: Path, cli: Cli, off: str) -> None:
    for arguments in (["runs", "show", off], ["runs", "list"], ["events", off]):
        result = cli(*arguments)
        assert result.returncode == 1 and "event logging is off" in result.stderr, arguments
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.anyio
async def test_mcp_emits_succeed_unrecorded(project_dir: Path, off: str) -> None:
    async with Client(build_server(Faber.open(project_dir, clean_environ()))) as client:
        result = await client.call_tool("emit_event", {"run_id": off, "type": "workflow_start"})
        assert not result.is_error and result.structured_content is not None
        assert result.structured_content["status"] == "success" and result.structured_content["event_id"] == 0
        assert "event logging is off" in result.structured_content["warnings"][0]
        read = await client.call_tool("get_run", {"run": off})
        assert read.is_error and "event logging is off" in read.content[0].text  # type: ignore[union-attr]


def test_faber_run_executes_and_says_nothing_is_recorded(project_dir: Path, cli: Cli, off: str) -> None:
    write_workflow(project_dir, {"id": "quick", "autonomy": {"level": "autonomous"}, "phases": {
        "build": {"steps": [shell_step("compile", "true"), shell_step("test", "true")]}}})
    runs = project_dir / ".fractary/plugins/faber/runs"
    before = sorted(str(path) for path in runs.rglob("*"))
    result = cli("run", "quick", "--work-id", "2")
    assert result.returncode == 0, result.stderr
    assert "nothing is recorded and it cannot be resumed" in result.stderr
    assert executed_steps(project_dir) == ["compile", "test"]
    assert sorted(str(path) for path in runs.rglob("*")) == before

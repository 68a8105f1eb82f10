"""Workflows are named, never located: the CLI and the MCP tools take a workflow id from the project's
workflows folder (or a bundled one), never a path, and their error does not tell which other files
exist. A run that names a path in its metadata (planted, or from before) never executes that file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Cli, assert_one_line_error, write_workflow
from mcp import Client
from mcp_support import call, fail

from faber_host.api import Faber
from faber_host.mcp.server import build_server

KNOWN = "the project's workflows are core, default, good"
GOOD = {"id": "good", "autonomy": {"level": "autonomous"},
        "phases": {"build": {"steps": [{"id": "hello", "run": "echo hello"}]}}}


def evil_workflow(outside: Path) -> dict[str, object]:
    return {"id": "evil", "autonomy": {"level": "autonomous"},
            "phases": {"build": {"steps": [{"id": "pwn", "run": f"touch {outside / 'PWNED'}"}]}}}


@pytest.fixture
def outside(tmp_path: Path, project_dir: Path) -> Path:
    """A folder outside the project with a runnable workflow, a file that is not JSON, and no missing.json."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "evil.json").write_text(json.dumps(evil_workflow(folder)))
    (folder / "notes.json").write_text("not JSON at all")
    write_workflow(project_dir, GOOD)
    return folder


def refs(outside: Path) -> list[str]:
    """Names that are paths (to a valid workflow, to a non-JSON file, to nothing) or not ids at all."""
    return [
        str(outside / "evil.json"), str(outside / "notes.json"), str(outside / "missing.json"),
        "../outside/evil.json", "../../outside/evil", "good.json", "./good", "good/../good", "../good",
        ".fractary/plugins/faber/workflows/good.json", "project:../../outside/evil", "fractary-faber:/etc/passwd",
        "acme:good", "Good", "good ", "good\n", "", "~/evil", "\\\\server\\share\\evil",
    ]


def test_the_cli_takes_names_only_and_its_error_tells_nothing_about_files(
    cli: Cli, project_dir: Path, outside: Path
) -> None:
    paths = [*refs(outside)[:3], "../outside/evil.json", ".fractary/plugins/faber/workflows/good.json", "./good"]
    for ref in paths:  # (every name of refs() goes through MCP below, in less time)
        line = assert_one_line_error(cli("run", ref, "--work-id", "1"), 2)
        assert line == f"faber: error: unknown workflow {ref!r}: {KNOWN}", line
    for ref in paths[:2]:
        line = assert_one_line_error(cli("runs", "new", "--work-id", "1", "--workflow", ref), 2)
        assert line == f"faber: error: unknown workflow {ref!r}: {KNOWN}", line
    assert not (outside / "PWNED").exists()
    assert cli.json("runs", "list", "--json") == []
    assert "completed" in cli.ok("run", "good", "--work-id", "1")  # a name works
    assert "completed" in cli.ok("run", "project:good", "--work-id", "1")


def test_a_symlink_leading_out_of_the_workflows_folder_is_not_a_workflow(
    cli: Cli, project_dir: Path, outside: Path
) -> None:
    workflows = project_dir / ".fractary/plugins/faber/workflows"
    (workflows / "evil.json").symlink_to(outside / "evil.json")
    (workflows / "alias.json").symlink_to(workflows / "good.json")  # a link that stays inside is fine
    line = assert_one_line_error(cli("run", "evil", "--work-id", "1"), 2)
    assert line == "faber: error: unknown workflow 'evil': the project's workflows are alias, core, default, good"
    write_workflow(project_dir, {"id": "child", "extends": "evil"})
    line = assert_one_line_error(cli("run", "child", "--work-id", "1"), 2)
    assert "$.extends: unknown workflow 'evil'" in line
    assert not (outside / "PWNED").exists()
    assert "completed" in cli.ok("run", "alias", "--work-id", "1")


@pytest.mark.anyio
async def test_mcp_start_run_takes_names_only(faber: Faber, outside: Path) -> None:
    async with Client(build_server(faber)) as client:
        for ref in refs(outside):
            message = await fail(client, "start_run", work_id="1", workflow_id=ref)
            assert message.endswith(f"unknown workflow {ref!r}: {KNOWN}"), message
        assert (await call(client, "list_runs"))["runs"] == []
        started = await call(client, "start_run", work_id="1", workflow_id="good")
        assert started["metadata"]["workflow_id"] == "good"


def test_a_run_that_names_a_path_never_executes_that_file(cli: Cli, faber: Faber, outside: Path) -> None:
    run_id = faber.new_run("1", workflow_id="good").run_id
    metadata_file = next(Path(faber.project.root).rglob("metadata.json"))
    metadata = json.loads(metadata_file.read_text())
    metadata["workflow_id"] = str(outside / "evil.json")  # as a path was recorded before names were enforced
    metadata["workflow_fingerprint"] = {"hash": "0" * 64, "file": str(outside / "evil.json"), "parts": {}}
    metadata_file.write_text(json.dumps(metadata))
    context = cli.json("runs", "resume-context", run_id, "--json")
    assert context["resumable"] is False and context["next_step"] is None  # type: ignore[index]
    assert f"unknown workflow {str(outside / 'evil.json')!r}" in context["reason"]  # type: ignore[index]
    assert_one_line_error(cli("run", "--resume", run_id), 2)
    assert not (outside / "PWNED").exists()

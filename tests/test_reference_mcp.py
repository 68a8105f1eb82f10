"""The FABER reference gateway's tool calls and resources, as its agents make them, through a real MCP
client (in memory and over stdio): its argument names, its optional arguments, its result keys."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import FABER, FIXTURES, clean_environ
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_support import read
from mcp_types import TextContent

from faber_host.api import Faber
from faber_host.mcp.server import build_server

pytestmark = pytest.mark.anyio
REFERENCE_TOOLS = {tool["name"]: tool for tool in json.loads(
    (FIXTURES / "reference-mcp-tools.json").read_text())["tools/list"]["result"]["tools"]}
FAILED = "acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63"
EMIT_KEYS = {"status", "operation", "event_id", "type", "run_id", "timestamp", "event_path"}


@pytest.fixture
async def client(project_dir: Path) -> AsyncIterator[Client]:
    runs = project_dir / ".fractary/plugins/faber/runs"
    shutil.rmtree(runs)
    shutil.copytree(FIXTURES / "reference-runs" / "runs", runs)
    async with Client(build_server(Faber.open(project_dir, clean_environ()))) as connected:
        yield connected


async def reference_call(client: Client, tool: str, arguments: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The JSON document of a call's text (what a reference agent parses) and whether isError is set."""
    result = await client.call_tool(tool, arguments)
    (block,) = result.content
    assert isinstance(block, TextContent)
    document = json.loads(block.text)
    if not result.is_error:
        assert document == result.structured_content
    return document, bool(result.is_error)


async def test_every_reference_tool_and_argument_is_served(client: Client) -> None:
    served = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert REFERENCE_TOOLS.keys() <= served.keys()
    for name, tool in REFERENCE_TOOLS.items():
        faber_names = {"run_id": "run", "include_events": None}
        for argument in tool["inputSchema"]["properties"]:
            translated = faber_names.get(argument, argument)
            assert translated is None or translated in served[name].input_schema["properties"], (name, argument)


async def test_emit_event_in_the_reference_form(client: Client, project_dir: Path) -> None:
    answer, failed = await reference_call(client, "emit_event", {
        "run_id": FAILED, "type": "workflow_resumed", "status": "started", "message": "again",
        "metadata": {"resume_from": "build"}, "artifacts": [{"type": "file", "name": "x", "path": "x.py"}],
        "source": "mcp-gateway", "user": "agent",
    })
    assert not failed and EMIT_KEYS <= answer.keys()
    assert answer["status"] == "success" and answer["operation"] == "emit-event" and answer["event_id"] == 14
    path = project_dir / answer["event_path"]
    assert answer["event_path"].endswith(f"{FAILED}/events/014-workflow_resumed.json") and path.is_file()
    stored = json.loads(path.read_text())
    assert stored["user"] == "agent" and stored["metadata"] == {"resume_from": "build"}
    # Every optional argument of the reference's schema, an error event with its error object.
    answer, failed = await reference_call(client, "emit_event", {
        "run_id": FAILED, "type": "step_error", "phase": "build", "step": "implement", "status": "failed",
        "duration_ms": 12, "error": {"code": "E", "message": "m", "recoverable": True},
    })
    assert not failed and answer["event_id"] == 15 and answer["type"] == "step_error"


async def test_a_failed_reference_call_answers_the_reference_error_document(client: Client) -> None:
    answer, failed = await reference_call(client, "emit_event", {"run_id": "acme/nope/" + "0" * 8 + "-0000-4000-8000-"
                                                                 + "0" * 12, "type": "checkpoint"})
    assert failed and answer["status"] == "error" and answer["operation"] == "emit-event"
    assert answer["event_id"] == 0 and answer["event_path"] == "" and "run" in answer["error"] and answer["type"] == "checkpoint"
    answer, failed = await reference_call(client, "get_run", {"run_id": "acme/x/zz", "include_events": True})
    assert failed and answer["status"] == "error" and answer["metadata"] is None and answer["state"] is None
    assert answer["error"] and "\n" not in answer["error"]


async def test_get_run_list_runs_and_consolidate_in_the_reference_form(client: Client) -> None:
    answer, _ = await reference_call(client, "get_run", {"run_id": FAILED, "include_events": True})
    assert {"status", "operation", "run_id", "metadata", "state", "event_count"} <= answer.keys()
    assert answer["status"] == "success" and answer["operation"] == "get-run" and answer["event_count"] == 13
    assert answer["state"]["status"] == "failed"
    answer, _ = await reference_call(client, "get_run", {"run_id": FAILED})
    assert "event_count" not in answer and answer["run_id"] == FAILED
    answer, _ = await reference_call(client, "list_runs", {"work_id": "123", "status": "failed", "org": "acme",
                                                           "project": "widget-service", "limit": 1})
    assert answer["status"] == "success" and answer["operation"] == "list-runs" and answer["total"] == 1
    (run,) = answer["runs"]
    assert {"run_id", "work_id", "status", "created_at", "updated_at", "completed_at", "current_phase"} <= run.keys()
    answer, _ = await reference_call(client, "list_runs", {"limit": 1})
    assert answer["total"] == 2 and len(answer["runs"]) == 1
    answer, _ = await reference_call(client, "consolidate_events", {"run_id": FAILED})
    assert answer["status"] == "success" and answer["operation"] == "consolidate-events"
    assert answer["events_consolidated"] == 13 and answer["size_bytes"] > 0
    assert Path(answer["output_path"]).is_file() and len(Path(answer["output_path"]).read_text().splitlines()) == 13


async def test_every_reference_event_type_is_accepted(client: Client) -> None:
    types = REFERENCE_TOOLS["emit_event"]["inputSchema"]["properties"]["type"]["enum"]
    assert len(types) == 34
    start, _ = await reference_call(client, "list_runs", {})
    run_id = next(run["run_id"] for run in start["runs"] if run["run_id"] != FAILED)
    for kind in types:
        arguments: dict[str, Any] = {"run_id": run_id, "type": kind, "phase": "build", "step": "s",
                                     "error": {"code": "E", "message": "m"}, "artifacts": [{"type": "file",
                                                                                           "name": "n"}]}
        answer, failed = await reference_call(client, "emit_event", arguments)
        # Once the run has ended (workflow_complete...), faber refuses what the lifecycle forbids, in one line.
        assert failed != (answer["status"] == "success"), (kind, answer)
        assert answer["status"] == "success" or " is " in answer["error"], (kind, answer)


async def test_the_reference_resources_and_the_seed_forms(client: Client) -> None:
    listed = await read(client, "faber://runs")
    assert listed["status"] == "success" and listed["total"] == 2 and listed == await read(client, "faber://runs/list")
    run = await read(client, f"faber://runs/{FAILED}")
    assert run["status"] == "success" and run["operation"] == "get-run" and run["event_count"] == 13
    events = await read(client, f"faber://runs/{FAILED}/events")
    assert [event["event_id"] for event in events["events"]] == list(range(1, 14))
    state = await read(client, f"faber://run/{FAILED}/state")
    assert state["status"] == "failed" and state == await read(client, "faber://run/ee04a6d4/state")
    assert (await read(client, "faber://run/ee04a6d4/events?since_id=12"))["events"][0]["event_id"] == 13
    assert (await read(client, f"faber://run/{FAILED}/events"))["events"][-1]["type"] == "workflow_error"


async def test_the_reference_form_over_stdio(project_dir: Path, tmp_path: Path) -> None:
    server = StdioServerParameters(command=FABER, args=["mcp"], cwd=project_dir, env=clean_environ())
    with open(tmp_path / "server.log", "w+") as log, anyio.fail_after(60):
        async with Client(stdio_client(server, errlog=log)) as client:
            start = (await client.call_tool("start_run", {"work_id": "9"})).structured_content
            assert start is not None
            answer, failed = await reference_call(client, "emit_event", {"run_id": start["run_id"],
                                                                         "type": "workflow_start"})
            assert not failed and EMIT_KEYS <= answer.keys() and answer["event_id"] == 1
            assert (project_dir / answer["event_path"]).is_file()

"""Every MCP tool through the SDK's in-memory client, in both protocol eras (the 2025 handshake and
the 2026 per-request envelope): answers, structured content, and one-line error results."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, clean_environ
from faber_hookspecs.errors import FaberError
from faber_hookspecs.events import EventDraft
from faber_hookspecs.validation import validate_event
from jsonschema.validators import validator_for
from mcp import Client
from mcp_support import TOOLS, call, fail
from mcp_types import TextContent

from faber_host.api import Faber
from faber_host.mcp.errors import tool_failure
from faber_host.mcp.reference import OPERATIONS
from faber_host.mcp.server import build_server

pytestmark = pytest.mark.anyio
RUNS = Path(".fractary/plugins/faber/runs")


@pytest.fixture(params=["auto", "legacy"])
async def client(request: pytest.FixtureRequest, faber: Faber) -> AsyncIterator[Client]:
    async with Client(build_server(faber), mode=request.param) as connected:
        yield connected


@pytest.fixture
async def run(client: Client) -> str:
    started = await call(client, "start_run", work_id="123")
    return str(started["run_id"])


def api_error(action: Any) -> str:
    """The message the API (and so the CLI) gives for ``action``."""
    with pytest.raises(FaberError) as raised:
        action()
    return str(raised.value)


# The catalogue of tools -------------------------------------------------------------------------------


async def test_every_tool_has_a_description_a_closed_input_schema_and_an_output_schema(client: Client) -> None:
    listed = (await client.list_tools()).tools
    assert {tool.name for tool in listed} == TOOLS
    for tool in listed:
        assert tool.description and len(tool.description) > 40, tool.name
        assert tool.input_schema["type"] == "object" and tool.input_schema["additionalProperties"] is False
        if "run" in tool.input_schema["properties"]:
            assert tool.input_schema["properties"]["run"]["description"], tool.name
        validator_for(tool.input_schema).check_schema(tool.input_schema)
        assert tool.output_schema and tool.output_schema["type"] == "object", tool.name
        validator_for(tool.output_schema).check_schema(tool.output_schema)
        assert "$defs" not in json.dumps(tool.input_schema) + json.dumps(tool.output_schema), tool.name
    readers = {tool.name for tool in listed if tool.annotations and tool.annotations.read_only_hint}
    assert readers == {"get_run", "list_runs", "get_events", "resume_context", "verify_run"}


async def test_emit_event_takes_exactly_the_event_draft_fields(client: Client) -> None:
    """The input schema is the draft model's own, so the two cannot drift apart."""
    (emit,) = [tool for tool in (await client.list_tools()).tools if tool.name == "emit_event"]
    draft = EventDraft.model_json_schema()
    assert set(emit.input_schema["properties"]) == (set(draft["properties"]) - {"source"}) | {"run"}
    assert emit.input_schema["required"] == ["run", "type"]
    assert emit.input_schema["properties"]["phase"] == draft["properties"]["phase"]["anyOf"][0], "optional: null left out"
    assert "step_complete" in emit.input_schema["properties"]["type"]["anyOf"][0]["enum"]
    assert "duration_ms" in emit.input_schema["properties"]["type"]["description"]
    error = emit.input_schema["properties"]["error"]
    assert error["required"] == ["code", "message"] and set(error["properties"]) == {"code", "message", "stack", "recoverable"}


# emit_event -----------------------------------------------------------------------------------------


async def test_emit_event_stores_durably_and_answers_with_the_id(client: Client, run: str, project_dir: Path) -> None:
    first = await call(client, "emit_event", run=run, type="workflow_start", message="go")
    assert first["event_id"] == 1 and first["run_id"] == run and first["type"] == "workflow_start"
    assert first["run_status"] == "in_progress" and first["warnings"] == []
    await call(client, "emit_event", run=run, type="phase_start", phase="build")
    third = await call(client, "emit_event", run=run.split("/")[-1][:8], type="step_start", phase="build", step="compile")
    assert third["event_id"] == 3 and third["current_phase"] == "build" and third["current_step"] == "compile"

    files = sorted((project_dir / RUNS / run / "events").glob("*.json"))
    assert [f.name for f in files] == ["001-workflow_start.json", "002-phase_start.json", "003-step_start.json"]
    stored = json.loads(files[0].read_text())
    validate_event(stored)
    assert stored["source"] == "faber-mcp" and stored["message"] == "go" and stored["timestamp"] == first["timestamp"]


@pytest.mark.parametrize("sync_writes", [True, False])
async def test_emit_event_answers_once_durable_as_sync_writes_says(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, sync_writes: bool
) -> None:
    """With sync_writes on, the event's bytes and its name in events/ are fsynced before the answer
    (within the call, not later); with it off, nothing is."""
    gateway = project_dir / ".fractary/plugins/faber/gateway.json"
    document = json.loads(gateway.read_text())
    document["backends"]["local_files"]["config"]["sync_writes"] = sync_writes
    gateway.write_text(json.dumps(document))
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    async with Client(build_server(Faber.open(project_dir, clean_environ()))) as client:
        run = (await call(client, "start_run", work_id="1"))["run_id"]
        monkeypatch.setattr(os, "fsync", fsync)
        assert (await call(client, "emit_event", run=run, type="workflow_start"))["event_id"] == 1
        answered = list(synced)
        monkeypatch.setattr(os, "fsync", real_fsync)
    events_dir = os.path.realpath(project_dir / RUNS / run / "events")
    if sync_writes:
        # The event's bytes: a nameless file in events/ ("#<inode> (deleted)" to readlink), linked to
        # 001-... after (or .pending where the system has no nameless files).
        in_events = [index for index, path in enumerate(answered) if path.startswith(f"{events_dir}/")]
        assert in_events, f"the event's bytes were not fsynced: {answered}"
        assert answered.index(events_dir) > in_events[0], "then its name"
    else:
        assert answered == []


async def test_emit_event_records_every_field(client: Client, run: str, faber: Faber) -> None:
    answer = await call(
        client, "emit_event", run=run, type="step_error", phase="build", step="compile", status="failed",
        message="tsc failed", metadata={"files": 3}, artifacts=[{"type": "log", "path": "build.log"}],
        error={"code": "E_TSC", "message": "3 type errors", "recoverable": True}, correlation_id="c-1",
        retry_attempt=2, duration_ms=1200, user="agent-7",
    )
    (event,) = faber.events(run)
    assert event.event_id == answer["event_id"] == 1
    assert event.to_json() == {
        "event_id": 1, "type": "step_error", "timestamp": answer["timestamp"], "run_id": run, "phase": "build",
        "step": "compile", "status": "failed", "user": "agent-7", "source": "faber-mcp", "message": "tsc failed",
        "metadata": {"files": 3}, "artifacts": [{"type": "log", "path": "build.log"}], "duration_ms": 1200,
        "error": {"code": "E_TSC", "message": "3 type errors", "recoverable": True}, "correlation_id": "c-1",
        "retry_attempt": 2,
    }
    state = (await call(client, "get_run", run=run))["state"]
    assert state["phases"]["build"]["steps"][0]["status"] == "failed"
    assert (answer["run_status"], answer["current_step"]) == (state["status"], state["current_step"])


async def test_emit_event_errors_are_the_clis_messages_and_store_nothing(
    client: Client, run: str, faber: Faber, project_dir: Path
) -> None:
    cases = [
        ({"type": "nope"}, {"type": "nope"}),
        ({"type": "step_complete", "phase": "build", "step": "x"}, {"type": "step_complete", "phase": "build", "step": "x"}),
        ({"type": "step_start", "phase": "bild", "step": "x"}, {"type": "step_start", "phase": "bild", "step": "x"}),
        ({"type": "step_start", "phase": "build", "step": "no spaces"}, {"type": "step_start", "phase": "build", "step": "no spaces"}),
        ({"type": "checkpoint", "duration_ms": -1}, {"type": "checkpoint", "duration_ms": -1}),
        ({"type": "step_error", "phase": "build", "step": "x", "error": {"code": "E"}},
         {"type": "step_error", "phase": "build", "step": "x", "error": {"code": "E"}}),
    ]
    for arguments, draft in cases:
        message = await fail(client, "emit_event", run=run, **arguments)
        assert message == api_error(lambda draft=draft: faber.emit_draft(run, draft)), arguments
        assert message.startswith("invalid event: ")
    assert await fail(client, "emit_event", run="acme/widget-service/not-a-run", type="checkpoint") == api_error(
        lambda: faber.resolve("acme/widget-service/not-a-run"))
    assert "no run matches 'deadbeef'" in await fail(client, "emit_event", run="deadbeef", type="checkpoint")
    assert await fail(client, "emit_event", run=run) == "invalid arguments for emit_event: type: Field required"
    assert await fail(client, "emit_event", run=run, type="checkpoint", duration_ms="soon") == (
        "invalid arguments for emit_event: duration_ms: Input should be a valid integer, unable to parse string as an integer")
    typo = await fail(client, "emit_event", run=run, type="step_start", phse="build")
    assert typo.startswith("unknown argument for emit_event: 'phse'; it takes run, type, phase, step")
    assert "source" in await fail(client, "emit_event", run=run, type="checkpoint", source="me")

    assert list((project_dir / RUNS / run / "events").glob("*.json")) == [], "no failed call stored anything"
    assert (await call(client, "emit_event", run=run, type="checkpoint"))["event_id"] == 1, "and used no id"


async def test_a_tool_call_answers_as_the_sdks_own_tool_path_would(faber: Faber) -> None:
    """A tools/call is answered by the server's interceptor (server.OneLineToolCalls), not by
    MCPServer.call_tool (the SDK's public path); the two read the arguments alike (the SDK's
    JSON-in-a-string leniency included), succeed and fail alike, and write the same JSON text; the
    interceptor's error is the one line tool_failure makes of what the SDK raises."""
    server = build_server(faber)
    run = faber.new_run("1").run_id
    faber.emit_draft(run, {"type": "workflow_start"})
    calls: list[tuple[str, dict[str, Any]]] = [
        ("emit_event", {"run": run, "type": "step_start", "phase": "build", "step": "compile", "message": "ünïcode \u2603"}),
        ("emit_event", {"run": run, "type": "step_error", "phase": "build", "step": "compile", "metadata": '{"files": 3}',
                        "error": {"code": "E", "message": "broke"}, "retry_attempt": 1, "user": "agent-7"}),
        ("emit_event", {"run": run, "type": "nope"}),
        ("emit_event", {"run": run, "type": "checkpoint", "duration_ms": "soon"}),
        ("emit_event", {"run": run}),
        ("emit_event", {"run": "deadbeef", "type": "checkpoint"}),
        ("list_runs", {"limit": "2"}),
        ("list_runs", {"status": "done"}),
        ("rerun_run", {"run": run, "phases": '["build"]'}),
        ("get_run", {"run": run}),
    ]
    async with Client(server) as client:
        for tool, arguments in calls:
            direct = await client.call_tool(tool, arguments)
            try:
                sdk = await server.call_tool(tool, arguments)
            except Exception as raised:
                sdk = tool_failure(tool, raised)
            assert isinstance(sdk, type(direct)) and direct.is_error == sdk.is_error, arguments
            if direct.is_error:
                assert direct.content == sdk.content, arguments
                continue
            (direct_text,), (sdk_text,) = direct.content, sdk.content
            assert isinstance(direct_text, TextContent) and isinstance(sdk_text, TextContent)
            if tool != "rerun_run":  # each re-run is a new run; each emit gets the next id, at its time
                # The reference's tools also carry its keys (mcp/reference.py), faber's unchanged beside them.
                direct_json, sdk_json = json.loads(direct_text.text), json.loads(sdk_text.text)
                added = {key: direct_json.pop(key) for key in list(direct_json) if key not in sdk_json}
                assert set(added) <= {"status", "operation", "event_path", "run_id"}, added
                assert bool(added) == (tool in OPERATIONS)
                for varying in ("event_id", "timestamp"):
                    direct_json.pop(varying, None), sdk_json.pop(varying, None)
                assert direct_json == sdk_json
            assert json.loads(direct_text.text) == direct.structured_content


async def test_the_same_message_as_the_cli_prints(client: Client, run: str, cli: Cli) -> None:
    for cli_args, tool_args in (
        (["event", "emit", run, "nope"], {"run": run, "type": "nope"}),
        (["event", "emit", "zz", "checkpoint"], {"run": "zz", "type": "checkpoint"}),
        (["event", "emit", run, "step_start", "--phase", "build"], {"run": run, "type": "step_start", "phase": "build"}),
    ):
        printed = cli(*cli_args)
        assert printed.returncode == 2
        assert printed.stderr.strip() == "faber: error: " + await fail(client, "emit_event", **tool_args)


# Runs -----------------------------------------------------------------------------------------------


async def test_start_run_and_get_run(client: Client, faber: Faber) -> None:
    started = await call(client, "start_run", work_id="W-9", params={"ticket": "W-9", "retries": 2},
                         target="billing", autonomy="guarded")
    run = started["run_id"]
    assert run.startswith("acme/widget-service/")
    assert started["metadata"]["work_id"] == "W-9" and started["metadata"]["params"] == {"ticket": "W-9", "retries": 2}
    shown = await call(client, "get_run", run=run.split("/")[-1])
    assert shown["metadata"] == faber.run(run).metadata.model_dump(mode="json")
    assert shown["state"]["status"] == "pending" and shown["state"]["work_id"] == "W-9"
    assert shown["location"].endswith(run) and shown["warnings"] == []
    other = await call(client, "start_run", work_id="W-10", org="other-org", project="svc")
    assert other["run_id"].startswith("other-org/svc/")


async def test_start_run_and_get_run_errors(client: Client, faber: Faber) -> None:
    assert await fail(client, "start_run", work_id=" ") == api_error(lambda: faber.new_run(" "))
    assert await fail(client, "start_run", work_id="1", params={"bad name": 1}) == api_error(
        lambda: faber.new_run("1", params={"bad name": 1}))
    assert await fail(client, "start_run", work_id="1", org="Not A Slug") == api_error(
        lambda: faber.new_run("1", org="Not A Slug"))
    assert await fail(client, "start_run") == "invalid arguments for start_run: work_id: Field required"
    missing = "acme/widget-service/00000000-0000-4000-8000-000000000000"
    assert await fail(client, "get_run", run=missing) == api_error(lambda: faber.run(missing))
    assert await fail(client, "get_run", run="../../etc") == api_error(lambda: faber.run("../../etc"))
    assert faber.list_runs() == [], "no failed start created a run"


async def test_list_runs_pages_newest_first_with_filters(client: Client, faber: Faber) -> None:
    created = [(await call(client, "start_run", work_id=f"W-{i % 2}"))["run_id"] for i in range(5)]
    await call(client, "emit_event", run=created[0], type="workflow_start")

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        arguments: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await call(client, "list_runs", **arguments)
        pages += 1
        seen += [summary["run_id"] for summary in page["runs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        await call(client, "start_run", work_id="late")  # a run created between pages shifts nothing
    assert pages == 3 and seen == list(reversed(created))

    everything = await call(client, "list_runs")
    assert len(everything["runs"]) == 7 and everything["next_cursor"] is None
    assert {s["run_id"] for s in (await call(client, "list_runs", work_id="W-0"))["runs"]} == set(created[0::2])
    (active,) = (await call(client, "list_runs", status="in_progress"))["runs"]
    assert active["run_id"] == created[0] and active["last_event_id"] == 1 and active["work_id"] == "W-0"
    assert len((await call(client, "list_runs", org="acme", project="widget-service"))["runs"]) == 7
    assert (await call(client, "list_runs", org="nobody"))["runs"] == []


async def test_list_runs_errors(client: Client, faber: Faber) -> None:
    assert (await fail(client, "list_runs", cursor="not-a-cursor")).startswith("invalid cursor 'not-a-cursor'")
    assert await fail(client, "list_runs", org="Bad Org") == api_error(lambda: faber.list_runs(org="Bad Org"))
    assert await fail(client, "list_runs", limit=0) == (
        "invalid arguments for list_runs: limit: Input should be greater than or equal to 1")
    assert (await fail(client, "list_runs", status="done")).startswith("invalid arguments for list_runs: status: ")
    assert (await fail(client, "list_runs", since="soon")).startswith("invalid --since 'soon'")


async def test_list_runs_by_workflow_and_start_window(client: Client, faber: Faber) -> None:
    core = (await call(client, "start_run", work_id="1", workflow_id="core"))["run_id"]
    other = (await call(client, "start_run", work_id="2"))["run_id"]
    assert [s["run_id"] for s in (await call(client, "list_runs", workflow="core"))["runs"]] == [core]
    assert [s["run_id"] for s in (await call(client, "list_runs", since="1d"))["runs"]] == [other, core]
    assert (await call(client, "list_runs", until="2000-01-01"))["runs"] == []


async def test_one_autonomy_vocabulary(client: Client, faber: Faber) -> None:
    assert await fail(client, "start_run", work_id="1", autonomy="bogus") == (
        "unknown autonomy level 'bogus': use dry-run, assist, guarded, autonomous")
    started = await call(client, "start_run", work_id="1", autonomy="assisted")
    assert started["metadata"]["autonomy"] == "assist"  # the alias, stored as the level it names
    assert await fail(client, "rerun_run", run=started["run_id"], autonomy="bogus") == (
        "unknown autonomy level 'bogus': use dry-run, assist, guarded, autonomous")
    assert faber.new_run("2", autonomy="assisted").autonomy == "assist"


# Events ---------------------------------------------------------------------------------------------


async def test_get_events_pages_and_filters(client: Client, run: str) -> None:
    for step in ("a", "b", "c"):
        await call(client, "emit_event", run=run, type="step_start", phase="build", step=step)
        await call(client, "emit_event", run=run, type="step_complete", phase="build", step=step, duration_ms=5)
    await call(client, "emit_event", run=run, type="phase_start", phase="evaluate")

    everything = await call(client, "get_events", run=run)
    assert [e["event_id"] for e in everything["events"]] == list(range(1, 8)) and everything["next_since_id"] is None
    assert everything["events"][1] == {
        "event_id": 2, "type": "step_complete", "timestamp": everything["events"][1]["timestamp"], "run_id": run,
        "phase": "build", "step": "a", "user": everything["events"][1]["user"], "source": "faber-mcp",
        "duration_ms": 5,
    }, "events as their files hold them: absent fields left out"

    ids: list[int] = []
    since = 0
    while since is not None:
        page = await call(client, "get_events", run=run, since_id=since, limit=3)
        ids += [e["event_id"] for e in page["events"]]
        since = page["next_since_id"]
    assert ids == list(range(1, 8))
    completes = await call(client, "get_events", run=run, type="step_complete", limit=2)
    assert [e["step"] for e in completes["events"]] == ["a", "b"] and completes["next_since_id"] == 4
    rest = await call(client, "get_events", run=run, type="step_complete", since_id=4)
    assert [e["step"] for e in rest["events"]] == ["c"] and rest["next_since_id"] is None
    assert [e["event_id"] for e in (await call(client, "get_events", run=run, phase="evaluate"))["events"]] == [7]
    assert (await call(client, "get_events", run=run, since_id=7))["events"] == []


async def test_get_events_errors(client: Client, run: str, faber: Faber) -> None:
    assert await fail(client, "get_events", run=run, phase="bild") == api_error(lambda: list(faber.events(run, phase="bild")))
    assert await fail(client, "get_events", run=run, since_id=-1) == api_error(lambda: list(faber.events(run, since_id=-1)))
    assert (await fail(client, "get_events", run=run, limit=10001)).startswith("invalid arguments for get_events: limit:")
    assert (await fail(client, "get_events", run="nothing-like-a-run")).startswith("cannot read 'nothing-like-a-run' as a run")


# State ----------------------------------------------------------------------------------------------


async def test_reconstruct_state_rebuilds_and_repairs(client: Client, run: str, project_dir: Path) -> None:
    await call(client, "emit_event", run=run, type="workflow_start")
    await call(client, "emit_event", run=run, type="workflow_complete")
    state_file = project_dir / RUNS / run / "state.json"
    stored = json.loads(state_file.read_text())

    rebuilt = await call(client, "reconstruct_state", run=run)
    assert rebuilt["written"] is False and rebuilt["state"]["status"] == "completed"
    assert rebuilt["state"] == (await call(client, "get_run", run=run))["state"]

    state_file.write_text(json.dumps({**stored, "status": "failed", "last_event_id": 1}))
    repaired = await call(client, "reconstruct_state", run=run, write=True)
    assert repaired["written"] is True
    assert json.loads(state_file.read_text())["status"] == "completed"
    assert (await fail(client, "reconstruct_state", run="0000000")).startswith("cannot read '0000000' as a run")


# Archive, unknown tools, crashes -----------------------------------------------------------------------


async def test_archive_tools_say_no_archive_backend_is_enabled(
    client: Client, run: str, faber: Faber, project_dir: Path
) -> None:
    await call(client, "emit_event", run=run, type="workflow_start")
    await call(client, "emit_event", run=run, type="workflow_complete")
    message = await fail(client, "archive_run", run=run, cleanup=True)
    assert message.startswith("no archive backend is enabled") and "faber-backend-s3" in message
    assert message == api_error(lambda: faber.archive_run(run, cleanup=True))
    assert len(list((project_dir / RUNS / run / "events").glob("*.json"))) == 2, "nothing was touched"
    here = await call(client, "restore_run", run=run)
    assert here["already_local"] is True and here["event_count"] == 2, "a run whose events are here needs nothing"
    elsewhere = "acme/widget-service/00000000-0000-4000-8000-000000000000"
    for arguments in ({"run": elsewhere}, {"run": elsewhere, "trust_archive": True}, {"run": "deadbeef"}):
        message = await fail(client, "restore_run", **arguments)
        assert message.startswith("no archive backend is enabled"), arguments
        assert message == api_error(lambda arguments=arguments: faber.restore_run(**arguments))
    assert not (project_dir / RUNS / elsewhere).exists()


async def test_consolidate_events_writes_the_bundle(client: Client, run: str, project_dir: Path) -> None:
    for index in range(3):
        await call(client, "emit_event", run=run, type="checkpoint", message=f"c{index}")
    bundle = await call(client, "consolidate_events", run=run.split("/")[-1][:8])
    assert bundle["run_id"] == run and bundle["manifest"]["event_count"] == 3
    lines = (Path(bundle["directory"]) / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["c0", "c1", "c2"]
    assert (await call(client, "consolidate_events", run=run))["manifest_sha256"] == bundle["manifest_sha256"]
    assert (await fail(client, "consolidate_events", run="0000000000")).startswith("no run matches")


async def test_unknown_tools_and_crashes_are_error_results_and_the_server_goes_on(
    client: Client, run: str, faber: Faber, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await fail(client, "delete_everything")).startswith("unknown tool 'delete_everything': the tools are ")

    def broken(ref: str) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(faber, "run", broken)
    message = await fail(client, "get_run", run=run)
    assert message == "internal error: RuntimeError: disk on fire (the traceback is in the server's log)"
    assert "disk on fire" in caplog.text and "Traceback" in caplog.text, "the server's log has the details"
    monkeypatch.undo()
    assert (await call(client, "get_run", run=run))["metadata"]["run_id"] == run

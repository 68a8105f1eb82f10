"""`faber mcp` as an agent runs it: a real subprocess on stdio, driven by the SDK's stdio client or by
hand-written lines, and sharing a run with CLI processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import pairwise
from pathlib import Path
from typing import IO, Any

import anyio
import pytest
from conftest import FABER, REPO, Cli, assert_one_line_error, clean_environ
from faber_hookspecs.validation import validate_event
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_support import TOOLS, call, read

pytestmark = pytest.mark.anyio
RUNS = Path(".fractary/plugins/faber/runs")
CLI_WRITERS, CLI_EMITS = 3, 10


@asynccontextmanager
async def faber_mcp(project_dir: Path, log: IO[str], mode: str = "auto") -> AsyncIterator[Client]:
    """The SDK's stdio client, launching the real `faber mcp` in the project folder."""
    server = StdioServerParameters(command=FABER, args=["mcp"], cwd=project_dir, env=clean_environ())
    async with Client(stdio_client(server, errlog=log), mode=mode) as client:
        yield client


async def test_an_agent_launches_faber_mcp_emits_200_events_and_reads_them_back(
    project_dir: Path, tmp_path: Path
) -> None:
    with open(tmp_path / "server.log", "w+") as log:
        async with faber_mcp(project_dir, log) as client:
            assert client.server_info and client.server_info.name == "faber-event-gateway"
            assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
            templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
            assert "faber://run/{org}/{project}/{uuid}/state" in templates
            assert "faber://run/{org}/{project}/{uuid}/events{?since_id,limit,type,phase}" in templates

            run = (await call(client, "start_run", work_id="200"))["run_id"]
            acknowledged = []
            for index in range(200):
                answer = await call(client, "emit_event", run=run, type="checkpoint", message=f"event {index}",
                                    metadata={"index": index})
                acknowledged.append(answer["event_id"])
            assert acknowledged == list(range(1, 201))

            events: list[dict[str, Any]] = []
            since = 0
            while since is not None:
                page = await read(client, f"faber://run/{run}/events?since_id={since}&limit=64")
                events += page["events"]
                since = page["next_since_id"]
            assert [e["event_id"] for e in events] == list(range(1, 201))
            assert [e["metadata"]["index"] for e in events] == list(range(200))
            assert all(e["source"] == "faber-mcp" and e["message"] == f"event {e['event_id'] - 1}" for e in events)
            state = await read(client, f"faber://run/{run}/state")
            assert state["last_event_id"] == 200 and state["status"] == "pending"
            assert (await read(client, f"faber://run/{run}/metadata"))["work_id"] == "200"
            reference = await read(client, f"faber://runs/{run}/events?since_id=190")
            assert [e["event_id"] for e in reference["events"]] == list(range(191, 201))
        log.seek(0)
        logged = log.read()
    assert "Traceback" not in logged and "serving the runs of" in logged

    files = sorted((project_dir / RUNS / run / "events").glob("*.json"))
    assert len(files) == 200
    for file, event in zip(files, events, strict=True):
        assert json.loads(file.read_text()) == event, "the resource serves the files as stored"


def test_malformed_lines_and_bad_requests_never_stop_the_server(cli: Cli, project_dir: Path) -> None:
    """A line that is not a JSON-RPC message is dropped by the SDK's stdio transport (logged, not
    answered); a bad request gets its JSON-RPC error or a one-line error result; the next request is
    served as if nothing had happened."""
    run = cli.ok("runs", "new", "--work-id", "1").strip()
    server = subprocess.Popen([FABER, "mcp"], cwd=project_dir, env=clean_environ(), text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert server.stdin and server.stdout

    def send(line: str) -> None:
        assert server.stdin
        server.stdin.write(line + "\n")
        server.stdin.flush()

    def exchange(line: str) -> dict[str, Any]:
        assert server.stdout
        send(line)
        return json.loads(server.stdout.readline())

    def request(id: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return exchange(json.dumps({"jsonrpc": "2.0", "id": id, "method": method, **({"params": params} if params else {})}))

    try:
        send("not json at all")
        initialized = request(1, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                                "clientInfo": {"name": "by-hand", "version": "1"}})
        assert initialized["id"] == 1, "the line before was dropped, not answered"
        assert initialized["result"]["serverInfo"]["name"] == "faber-event-gateway"
        send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))

        for garbage in ('{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {', "[1, 2, 3]",
                        '{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": "oops"}'):
            send(garbage)
        no_arguments = exchange('{"jsonrpc": "2.0", "id": 33, "method": "tools/call", "params": {}}')
        assert (no_arguments["id"], no_arguments["error"]["code"]) == (33, -32602), "the garbage went unanswered"
        assert request(4, "no/such/method")["error"]["code"] == -32601
        bad_arguments = request(5, "tools/call", {"name": "emit_event", "arguments": {"run": run, "type": 7}})
        assert bad_arguments["result"]["isError"] is True
        assert bad_arguments["result"]["content"][0]["text"] == (
            "invalid arguments for emit_event: type: Input should be a valid string")
        unknown_run = request(6, "tools/call", {"name": "get_run", "arguments": {"run": "0123456789"}})
        assert unknown_run["result"]["content"][0]["text"] == "no run matches '0123456789'; `faber runs list` shows the runs"
        bad_resource = request(7, "resources/read", {"uri": "faber://run/acme/widget-service/nope/state"})
        assert bad_resource["error"]["code"] == -32602

        emitted = request(8, "tools/call", {"name": "emit_event", "arguments": {"run": run, "type": "workflow_start"}})
        assert emitted["result"]["structuredContent"]["event_id"] == 1, "served as if nothing had happened"
        assert request(9, "ping") == {"jsonrpc": "2.0", "id": 9, "result": {}}
    finally:
        server.stdin.close()
        code = server.wait(timeout=30)
        errors = server.stderr.read() if server.stderr else ""
    assert code == 0, errors
    assert "Traceback" not in errors


def test_requests_still_running_when_stdin_ends_are_stored_whole_or_not_at_all(cli: Cli, project_dir: Path) -> None:
    """`faber mcp < requests.jsonl`: the client closes its end right after writing. The SDK's
    transport stops at the end of stdin and cancels what is still in flight, so not every request is
    answered; but every answered emit is on disk as sent, the ids on disk are 1..N without a gap, and
    the run verifies clean."""
    run = cli.ok("runs", "new", "--work-id", "1").strip()
    lines = [
        {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "batch", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        *({"jsonrpc": "2.0", "id": n, "method": "tools/call",
           "params": {"name": "emit_event", "arguments": {"run": run, "type": "checkpoint", "message": f"m{n}"}}}
          for n in range(1, 21)),
    ]
    done = subprocess.run([FABER, "mcp"], cwd=project_dir, env=clean_environ(), text=True, timeout=120,
                          input="".join(json.dumps(line) + "\n" for line in lines), capture_output=True)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert answers[0]["id"] == 0 and "result" in answers[0]
    acknowledged = {a["id"]: a["result"]["structuredContent"]["event_id"] for a in answers[1:] if "result" in a}
    files = {int(path.name.split("-")[0]): json.loads(path.read_text())
             for path in (project_dir / RUNS / run / "events").glob("*.json")}
    assert sorted(files) == list(range(1, len(files) + 1)) and len(files) >= len(acknowledged)
    for request, event_id in acknowledged.items():
        assert files[event_id]["message"] == f"m{request}", "an acknowledged event is on disk as sent"
    assert cli.json("runs", "verify", run, "--json")["ok"] is True  # type: ignore[index]


def test_acknowledged_events_survive_a_killed_server(cli: Cli, project_dir: Path) -> None:
    """The client sends 100 emit_event calls at once and SIGKILLs the server after 30 answers: every
    acknowledged event is on disk, the ids there are 1..M without a gap, and the next writer (the CLI)
    carries on at M+1 with the run verifying clean."""
    run = cli.ok("runs", "new", "--work-id", "killed").strip()
    server = subprocess.Popen([FABER, "mcp"], cwd=project_dir, env=clean_environ(), text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert server.stdin and server.stdout
    handshake = [
        {"jsonrpc": "2.0", "id": 0, "method": "initialize",
         "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "k", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ]
    calls = [{"jsonrpc": "2.0", "id": index, "method": "tools/call",
              "params": {"name": "emit_event", "arguments": {"run": run, "type": "checkpoint", "message": f"m{index}"}}}
             for index in range(1, 101)]
    try:
        server.stdin.write("".join(json.dumps(message) + "\n" for message in [*handshake, *calls]))
        server.stdin.flush()
        assert "result" in json.loads(server.stdout.readline())
        answers = [json.loads(server.stdout.readline()) for _ in range(30)]
    finally:
        server.kill()
        server.wait(timeout=30)
    acknowledged = {answer["id"]: answer["result"]["structuredContent"]["event_id"] for answer in answers}
    files = {int(path.name.split("-")[0]): json.loads(path.read_text())
             for path in (project_dir / RUNS / run / "events").glob("*.json")}
    assert sorted(files) == list(range(1, len(files) + 1)) and len(files) >= 30
    for request, event_id in acknowledged.items():
        assert files[event_id]["message"] == f"m{request}", "an acknowledged event is on disk as sent"
    assert cli.ok("event", "emit", run, "checkpoint").strip() == str(len(files) + 1)
    assert cli.json("runs", "verify", run, "--json")["ok"] is True  # type: ignore[index]


def test_sigterm_ends_the_server_quietly(project_dir: Path) -> None:
    server = subprocess.Popen([FABER, "mcp"], cwd=project_dir, env=clean_environ(), text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert server.stderr
    assert "serving the runs of" in server.stderr.readline()
    server.terminate()
    server.wait(timeout=30)
    assert "Traceback" not in server.stderr.read()


async def test_the_mcp_server_and_cli_processes_write_one_run_together(cli: Cli, project_dir: Path, tmp_path: Path) -> None:
    """Three CLI processes emit 10 events each while an MCP client emits for as long as they run: the
    ids are exactly 1..N, every acknowledged event is on disk, none overwrote another."""
    run = cli.ok("runs", "new", "--work-id", "mixed").strip()
    loop = f'for i in $(seq {CLI_EMITS}); do "{FABER}" event emit "{run}" checkpoint --message "cli$W-$i" || exit 1; done'
    with open(tmp_path / "server.log", "w") as log:
        async with faber_mcp(project_dir, log) as client:
            writers = [
                subprocess.Popen(["bash", "-c", loop], cwd=project_dir, env=clean_environ(W=str(w)),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for w in range(CLI_WRITERS)
            ]
            acknowledged: list[int] = []
            messages: set[str] = set()
            started = time.monotonic()
            while any(writer.poll() is None for writer in writers) or len(acknowledged) < 50:
                message = f"mcp-{len(acknowledged)}"
                acknowledged.append((await call(client, "emit_event", run=run, type="checkpoint", message=message))["event_id"])
                messages.add(message)
                await anyio.sleep(0.005)  # interleave with the CLI writers rather than outrun them
                assert time.monotonic() - started < 600
            for writer in writers:
                out, err = writer.communicate(timeout=60)
                assert writer.returncode == 0, err
                acknowledged += [int(line) for line in out.split()]
                messages |= {f"cli{writers.index(writer)}-{i}" for i in range(1, CLI_EMITS + 1)}
            total = len(acknowledged)
            assert sorted(acknowledged) == list(range(1, total + 1)), "every writer got its own ids, no gaps"
            state = await read(client, f"faber://run/{run}/state")
            assert state["last_event_id"] == total

    events_dir = project_dir / RUNS / run / "events"
    files = sorted(events_dir.glob("*.json"), key=lambda p: int(p.name.split("-")[0]))
    assert [int(p.name.split("-")[0]) for p in files] == list(range(1, total + 1))
    stored = [json.loads(p.read_text()) for p in files]
    for event in stored:
        validate_event(event)
    assert {event["message"] for event in stored} == messages, "no event overwrote another"
    sources = [event["source"] for event in stored]
    switches = sum(1 for before, after in pairwise(sources) if before != after)
    assert switches >= 2, "the MCP server and the CLI processes really wrote at the same time"
    assert json.loads((events_dir.parent / "state.json").read_text()) == cli.json("runs", "reconstruct", run)


def test_other_commands_never_import_the_sdk(project_dir: Path) -> None:
    """The SDK costs most of a second to import: only `faber mcp` may pay it."""
    probe = (
        "import sys; from faber_host.cli import main; "
        "codes = [main(['runs', 'list']), main(['event', '--help']), main(['mcp', '--help'])]; "
        "assert codes == [0, 0, 0], codes; "
        "print(sorted(name for name in sys.modules if name == 'mcp' or name.startswith(('mcp.', 'mcp_types'))))"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=project_dir, env=clean_environ(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "--transport" in result.stdout and "FABER_MCP_TOKEN" in result.stdout


async def test_the_transport_comes_from_gateway_json_unless_given(project_dir: Path, tmp_path: Path) -> None:
    gateway = project_dir / ".fractary/plugins/faber/gateway.json"
    document = json.loads(gateway.read_text())
    document["mcp_server"]["name"] = "team-gateway"
    gateway.write_text(json.dumps(document))
    with open(tmp_path / "server.log", "w") as log:
        async with faber_mcp(project_dir, log, mode="legacy") as client:
            assert client.server_info and client.server_info.name == "team-gateway"
            assert client.protocol_version == "2025-11-25"

    document["mcp_server"]["transport"] = "http"
    gateway.write_text(json.dumps(document))
    with anyio.fail_after(60):
        server = await anyio.open_process([FABER, "mcp", "--port", "0", "--host", "0.0.0.0"], cwd=project_dir,
                                          env=clean_environ())
        await server.wait()
    assert server.returncode == 2, "gateway.json asked for HTTP, and HTTP on 0.0.0.0 needs a token"


async def test_the_contrib_mcp_json_launches_the_server(project_dir: Path, tmp_path: Path) -> None:
    """contrib/mcp/.mcp.json works as shipped: its command, on PATH, started in the project."""
    (entry,) = json.loads((REPO / "contrib/mcp/.mcp.json").read_text())["mcpServers"].values()
    environ = clean_environ(PATH=f"{Path(FABER).parent}:/usr/bin:/bin")
    server = StdioServerParameters(command=entry["command"], args=entry["args"], cwd=project_dir, env=environ)
    with open(tmp_path / "server.log", "w") as log:
        async with Client(stdio_client(server, errlog=log)) as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
    (remote,) = json.loads((REPO / "contrib/mcp/http.mcp.json").read_text())["mcpServers"].values()
    assert remote["type"] == "http" and remote["headers"]["Authorization"] == "Bearer ${FABER_MCP_TOKEN}"


def test_outside_a_project_it_says_so_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run([FABER, "mcp"], cwd=tmp_path, env=clean_environ(), stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=60)
    assert "FABER project" in assert_one_line_error(result) and result.stdout == ""


TOOLS_CORE_LIMIT, TOOLS_LIST_LIMIT = 8000, 24000
"""Bytes: every tool's name, description and input schema together; the whole tools/list answer.
Clients compile every schema at every listing and models read the descriptions on every turn."""


def test_the_tool_list_stays_lean(project_dir: Path) -> None:
    """Measured on the wire: the tools/list answer as `faber mcp` writes it on stdout."""
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "size", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    server = subprocess.Popen([FABER, "mcp"], cwd=project_dir, env=clean_environ(), text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert server.stdin and server.stdout
    try:
        server.stdin.write("".join(json.dumps(request) + "\n" for request in requests))
        server.stdin.flush()
        lines = [server.stdout.readline(), server.stdout.readline()]
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    answers = {json.loads(line)["id"]: line for line in lines}
    listing = answers[2].encode()
    tools = json.loads(listing)["result"]["tools"]
    assert {tool["name"] for tool in tools} == TOOLS
    core = sum(len(json.dumps({key: tool[key] for key in ("name", "description", "inputSchema")},
                              separators=(",", ":"), ensure_ascii=False).encode()) for tool in tools)
    assert core <= TOOLS_CORE_LIMIT, f"names, descriptions and input schemas: {core} bytes"
    assert len(listing) <= TOOLS_LIST_LIMIT, f"tools/list: {len(listing)} bytes"
    assert all(tool["outputSchema"]["type"] == "object" for tool in tools), "structured output stays described"

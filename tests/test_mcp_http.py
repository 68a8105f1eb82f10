"""`faber mcp --transport http`: a real server on 127.0.0.1, real HTTP clients, the token rule."""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
from conftest import FABER, Cli, assert_one_line_error, clean_environ
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_support import TOOLS, call, read

pytestmark = pytest.mark.anyio
TOKEN = "s3cret-token-for-the-tests-0123456789"
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@contextmanager
def http_server(project_dir: Path, *args: str, token: str | None = None) -> Iterator[str]:
    """`faber mcp --transport http` on a free port of 127.0.0.1; yields its URL."""
    environ = clean_environ(**({"FABER_MCP_TOKEN": token} if token else {}))
    server = subprocess.Popen([FABER, "mcp", "--transport", "http", "--port", "0", *args], cwd=project_dir,
                              env=environ, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    assert server.stderr
    try:
        announced = server.stderr.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/mcp)", announced)
        assert found, (announced, server.stderr.read() if server.poll() is not None else "")
        yield found[1]
    finally:
        server.terminate()
        server.wait(timeout=30)
    rest = server.stderr.read()
    assert "Traceback" not in rest, rest


@asynccontextmanager
async def connect(url: str, token: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


async def test_the_right_token_is_served_and_a_request_without_it_gets_401(project_dir: Path) -> None:
    with http_server(project_dir, token=TOKEN) as url:
        async with connect(url, TOKEN) as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
            run = (await call(client, "start_run", work_id="h-1"))["run_id"]
            assert (await call(client, "emit_event", run=run, type="workflow_start"))["event_id"] == 1
            assert (await read(client, f"faber://run/{run}/state"))["status"] == "in_progress"

        async with httpx2.AsyncClient(timeout=60) as http:
            for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN},
                            {"Authorization": f"Basic {TOKEN}"}):
                refused = await http.post(url, json=INITIALIZE, headers={**ACCEPT, **headers})
                assert refused.status_code == 401, (headers, refused.text)
                assert refused.headers["www-authenticate"].startswith("Bearer ")
            for method in ("GET", "DELETE"):  # the SSE stream and session end are guarded alike
                refused = await http.request(method, url, headers={**ACCEPT, "mcp-session-id": "x"})
                assert refused.status_code == 401, (method, refused.text)
            garbled = await http.post(url, content=b"{not json", headers={**ACCEPT, "Authorization": f"Bearer {TOKEN}"})
            assert garbled.status_code == 400 and garbled.json()["error"]["code"] == -32700

        async with connect(url, TOKEN) as client:
            assert (await call(client, "get_events", run=run))["events"][0]["type"] == "workflow_start", "still serving"


async def test_agents_share_one_http_gateway(project_dir: Path) -> None:
    """Without a token on loopback; three agents emit into one run at once: ids 1..N, no gaps."""
    with http_server(project_dir) as url:
        async with connect(url, None) as first:
            run = (await call(first, "start_run", work_id="shared"))["run_id"]
        acknowledged: list[int] = []

        async def agent(name: str) -> None:
            async with connect(url, None) as client:
                for index in range(15):
                    answer = await call(client, "emit_event", run=run, type="checkpoint", message=f"{name}-{index}")
                    acknowledged.append(answer["event_id"])

        async with anyio.create_task_group() as group:
            for name in ("a", "b", "c"):
                group.start_soon(agent, name)
        assert sorted(acknowledged) == list(range(1, 46))
        async with connect(url, None) as client:
            events = (await call(client, "get_events", run=run))["events"]
            assert len({event["message"] for event in events}) == 45

        async with httpx2.AsyncClient(timeout=60) as http:
            rebinding = await http.post(url, json=INITIALIZE, headers={**ACCEPT, "Host": "evil.example:80"})
            assert rebinding.status_code in (403, 421), "a loopback server refuses other Host names"


def test_a_non_loopback_address_without_a_token_refuses_to_start(cli: Cli) -> None:
    for host in ("0.0.0.0", "::"):
        line = assert_one_line_error(cli("mcp", "--transport", "http", "--host", host, "--port", "0"))
        assert f"refusing to serve MCP on {host} without a token" in line and "FABER_MCP_TOKEN" in line
    line = assert_one_line_error(cli("mcp", "--transport", "http", "--token", "short"))
    assert "at least 16 characters" in line
    assert "at least 16" in assert_one_line_error(
        cli("mcp", "--transport", "http", env=clean_environ(FABER_MCP_TOKEN="short")))


def test_a_busy_port_is_one_clear_error(cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = assert_one_line_error(cli("mcp", "--transport", "http", "--port", str(port)), code=1)
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert "not a port number" in assert_one_line_error(cli("mcp", "--transport", "http", "--port", "70000"))

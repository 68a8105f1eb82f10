"""`faber mcp --transport http`: a real server on 127.0.0.1, real HTTP clients, the token rule."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import httpx2
import pytest
from conftest import FABER, Cli, assert_one_line_error, clean_environ
from faber_hookspecs.errors import FaberError, InvalidInput
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_support import TOOLS, call, read

from faber_host.mcp.listening import Listener, check_token, listen
from faber_host.mcp.streamable_http import StaticTokenVerifier

pytestmark = pytest.mark.anyio
TOKEN = "s3cret-token-for-the-tests-0123456789"
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@contextmanager
def http_server(project_dir: Path, *args: str, token: str | None = None, address: str = "127.0.0.1") -> Iterator[str]:
    """`faber mcp --transport http` on a free port (of 127.0.0.1 unless --host says otherwise); yields
    its URL, which must be on ``address``."""
    environ = clean_environ(**({"FABER_MCP_TOKEN": token} if token else {}))
    server = subprocess.Popen([FABER, "mcp", "--transport", "http", "--port", "0", *args], cwd=project_dir,
                              env=environ, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    assert server.stderr
    try:
        announced = server.stderr.readline()
        found = re.search(r"(http://" + re.escape(address) + r":\d+/mcp) \((.*)\)$", announced)
        assert found, (announced, server.stderr.read() if server.poll() is not None else "")
        assert "Host and Origin must name this address" in found[2], announced
        yield found[1]
    finally:
        server.terminate()
        server.wait(timeout=30)
    rest = server.stderr.read()
    assert "Traceback" not in rest, rest


def raw_post(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    """POST initialize with exactly these extra headers (http.client sends what httpx2 refuses)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        connection.request("POST", parts.path, body=json.dumps(INITIALIZE), headers={**ACCEPT, **headers})
        answer = connection.getresponse()
        answer.read()
        return answer.status, {name.lower(): value for name, value in answer.getheaders()}
    finally:
        connection.close()


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

        off_by_one = TOKEN[:5] + chr(ord(TOKEN[5]) + 1) + TOKEN[6:]
        wrong = ["", " " * 16, TOKEN[:15], TOKEN[:-1], TOKEN + "x", off_by_one, TOKEN.upper(), f" {TOKEN}"]
        for headers in ({}, *({"Authorization": f"Bearer {token}"} for token in wrong), {"Authorization": TOKEN},
                        {"Authorization": f"Basic {TOKEN}"}):
            status, answer_headers = raw_post(url, headers)  # httpx2 will not send a blank token
            assert status == 401, headers
            assert answer_headers["www-authenticate"].startswith("Bearer ")
        assert raw_post(url, {"Authorization": f"Bearer {TOKEN}"})[0] == 200
        async with httpx2.AsyncClient(timeout=60) as http:
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



async def assert_rebinding_refused(url: str, names: list[str]) -> None:
    """A request must name this listener in Host, and in Origin when it sends one (what a page
    elsewhere that points its own name at this address cannot do); ``names`` are what may be named."""
    port = int(url.rsplit(":", 1)[1].removesuffix("/mcp"))
    async with httpx2.AsyncClient(timeout=60) as http:
        async def post(**headers: str) -> int:
            return (await http.post(url, json=INITIALIZE, headers={**ACCEPT, **headers})).status_code

        for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}", f"{names[0]}:{port + 1}",
                     names[0], "localhost:*"):
            assert await post(host=host) == 421, host
        for origin in ("http://evil.example", f"http://evil.example:{port}", f"https://{names[0]}:{port}",
                       f"http://{names[0]}:{port}.evil.example", "null"):
            assert await post(origin=origin) == 403, origin
        for name in names:
            assert await post(host=f"{name}:{port}", origin=f"http://{name}:{port}") == 200, name
        assert await post() == 200, "a client that sends no Origin (not a browser) is served"


async def test_loopback_refuses_other_host_and_origin_names(project_dir: Path) -> None:
    """DNS rebinding: with no token, on 127.0.0.1, a request naming evil.example is refused."""
    with http_server(project_dir) as url:
        await assert_rebinding_refused(url, ["127.0.0.1", "localhost"])


@pytest.mark.parametrize(("host", "address"), [("127.1", "127.0.0.1"), ("LOCALHOST", "127.0.0.1"),
                                               ("127.0.0.2", "127.0.0.2")])
async def test_other_spellings_of_loopback_get_the_same_host_and_origin_checks(
    project_dir: Path, host: str, address: str
) -> None:
    """They start without a token (they are loopback), and protect Host/Origin bound to the address
    they listen on: 127.0.0.2 answers to its own name only (localhost is 127.0.0.1)."""
    with http_server(project_dir, "--host", host, address=address) as url:
        await assert_rebinding_refused(url, [address, "localhost"] if address == "127.0.0.1" else [address])


@pytest.mark.parametrize("host", ["::1", "[::1]", "0:0:0:0:0:0:0:1"])
def test_ipv6_loopback_spellings_listen_on_one_address_with_the_checks(project_dir: Path, host: str) -> None:
    with http_server(project_dir, "--host", host, address="[::1]") as url:
        assert url.startswith("http://[::1]:")


def test_a_non_loopback_address_without_a_token_refuses_to_start(cli: Cli) -> None:
    for host in ("0.0.0.0", "::", "[::]"):
        line = assert_one_line_error(cli("mcp", "--transport", "http", "--host", host, "--port", "0"))
        assert f"refusing to serve MCP on {host} without a token" in line and "FABER_MCP_TOKEN" in line


@pytest.mark.parametrize("token", ["short", "", " " * 16, "x" * 15, "\t" * 20, "a" * 8 + " " + "a" * 8,
                                   "é" * 16, "token-with-a-newline\n"])
def test_weak_tokens_refuse_to_start(cli: Cli, token: str) -> None:
    line = assert_one_line_error(cli("mcp", "--transport", "http", "--port", "0", "--token", token))
    assert "the token must be at least 16 characters, each a visible ASCII character" in line
    if token:  # an empty FABER_MCP_TOKEN is no token at all (and then loopback only)
        line = assert_one_line_error(cli("mcp", "--transport", "http", "--host", "0.0.0.0", "--port", "0",
                                         env=clean_environ(FABER_MCP_TOKEN=token)))
        assert "at least 16 characters" in line


def test_a_busy_port_is_one_clear_error(cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = assert_one_line_error(cli("mcp", "--transport", "http", "--port", str(port)), code=1)
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert "not a port number" in assert_one_line_error(cli("mcp", "--transport", "http", "--port", "70000"))


# The same rules in process, where mutation testing sees them (the server above runs in a subprocess).

async def test_the_token_verifier_accepts_exactly_one_token() -> None:
    verifier = StaticTokenVerifier(TOKEN)
    off_by_one = TOKEN[:5] + chr(ord(TOKEN[5]) + 1) + TOKEN[6:]
    for wrong in ("", TOKEN[:1], TOKEN[:-1], TOKEN + "x", off_by_one, TOKEN[:-1] + "X", TOKEN.upper(), f" {TOKEN}"):
        assert await verifier.verify_token(wrong) is None, wrong
    accepted = await verifier.verify_token(TOKEN)
    assert accepted is not None and accepted.token == TOKEN and accepted.client_id == "faber-mcp-token"


@pytest.mark.parametrize("token", ["", "x" * 15, " " * 16, "a" * 8 + " " + "a" * 8, "é" * 16, "\x7f" * 16, "a" * 15 + "\n"])
def test_check_token_refuses_weak_tokens_in_process(token: str) -> None:
    with pytest.raises(InvalidInput, match="at least 16 characters, each a visible ASCII character"):
        check_token(token)


def test_check_token_takes_sixteen_visible_characters_from_bang_to_tilde() -> None:
    for token in (None, "!" * 16, "~" * 16, "a" * 16, TOKEN):
        check_token(token)


@pytest.mark.parametrize(("host", "names"), [("127.0.0.1", ["127.0.0.1", "localhost"]), ("127.1", ["127.0.0.1", "localhost"]),
                                             ("::1", ["[::1]", "localhost"]), ("[::1]", ["[::1]", "localhost"]),
                                             ("127.0.0.2", ["127.0.0.2"])])
def test_a_loopback_listener_answers_to_its_own_names_only(host: str, names: list[str]) -> None:
    listener = listen(host, 0, None)
    with listener.socket:
        assert listener.loopback and listener.port > 0
        assert listener.host_names() == [f"{name}:{listener.port}" for name in names]
        assert listener.socket.getsockname()[1] == listener.port


def test_on_port_80_the_host_names_come_with_and_without_the_port() -> None:
    with socket.socket() as unbound:
        assert Listener(unbound, "127.0.0.1", 80, True).host_names() == [
            "127.0.0.1:80", "localhost:80", "127.0.0.1", "localhost"]


def test_other_addresses_need_a_token_and_bad_ports_and_hosts_get_one_clear_error() -> None:
    with pytest.raises(InvalidInput, match=re.escape("refusing to serve MCP on 0.0.0.0 without a token")):
        listen("0.0.0.0", 0, None)
    listener = listen("127.0.0.1", 0, TOKEN)
    with listener.socket:
        with pytest.raises(FaberError, match=re.escape(f"cannot listen on 127.0.0.1:{listener.port}")):
            listen("127.0.0.1", listener.port, None)
    for port in (-1, 65536):
        with pytest.raises(InvalidInput, match=f"--port {port} is not a port number"):
            listen("127.0.0.1", port, None)
    with pytest.raises(InvalidInput, match=re.escape("cannot listen on 'no such host.invalid'")):
        listen("no such host.invalid", 0, None)

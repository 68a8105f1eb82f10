"""Serve the MCP server over stdio (one client, the one that launched us) or streamable HTTP.

HTTP listens on 127.0.0.1 unless told otherwise and follows ``listening.py``'s rule (no token, no
address beyond loopback); with a token set every request must carry ``Authorization: Bearer <token>``
(else 401), whatever the address. A line on stdio that is not a JSON-RPC message is answered with the
JSON-RPC error it calls for, and the next one is served.
"""

from __future__ import annotations

import hmac
import sys
from typing import Any, TextIO

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from pydantic import ValidationError

from ..api import Faber
from .errors import logger
from .listening import bind, check_http_policy
from .server import build_server, call_in_thread, call_inline

MCP_PATH = "/mcp"


def serve_stdio(faber: Faber, *, debug: bool = False, log: TextIO = sys.stderr) -> None:
    """Serve the client on our stdin and stdout until it closes them."""
    import anyio

    server = build_server(faber, blocking=call_inline, debug=debug)
    print(f"faber mcp: serving the runs of {faber.project.root} over stdio", file=log, flush=True)
    anyio.run(_run_stdio, server)


async def _run_stdio(server: MCPServer) -> None:
    """``MCPServer.run_stdio_async``, except that a line that is not a JSON-RPC message gets the
    JSON-RPC error it calls for instead of being dropped without a word."""
    from mcp.server.stdio import stdio_server

    lowlevel = server._lowlevel_server
    async with stdio_server() as (read_stream, write_stream):
        messages = AnswerMalformedMessages(read_stream, write_stream)
        await lowlevel.run(messages, write_stream, lowlevel.create_initialization_options())


def serve_http(
    faber: Faber,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    debug: bool = False,
    log: TextIO = sys.stderr,
) -> None:
    """Serve streamable HTTP on ``host:port`` (path /mcp) until interrupted."""
    import uvicorn

    token = token or None
    check_http_policy(host, token)
    listener = bind(host, port)
    address = _url_host(listener.getsockname()[0])
    url = f"http://{address}:{listener.getsockname()[1]}{MCP_PATH}"
    auth = verifier = None
    if token:
        auth = AuthSettings(issuer_url=url.removesuffix(MCP_PATH), resource_server_url=None)
        verifier = StaticTokenVerifier(token)
    server = build_server(faber, blocking=call_in_thread, auth=auth, token_verifier=verifier, debug=debug)
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    config = uvicorn.Config(app, log_level="info" if debug else "warning", access_log=debug, lifespan="on")
    guard = "a bearer token is required" if token else "no token: loopback only"
    print(f"faber mcp: serving the runs of {faber.project.root} on {url} ({guard})", file=log, flush=True)
    uvicorn.Server(config).run(sockets=[listener])


class AnswerMalformedMessages:
    """The transport's incoming messages, where a line that is not JSON (-32700 Parse error) or not a
    JSON-RPC message (-32600 Invalid Request) is answered on the spot and skipped, so the client hears
    why and the next message is served as usual."""

    def __init__(self, messages: Any, replies: Any) -> None:
        self._messages = messages
        self._replies = replies

    @property
    def last_context(self) -> Any:
        """The sender's context of the last message (what the SDK's dispatcher reads)."""
        return getattr(self._messages, "last_context", None)

    async def receive(self) -> Any:
        while True:
            item = await self._messages.receive()
            if not isinstance(item, Exception):
                return item
            await self._replies.send(malformed_message_reply(item))

    def __aiter__(self) -> AnswerMalformedMessages:
        return self

    async def __anext__(self) -> Any:
        import anyio

        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._messages.aclose()

    async def __aenter__(self) -> AnswerMalformedMessages:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def malformed_message_reply(problem: Exception) -> Any:
    """The JSON-RPC error answering a line the transport could not read as a message."""
    from mcp.shared.message import SessionMessage
    from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError

    errors = problem.errors() if isinstance(problem, ValidationError) else []
    if errors and errors[0]["type"] == "json_invalid":
        error = ErrorData(code=PARSE_ERROR, message="Parse error: the line is not valid JSON")
    else:
        error = ErrorData(code=INVALID_REQUEST, message="Invalid Request: not a JSON-RPC 2.0 request, "
                          "notification or response")
    # JSON that is not a message: answer its id if it has a usable one (the parse errors carry the object)
    ids = [e["input"].get("id") for e in errors if isinstance(e.get("input"), dict)]
    request_id = next((i for i in ids if isinstance(i, str | int) and not isinstance(i, bool)), None)
    logger.info("answered a malformed message: %s", error.message)
    return SessionMessage(JSONRPCError(jsonrpc="2.0", id=request_id, error=error))


class StaticTokenVerifier:
    """Accepts exactly one bearer token (compared in constant time)."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode(), self._token):
            return AccessToken(token=token, client_id="faber-mcp-token", scopes=[])
        return None


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address

"""Serve streamable HTTP, for several agents sharing one gateway.

The listening rule is ``listening.py``'s: 127.0.0.1 unless told otherwise, and no other address
without a token. With a token set, every request must carry ``Authorization: Bearer <token>`` (else
401), whatever the address; the SDK's bearer middleware enforces it and binds each session to it.
API calls run in worker threads, so one client's fsync never stalls the others (the record store's
locks hold across threads).
"""

from __future__ import annotations

import hmac
import sys
from typing import TextIO

import uvicorn
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings

from ..api import Faber
from .listening import bind, check_http_policy
from .server import build_server, call_in_thread, freeze_startup_objects

MCP_PATH = "/mcp"


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
    freeze_startup_objects()
    config = uvicorn.Config(app, log_level="info" if debug else "warning", access_log=debug, lifespan="on",
                            timeout_graceful_shutdown=5)
    guard = "a bearer token is required" if token else "no token: loopback only"
    print(f"faber mcp: serving the runs of {faber.project.root} on {url} ({guard})", file=log, flush=True)
    uvicorn.Server(config).run(sockets=[listener])


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

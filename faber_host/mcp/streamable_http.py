"""Serve streamable HTTP (the SDK's transport), for several agents sharing one gateway.

Who may call is ``listening.py``'s rule: on loopback, requests must name this listener in Host (and
Origin, when sent), which the SDK's transport security checks; elsewhere a token is required. With a
token set, every request must carry ``Authorization: Bearer <token>`` (else 401), whatever the
address; the SDK's bearer middleware enforces it and binds each session to it. API calls run in
worker threads, so one client's fsync never stalls the others (the record store's locks hold across
threads).
"""

from __future__ import annotations

import hmac
import sys
from typing import TextIO

import uvicorn
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings

from ..api import Faber
from .listening import Listener
from .server import build_server, call_in_thread, freeze_startup_objects

MCP_PATH = "/mcp"


def serve_http(faber: Faber, listener: Listener, *, token: str | None = None, debug: bool = False,
               log: TextIO = sys.stderr) -> None:
    """Serve streamable HTTP on ``listener`` (path /mcp) until interrupted."""
    origin = f"http://{listener.url_host}:{listener.port}"
    auth = verifier = None
    if token is not None:
        auth = AuthSettings(issuer_url=origin, resource_server_url=None)
        verifier = StaticTokenVerifier(token)
    server = build_server(faber, blocking=call_in_thread, auth=auth, token_verifier=verifier, debug=debug)
    hosts = listener.host_names()
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=listener.loopback,  # elsewhere the token guards, whatever the name
        allowed_hosts=hosts,
        allowed_origins=[f"http://{host}" for host in hosts],
    )
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, transport_security=security)
    freeze_startup_objects()
    config = uvicorn.Config(app, log_level="info" if debug else "warning", access_log=debug, lifespan="on",
                            timeout_graceful_shutdown=5)
    guards = (["Host and Origin must name this address"] if listener.loopback else []) + (
        ["a bearer token is required"] if token is not None else [])
    print(f"faber mcp: serving the runs of {faber.project.root} on {origin}{MCP_PATH} ({'; '.join(guards)})",
          file=log, flush=True)
    uvicorn.Server(config).run(sockets=[listener.socket])


class StaticTokenVerifier:
    """Accepts exactly one bearer token: compared whole, in constant time."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode(), self._token):
            return AccessToken(token=token, client_id="faber-mcp-token", scopes=[])
        return None

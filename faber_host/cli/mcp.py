"""``faber mcp``: serve the MCP event gateway to agents (the SDK is imported only here, on use)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Optional

import typer

from ..gateway.config import MCP_HTTP_PORT
from .context import open_faber


class Transport(StrEnum):
    stdio = "stdio"
    http = "http"


def mcp(
    ctx: typer.Context,
    transport: Annotated[
        Optional[Transport],
        typer.Option(help="stdio (an agent launches `faber mcp`) or http (streamable HTTP, for several agents). "
                          "Default: mcp_server.transport in gateway.json, else stdio.", show_default=False),
    ] = None,
    host: Annotated[str, typer.Option(help="HTTP: the address to listen on. Other than loopback needs a token; "
                                                 "on loopback, Host and Origin must name it.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP: the port (0 picks a free one; the address is printed on stderr).")]
    = MCP_HTTP_PORT,
    token: Annotated[
        Optional[str],
        typer.Option(envvar="FABER_MCP_TOKEN", show_default=False,
                     help="HTTP: require `Authorization: Bearer <token>` on every request (16+ visible "
                          "ASCII characters). Prefer the environment variable FABER_MCP_TOKEN: options show in `ps`."),
    ] = None,
) -> None:
    """Serve the MCP event gateway to agents, over stdio or streamable HTTP.

    Tools start runs, emit events and read state and history; resources show each run's state, events
    and metadata. For Claude Code: `claude mcp add faber -- faber mcp` (see contrib/mcp/).
    """
    faber = open_faber(ctx)  # once, before serving: a broken project is one error, not one per call
    debug = bool((ctx.find_root().obj or {}).get("debug"))
    chosen = transport.value if transport is not None else faber.gateway.config.mcp_server.transport
    if chosen == "http":
        from ..mcp.listening import listen

        listener = listen(host, port, token)  # refuse before paying for the SDK's import
        from ..mcp.streamable_http import serve_http

        serve_http(faber, listener, token=token, debug=debug)
    else:
        from ..mcp.server import serve_stdio

        serve_stdio(faber, debug=debug)

"""Where the HTTP transport may listen, checked before the SDK is even imported.

On any address that is not loopback, ``faber mcp --transport http`` refuses to start without a token:
anyone who can reach the port could otherwise read and write every run. The socket is bound before the
server starts, so a busy port is one clear error and ``--port 0`` picks a free port (announced on
stderr).
"""

from __future__ import annotations

import ipaddress
import socket

from faber_hookspecs.errors import FaberError, InvalidInput

TOKEN_MIN_LENGTH = 16
TOKEN_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def check_http_policy(host: str, token: str | None) -> None:
    """Refuse what would expose the runs: a non-loopback address without a token, or a weak token."""
    if token is not None and len(token) < TOKEN_MIN_LENGTH:
        raise InvalidInput(f"the token must be at least {TOKEN_MIN_LENGTH} characters; make one with {TOKEN_HINT}")
    if token is None and not is_loopback(host):
        raise InvalidInput(
            f"refusing to serve MCP on {host} without a token: anyone who can reach it could read and write "
            f"the runs; set FABER_MCP_TOKEN (or --token) to a secret, e.g. from {TOKEN_HINT}, "
            "or listen on 127.0.0.1"
        )


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address (127.0.0.0/8, ::1)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    addresses = {str(info[4][0]) for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(address.split("%")[0]).is_loopback for address in addresses)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or one clear error."""
    if not 0 <= port <= 65535:
        raise InvalidInput(f"--port {port} is not a port number (0-65535; 0 picks a free one)")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        listener = socket.socket(family, kind, proto)
    except OSError as problem:
        raise InvalidInput(f"cannot listen on {host!r}: {problem.strerror or problem}") from None
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(128)
    except OSError as problem:
        listener.close()
        raise FaberError(f"cannot listen on {host}:{port}: {problem.strerror or problem}") from None
    return listener

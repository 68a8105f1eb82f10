"""Where the HTTP transport may listen and who may call it, settled before the SDK is even imported.

The socket is bound first, and the rule reads the address it is bound to, not the spelling given
(``127.1``, ``LOCALHOST``, ``0:0:0:0:0:0:0:1`` and ``[::1]`` all come down to an address):

- on a loopback address, every request must name this very listener in its Host header, and an
  Origin header, when a browser sends one, must be this listener too: a page elsewhere that points
  its own name at 127.0.0.1 (DNS rebinding) is refused;
- on any other address, a bearer token is required: anyone who can reach the port could otherwise
  read and write every run.

A token must be at least 16 visible ASCII characters (no blanks: what an HTTP header carries as is).
A busy port is one clear error, and ``--port 0`` picks a free port (announced on stderr).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from faber_hookspecs.errors import FaberError, InvalidInput

TOKEN_MIN_LENGTH = 16
TOKEN_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


@dataclass(frozen=True)
class Listener:
    """A bound, listening socket and what may reach it."""

    socket: socket.socket
    address: str
    port: int
    loopback: bool

    @property
    def url_host(self) -> str:
        return f"[{self.address}]" if ":" in self.address else self.address

    def host_names(self) -> list[str]:
        """The Host header values that name this listener: its address, and ``localhost`` where
        that is the address localhost resolves to; without the port too on port 80."""
        names = [self.url_host] + (["localhost"] if self.address in ("127.0.0.1", "::1") else [])
        with_port = [f"{name}:{self.port}" for name in names]
        return with_port + (names if self.port == 80 else [])


def check_token(token: str | None) -> None:
    """Refuse a weak token (an empty one included): one clear line."""
    if token is not None and (len(token) < TOKEN_MIN_LENGTH or not all("!" <= char <= "~" for char in token)):
        raise InvalidInput(
            f"the token must be at least {TOKEN_MIN_LENGTH} characters, each a visible ASCII character "
            f"(no spaces); make one with {TOKEN_HINT}"
        )


def listen(host: str, port: int, token: str | None) -> Listener:
    """Bind ``host:port`` and check the rule above, or raise one clear error."""
    check_token(token)
    listener = bind(host, port)
    address, bound_port = listener.getsockname()[:2]
    loopback = ipaddress.ip_address(address.split("%")[0]).is_loopback
    if token is None and not loopback:
        listener.close()
        raise InvalidInput(
            f"refusing to serve MCP on {host} without a token: anyone who can reach it could read and write "
            f"the runs; set FABER_MCP_TOKEN (or --token) to a secret, e.g. from {TOKEN_HINT}, "
            "or listen on 127.0.0.1"
        )
    return Listener(listener, address, bound_port, loopback)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or one clear error."""
    if not 0 <= port <= 65535:
        raise InvalidInput(f"--port {port} is not a port number (0-65535; 0 picks a free one)")
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [::1] as in a URL
    try:
        family, kind, proto, _, address = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM,
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

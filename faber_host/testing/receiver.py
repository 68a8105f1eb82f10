"""A recording HTTP receiver on 127.0.0.1: answers as a test asks (``accept``, ``fail``, ``slow``, or
``refuse`` to listen at all) and records every request in ``requests`` with the status it got."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the receiver saw it, and the status it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    def ndjson(self) -> list[Any]:
        """The body as NDJSON: one JSON document per non-empty line."""
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


@dataclass
class _Behaviour:
    status: int = 200
    delay: float = 0.0
    after: list[int] = field(default_factory=list)  # statuses for the next requests, then ``status``


class RecordingReceiver:
    """An HTTP server on 127.0.0.1 (a free port) that records what it receives."""

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self._behaviour = _Behaviour()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._listen()

    @property
    def url(self) -> str:
        """The base URL; the receiver answers on every path under it."""
        return f"http://127.0.0.1:{self.port}"

    def accepted(self) -> list[ReceivedRequest]:
        """The requests answered with a 2xx status, in arrival order."""
        with self._lock:
            return [request for request in self.requests if request.accepted]

    def accepted_ndjson(self) -> list[Any]:
        """Every NDJSON line of every accepted request, in arrival order."""
        return [line for request in self.accepted() for line in request.ndjson()]

    def clear(self) -> None:
        """Forget the requests received so far."""
        with self._lock:
            self.requests.clear()

    def accept(self, status: int = 200) -> None:
        """Answer ``status`` (2xx) at once; listen again if ``refuse`` stopped it."""
        with self._lock:
            self._behaviour = _Behaviour(status=status)
        if self._server is None:
            self._listen()

    def fail(self, status: int = 500, *, times: int | None = None) -> None:
        """Answer ``status``: always, or for the next ``times`` requests only (then accept)."""
        with self._lock:
            if times is None:
                self._behaviour = _Behaviour(status=status)
            else:
                self._behaviour = _Behaviour(after=[status] * times)

    def slow(self, seconds: float, status: int = 200) -> None:
        """Wait ``seconds`` before answering ``status``."""
        with self._lock:
            self._behaviour = _Behaviour(status=status, delay=seconds)

    def refuse(self) -> None:
        """Stop listening: connections to the port are refused until ``accept``."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def stop(self) -> None:
        """Stop for good (the fixture does it), cutting short any slow answer."""
        self._stopping.set()
        self.refuse()

    def _listen(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                receiver._answer(self)

            def do_GET(self) -> None:
                receiver._answer(self)

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                return

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="faber-receiver", daemon=True
        )
        self._thread.start()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            behaviour = self._behaviour
            status = behaviour.after.pop(0) if behaviour.after else behaviour.status
        if behaviour.delay:
            self._stopping.wait(behaviour.delay)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append(
                ReceivedRequest(handler.command, handler.path, dict(handler.headers.items()), body, status)
            )
        payload = b'{"ok": true}' if 200 <= status < 300 else b'{"error": "refused by the test receiver"}'
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            pass  # the client gave up (a slow answer): what it sent is recorded all the same
        handler.close_connection = True

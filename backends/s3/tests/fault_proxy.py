"""A small HTTP/1.1 proxy in front of the S3 server that injects faults on request.

Faults, each matched by method and a substring of the path, for ``times`` requests (or always):

``drop``          read the request, then close the connection without an answer;
``error500``      answer ``500 InternalError`` (S3's XML) without forwarding;
``cut_request``   forward the headers and half the body upstream, then close both connections;
``cut_response``  forward the request, then pass on the answer's headers and half its body and close;
``drop_answer``   forward the request (the write happens), then close without passing on the answer;
``stall``         forward the request, then hold the answer back for ``STALL_S`` seconds and close (a timeout);
``strip_conditions`` forward the request without If-None-Match and If-Match (a service that ignores them);
``rewrite_answer`` forward the request, then pass on a successful answer with the ``headers`` given
                  (a value None removes the header) and, with ``reverse_body``, its body reversed
                  (a bucket that answers with other sizes, checksums or bytes than it was sent).

It speaks just enough HTTP for S3 clients: Content-Length and chunked bodies, keep-alive towards the
client, one upstream connection per request.
"""

from __future__ import annotations

import re
import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from typing import BinaryIO

KINDS = ("drop", "error500", "cut_request", "cut_response", "drop_answer", "stall", "strip_conditions",
         "rewrite_answer")
STALL_S = 3.0
_ERROR_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message></Error>"
)


@dataclass
class Fault:
    kind: str
    method: str | None
    path_contains: str | None
    times: int | None  # None: every matching request
    headers: dict[str, str | None] | None = None  # rewrite_answer's
    reverse_body: bool = False  # rewrite_answer's

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in path
        )


class FaultProxy:
    """Forward 127.0.0.1:<port> to the upstream server, injecting the faults added."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.faults: list[Fault] = []
        self.injected: list[tuple[str, str, str]] = []
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.connection, self.rfile)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FaultProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, kind: str, *, method: str | None = None, path_contains: str | None = None, times: int | None = 1,
            headers: dict[str, str | None] | None = None, reverse_body: bool = False) -> None:
        """Inject ``kind`` into the next ``times`` matching requests (None: all of them)."""
        assert kind in KINDS, kind
        with self.lock:
            self.faults.append(Fault(kind, method, path_contains, times, headers, reverse_body))

    def clear(self) -> None:
        """No more faults."""
        with self.lock:
            self.faults.clear()

    def _take(self, method: str, path: str) -> Fault | None:
        with self.lock:
            self.requests.append((method, path))
            for fault in self.faults:
                if fault.matches(method, path) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    self.injected.append((fault.kind, method, path))
                    return fault
        return None

    # One client connection --------------------------------------------------------------------------

    def _serve(self, client: socket.socket, reader: BinaryIO) -> None:
        while True:
            request = _read_message(reader, is_request=True, client=client)
            if request is None:
                return
            head, body, method, path = request
            taken = self._take(method, path)
            fault = taken.kind if taken else None
            if fault == "drop":
                return  # the handler closes the connection
            if fault == "error500":
                client.sendall(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\n"
                    + b"Content-Length: %d\r\n\r\n" % len(_ERROR_BODY) + _ERROR_BODY
                )
                continue
            if fault == "strip_conditions":
                head = re.sub(rb"(?im)^if-(none-)?match:[^\n]*\n", b"", head)
            with socket.create_connection(self.upstream, timeout=60) as upstream:
                if fault == "cut_request":
                    upstream.sendall(head + body[: len(body) // 2])
                    return
                upstream.sendall(head + body)
                answers = upstream.makefile("rb")
                answer = _read_message(answers, is_request=False, method=method)
                while answer is not None and answer[0].split(b" ", 2)[1].startswith(b"1"):
                    answer = _read_message(answers, is_request=False, method=method)  # skip 100 Continue
            if answer is None:
                return
            answer_head, answer_body, _, _ = answer
            if fault in ("drop_answer", "stall"):
                time.sleep(STALL_S if fault == "stall" else 0)
                return
            if fault == "cut_response":
                client.sendall(answer_head + answer_body[: len(answer_body) // 2])
                return
            if taken is not None and fault == "rewrite_answer" and answer_head.split(b" ", 2)[1] == b"200":
                answer_head, answer_body = _rewritten(answer_head, answer_body, taken)
            client.sendall(answer_head + answer_body)


def _rewritten(head: bytes, body: bytes, fault: Fault) -> tuple[bytes, bytes]:
    """An answer with ``fault.headers`` put in place and, with ``reverse_body``, its body reversed."""
    lines = head.split(b"\r\n")
    for name, value in (fault.headers or {}).items():
        lines = [line for line in lines if line.split(b":", 1)[0].strip().lower() != name.lower().encode()]
        if value is not None:
            lines.insert(1, f"{name}: {value}".encode("latin-1"))
    return b"\r\n".join(lines), body[::-1] if fault.reverse_body else body


def _read_message(
    reader: BinaryIO, *, is_request: bool, method: str = "", client: socket.socket | None = None
) -> tuple[bytes, bytes, str, str] | None:
    """One HTTP message: its raw head, its raw body, and (requests) the method and path. A request that
    expects ``100 Continue`` gets it from the proxy at once, so the client sends its body."""
    first = reader.readline()
    if not first:
        return None
    lines = [first]
    while True:
        line = reader.readline()
        if not line:
            return None
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            break
    head = b"".join(lines)
    headers = {}
    for line in lines[1:-1]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    parts = first.decode("latin-1").split()
    request_method, path = (parts[0], parts[1]) if is_request else ("", "")
    status = 0 if is_request else int(parts[1])
    if not is_request and (method == "HEAD" or status in (204, 304) or 100 <= status < 200):
        return head, b"", request_method, path
    if client is not None and headers.get("expect", "").lower() == "100-continue":
        client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _read_chunked(reader)
    elif "content-length" in headers:
        body = _read_exactly(reader, int(headers["content-length"]))
    elif is_request:
        body = b""
    else:
        body = reader.read()  # until the server closes
    return head, body, request_method, path


def _read_exactly(reader: BinaryIO, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = reader.read(count - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _read_chunked(reader: BinaryIO) -> bytes:
    """A chunked body, raw (sizes, data and trailers), as it is forwarded unchanged."""
    out = []
    while True:
        size_line = reader.readline()
        out.append(size_line)
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while True:  # trailers, then the empty line
                line = reader.readline()
                out.append(line)
                if line in (b"\r\n", b"\n", b""):
                    return b"".join(out)
        out.append(_read_exactly(reader, size + 2))

"""Serve one client, the one that launched ``faber mcp``, on stdin and stdout.

The API runs inline on the event loop: the client waits for each answer anyway, and a thread hand-off
per call would only add latency. For the same reason answers are written by the event loop itself
(``StdoutWriter``) rather than by the SDK's transport, which hands every write and every flush to a
worker thread: two hand-offs, about ten context switches, per answer; and when stdin is a pipe (as
every MCP client launches a server) its lines are read by the event loop too (``PipeLines``) instead
of a worker thread's blocking reads. A line that is not a JSON-RPC message is answered with the error
JSON-RPC calls for (-32700 or -32600) rather than dropped in silence, and the next line is served.
When stdin ends, every request already read is answered before the server stops: a client may write
its requests and close its end (``faber mcp < requests.jsonl``) and still hear every answer.
"""

from __future__ import annotations

import fcntl
import os
import stat
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TextIO, cast

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError, JSONRPCRequest, JSONRPCResponse
from pydantic import ValidationError

from ..api import Faber
from .errors import logger
from .server import build_server, call_inline, freeze_startup_objects


def serve_stdio(faber: Faber, *, debug: bool = False, log: TextIO = sys.stderr) -> None:
    """Serve the client on our stdin and stdout until it closes them."""
    server = build_server(faber, blocking=call_inline, debug=debug)
    freeze_startup_objects()
    print(f"faber mcp: serving the runs of {faber.project.root} over stdio", file=log, flush=True)
    anyio.run(_run_stdio, server)


async def _run_stdio(server: MCPServer) -> None:
    """``MCPServer.run_stdio_async``, except that a line that is not a JSON-RPC message gets the
    JSON-RPC error it calls for instead of being dropped without a word."""
    lowlevel = server._lowlevel_server
    async with _stdio_streams() as (read_stream, write_stream):
        replies = CountAnswers(write_stream)
        messages = AnswerMalformedMessages(read_stream, replies)
        await lowlevel.run(messages, replies, lowlevel.create_initialization_options())


DRAIN_TIMEOUT_S = 60.0
"""How long the requests still in progress when stdin ends get to finish before the server stops."""


class CountAnswers:
    """The transport's outgoing messages, keeping the ids of the requests read and not yet answered,
    so that the end of stdin can wait for their answers instead of cancelling them."""

    def __init__(self, replies: Any) -> None:
        self._replies = replies
        self._unanswered: set[str | int] = set()
        self._all_answered = anyio.Event()
        self._all_answered.set()

    def read(self, item: Any) -> None:
        """Note a request the client sent."""
        if isinstance(item, SessionMessage) and isinstance(item.message, JSONRPCRequest):
            self._unanswered.add(item.message.id)
            self._all_answered = anyio.Event()

    async def send(self, item: Any) -> None:
        await self._replies.send(item)
        if isinstance(item, SessionMessage) and isinstance(item.message, JSONRPCResponse | JSONRPCError):
            self._unanswered.discard(item.message.id)
            if not self._unanswered:
                self._all_answered.set()

    async def all_answered(self) -> None:
        """Wait until every request read so far is answered (at most DRAIN_TIMEOUT_S)."""
        with anyio.move_on_after(DRAIN_TIMEOUT_S):
            await self._all_answered.wait()

    async def aclose(self) -> None:
        await self._replies.aclose()

    async def __aenter__(self) -> CountAnswers:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


@asynccontextmanager
async def _stdio_streams() -> AsyncIterator[tuple[Any, Any]]:
    """The SDK's ``stdio_server`` streams, writing through ``StdoutWriter`` and, when stdin is a pipe,
    reading through ``PipeLines`` (unless ``sys.stdout`` or ``sys.stdin`` is not fd 1 or 0: then
    through the SDK's own threaded writes or reads). While it serves, fd 1 writes to stderr and fd 0
    reads the null device, so nothing a backend or a child process reads or prints can touch the
    wire; both are restored at the end (the SDK does the same for the streams it handles)."""
    if not _is_fd(sys.stdout, 1):
        async with stdio_server() as streams:
            yield streams
        return
    sys.stdout.flush()
    with _claimed(1, lambda: os.dup(2)) as wire:
        stdout = cast("anyio.AsyncFile[str]", StdoutWriter(wire))
        if not _is_pipe(sys.stdin, 0):
            async with stdio_server(stdout=stdout) as streams:
                yield streams
            return
        with _claimed(0, lambda: os.open(os.devnull, os.O_RDONLY)) as wire_in:
            stdin = cast("anyio.AsyncFile[str]", PipeLines(wire_in))
            async with stdio_server(stdin=stdin, stdout=stdout) as streams:
                yield streams


def _is_fd(stream: TextIO, fd: int) -> bool:
    """True when ``stream`` reads or writes file descriptor ``fd``."""
    try:
        return stream.fileno() == fd
    except (AttributeError, OSError, ValueError):
        return False


def _is_pipe(stream: TextIO, fd: int) -> bool:
    """True when ``stream`` reads fd ``fd`` and that is a pipe or a socket (what the event loop can watch)."""
    if not _is_fd(stream, fd):
        return False
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@contextmanager
def _claimed(fd: int, open_diversion: Callable[[], int]) -> Iterator[int]:
    """A private descriptor for the wire behind ``fd``, with ``fd`` pointed at ``open_diversion()`` until
    the end (as the SDK's stdio transport does)."""
    wire = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    try:
        diversion = open_diversion()
        try:
            os.dup2(diversion, fd)
        finally:
            os.close(diversion)
        try:
            yield wire
        finally:
            os.dup2(wire, fd)
    finally:
        os.close(wire)


class PipeLines:
    """The lines arriving on a pipe, read by the event loop when the pipe is readable: no worker thread.
    As the SDK's transport reads them: UTF-8 with undecodable bytes replaced, and \\n, \\r\\n or \\r
    ending a line (each given back ending in \\n); a last line without an ending is given too."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._partial: list[bytes] = []  # the start of a line still arriving
        self._lines: deque[bytes] = deque()
        self._ended = False

    def __aiter__(self) -> PipeLines:
        return self

    async def __anext__(self) -> str:
        while not self._lines:
            if self._ended:
                raise StopAsyncIteration
            await anyio.wait_readable(self._fd)
            chunk = os.read(self._fd, 1 << 16)  # a readable pipe answers at once, with what it holds
            self._ended = not chunk
            if chunk and b"\n" not in chunk and b"\r" not in chunk:
                self._partial.append(chunk)  # a long line: joined once, when it ends
                continue
            data = b"".join([*self._partial, chunk])
            carry = b"\r" if chunk.endswith(b"\r") else b""  # perhaps the first half of a \r\n
            lines = data[: len(data) - len(carry)].replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
            *complete, rest = lines
            self._lines.extend(line + b"\n" for line in complete)
            self._partial = [rest + carry] if rest or carry else []
            if self._ended and rest:
                self._lines.append(rest)
        return self._lines.popleft().decode("utf-8", errors="replace")


class StdoutWriter:
    """Writes the answers from the event loop's own thread, each once it is flushed, as UTF-8 (as the
    SDK's transport does). The write blocks while the pipe is full: only until the client, the one
    reader, takes the bytes; the SDK's worker thread would wait just as long, and the client waits
    for the answer anyway."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pending: list[bytes] = []

    async def write(self, text: str) -> None:
        self._pending.append(text.encode("utf-8"))

    async def flush(self) -> None:
        data = memoryview(b"".join(self._pending))
        self._pending.clear()
        while data:
            data = data[os.write(self._fd, data):]


class AnswerMalformedMessages:
    """The transport's incoming messages, where a line that is not JSON (-32700 Parse error) or not a
    JSON-RPC message (-32600 Invalid Request) is answered on the spot and skipped, so the client hears
    why and the next message is served as usual."""

    def __init__(self, messages: Any, replies: CountAnswers) -> None:
        self._messages = messages
        self._replies = replies

    @property
    def last_context(self) -> Any:
        """The sender's context of the last message (what the SDK's dispatcher reads)."""
        return getattr(self._messages, "last_context", None)

    async def receive(self) -> Any:
        while True:
            try:
                item = await self._messages.receive()
            except anyio.EndOfStream:
                await self._replies.all_answered()  # stdin ended: answer what was asked before stopping
                raise
            if not isinstance(item, Exception):
                self._replies.read(item)
                return item
            await self._replies.send(malformed_message_reply(item))

    def __aiter__(self) -> AnswerMalformedMessages:
        return self

    async def __anext__(self) -> Any:
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

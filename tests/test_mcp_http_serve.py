"""``serve_http`` in process (so mutation testing sees it): the settings it wires into the SDK do what
listening.py's rule says, checked with real HTTP requests on 127.0.0.1. The subprocess tests of
test_mcp_http.py check the same through `faber mcp --transport http`, where no mutant can be seen.

The server runs in the test's main thread, as in the CLI; a client thread makes the requests, then
stops it as Ctrl-C does (SIGINT: uvicorn shuts down and raises it again, as KeyboardInterrupt)."""

from __future__ import annotations

import gc
import http.client
import io
import json
import os
import signal
import threading
from collections.abc import Callable

import pytest

from faber_host.api import Faber
from faber_host.mcp.listening import Listener, listen
from faber_host.mcp.streamable_http import serve_http

TOKEN = "s3cret-token-for-the-tests-0123456789"
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


def post(port: int, **headers: str) -> tuple[int, dict[str, str]]:
    """POST initialize to /mcp with these headers; the status and the answer's headers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/mcp", body=json.dumps(INITIALIZE), headers={
            "accept": "application/json, text/event-stream", "content-type": "application/json", **headers})
        # The body unread: a served one is an event stream, which sse_starlette ends at once in a process
        # where an earlier server was stopped (its exit flag is global).
        answer = connection.getresponse()
        return answer.status, {name.lower(): value for name, value in answer.getheaders()}
    finally:
        connection.close()


def serve(faber: Faber, listener: Listener, token: str | None, debug: bool,
          requests: Callable[[int], None]) -> str:
    """Run ``serve_http`` until ``requests`` (in a thread) is done; what it announced. Re-raises what
    the requests raised."""
    failures: list[BaseException] = []

    def client() -> None:
        try:
            requests(listener.port)
        except BaseException as problem:  # handed to the test's thread
            failures.append(problem)
        finally:
            os.kill(os.getpid(), signal.SIGINT)

    log = io.StringIO()
    thread = threading.Thread(target=client)
    thread.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            serve_http(faber, listener, token=token, debug=debug, log=log)
    finally:
        thread.join()
        gc.unfreeze()  # serve_http freezes what it built, for a long-lived server; not for a test process
        listener.socket.close()
    if failures:
        raise failures[0]
    return log.getvalue()


def test_on_loopback_without_a_token_host_and_origin_must_name_the_listener(faber: Faber) -> None:
    listener = listen("127.0.0.1", 0, None)

    def requests(port: int) -> None:
        assert post(port)[0] == 200
        for name in ("127.0.0.1", "localhost"):
            assert post(port, host=f"{name}:{port}", origin=f"http://{name}:{port}")[0] == 200, name
        for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1}"):
            assert post(port, host=host)[0] == 421, host
        for origin in (f"http://evil.example:{port}", f"https://127.0.0.1:{port}", f"127.0.0.1:{port}"):
            assert post(port, origin=origin)[0] == 403, origin

    announced = serve(faber, listener, None, False, requests)
    assert announced == (f"faber mcp: serving the runs of {faber.project.root} on http://127.0.0.1:{listener.port}/mcp "
                         "(Host and Origin must name this address)\n")


def token_requests(port: int) -> None:
    """Only ``Bearer <the token>`` is served: no token, an empty one, a prefix, an extension, one character off."""
    assert post(port, authorization=f"Bearer {TOKEN}")[0] == 200
    off_by_one = TOKEN[:5] + chr(ord(TOKEN[5]) + 1) + TOKEN[6:]
    for wrong in (None, "Bearer ", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN[:16]}", f"Bearer {TOKEN}x",
                  f"Bearer {off_by_one}", TOKEN):
        status, headers = post(port, **({"authorization": wrong} if wrong is not None else {}))
        assert status == 401, wrong
        assert headers["www-authenticate"].startswith("Bearer ")


def test_on_loopback_with_a_token_both_the_token_and_the_names_are_required(faber: Faber) -> None:
    listener = listen("127.0.0.1", 0, TOKEN)

    def requests(port: int) -> None:
        token_requests(port)
        assert post(port, host="evil.example", authorization=f"Bearer {TOKEN}")[0] == 421

    announced = serve(faber, listener, TOKEN, True, requests)
    assert announced.endswith(f" on http://127.0.0.1:{listener.port}/mcp (Host and Origin must name this address; "
                              "a bearer token is required)\n")


def test_elsewhere_the_token_guards_whatever_the_name(faber: Faber) -> None:
    """A listener that is not loopback (here one on 127.0.0.1 described as another address would be, so
    nothing listens beyond this machine) checks the token and no Host name: its clients may name it as
    they reach it."""
    listener = listen("127.0.0.1", 0, TOKEN)
    elsewhere = Listener(listener.socket, listener.address, listener.port, loopback=False)

    def requests(port: int) -> None:
        token_requests(port)
        assert post(port, host="faber.internal.example", authorization=f"Bearer {TOKEN}")[0] == 200

    announced = serve(faber, elsewhere, TOKEN, True, requests)
    assert announced.endswith(f" on http://127.0.0.1:{listener.port}/mcp (a bearer token is required)\n")


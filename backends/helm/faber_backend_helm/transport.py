"""One HTTP POST of an NDJSON batch within a deadline, and what its answer means. The standard library's
``http.client``, imported on first use, keeps this backend's only dependency faber-hookspecs."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import http.client

USER_AGENT = "faber-backend-helm/0.1"
RETRYABLE_STATUSES = frozenset({408, 425, 429})
"""Besides every 5xx: the service may take the same batch later."""
MAX_RESPONSE_BYTES = 65536


@dataclass(frozen=True)
class Delivery:
    """What became of one POST. ``retryable`` failures may succeed later unchanged (a refused
    connection, a timeout, a 5xx); the others need a change (an API key, a URL)."""

    ok: bool
    retryable: bool = True
    detail: str = ""
    status: int | None = None


class HelmClient:
    """Posts NDJSON batches to ``service_url``, with a bearer token when one is configured."""

    def __init__(self, service_url: str, api_key: str | None) -> None:
        parts = urlsplit(service_url)
        self.service_url = service_url
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.api_key = api_key

    def post(self, body: bytes, timeout: float) -> Delivery:
        """POST ``body`` (NDJSON lines; empty for a ping); never raise, and never take much longer than
        ``timeout``: socket timeouts do not bound a hanging name lookup or a trickling answer, so the POST runs in
        a daemon thread that is given up on at the deadline (the service de-duplicates if it took it anyway)."""
        outcome: list[Delivery] = []
        worker = threading.Thread(
            target=lambda: outcome.append(self._post(body, timeout)), name="faber-helm-post", daemon=True
        )
        worker.start()
        worker.join(timeout + 0.05)
        if outcome:
            return outcome[0]
        return Delivery(False, True, f"no answer from {self.service_url} within {timeout * 1000:.0f} ms")

    def _post(self, body: bytes, timeout: float) -> Delivery:
        import http.client

        deadline = time.monotonic() + timeout
        kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        connection = kind(self.host, self.port, timeout=timeout)
        headers = {"Content-Type": "application/x-ndjson", "User-Agent": USER_AGENT, "Connection": "close"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            connection.connect()
            _shrink_timeout(connection, deadline)
            connection.request("POST", self.target, body=body, headers=headers)
            _shrink_timeout(connection, deadline)
            response = connection.getresponse()
            _shrink_timeout(connection, deadline)
            text = response.read(MAX_RESPONSE_BYTES).decode("utf-8", "replace")
        except TimeoutError:
            return Delivery(False, True, f"no answer from {self.service_url} within {timeout * 1000:.0f} ms")
        except ConnectionRefusedError:
            return Delivery(False, True, f"{self.service_url} refused the connection")
        except (OSError, http.client.HTTPException) as problem:
            return Delivery(False, True, f"cannot reach {self.service_url}: {type(problem).__name__}: {problem}")
        finally:
            connection.close()
        status = response.status
        if 200 <= status < 300:
            return Delivery(True, False, f"{status} {response.reason}", status)
        retryable = status >= 500 or status in RETRYABLE_STATUSES
        detail = f"{self.service_url} answered {status} {response.reason}"
        if status in (401, 403):
            detail += " (check the API key)"
        snippet = " ".join(text.split())[:200]
        return Delivery(False, retryable, f"{detail}: {snippet}" if snippet else detail, status)


def _shrink_timeout(connection: http.client.HTTPConnection, deadline: float) -> None:
    """Give the next step only what is left of the deadline."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("deadline passed")
    if connection.sock is not None:
        connection.sock.settimeout(remaining)

"""After a failure, emits leave the service alone for a while (instead of each waiting for its timeout):
``.health.json`` in the outbox folder, shared by the project's processes, holds the consecutive failures
and ``retry_after``; the first success removes it."""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from faber_hookspecs.nofollow import open_beneath, refused
from faber_hookspecs.wire import utc_timestamp

from .config import RetryPolicy

HEALTH_FILE = ".health.json"


@dataclass(frozen=True)
class StreamHealth:
    """The outage as last recorded: consecutive failures, when to try again, and why it failed."""

    failures: int = 0
    retry_after: float = 0.0
    last_error: str | None = None
    since: str | None = None

    def blocks(self, now: float) -> bool:
        """True while emits should not try the service."""
        return self.failures > 0 and now < self.retry_after


class HealthRecord:
    def __init__(self, root: Path, policy: RetryPolicy) -> None:
        self.path = root / HEALTH_FILE
        self.policy = policy

    def read(self) -> StreamHealth:
        """The recorded outage, or a healthy record when there is none (or it is unreadable)."""
        try:
            with os.fdopen(open_beneath(self.path.parent, self.path.name, os.O_RDONLY), "rb") as file:
                document = json.loads(file.read())
            return StreamHealth(
                failures=int(document["failures"]), retry_after=float(document["retry_after"]),
                last_error=document.get("last_error"), since=document.get("since"),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return StreamHealth()

    def failed(self, error: str, now: float | None = None) -> StreamHealth:
        """Record one more consecutive failure; return the new record."""
        now = time.time() if now is None else now
        previous = self.read()
        failures = previous.failures + 1
        record = StreamHealth(
            failures=failures, retry_after=now + self.policy.delay_ms(failures) / 1000, last_error=error,
            since=previous.since or utc_timestamp(now),
        )
        self._write(record)
        return record

    def succeeded(self) -> None:
        """The service took a batch: clear the outage (cheap when there was none)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _write(self, record: StreamHealth) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{HEALTH_FILE}.{os.getpid()}.tmp")
        try:  # never through a link planted at the temporary name
            fd = open_beneath(self.path.parent, temporary.name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        except OSError as problem:
            raise refused(temporary, problem) from None
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(json.dumps(record.__dict__))
        os.replace(temporary, self.path)

"""Ctrl-C and SIGTERM during a run become ``RunCancelled`` in the main thread; inside ``shielded()`` (an
event being stored) the signal is held until the block ends, so a cancellation never tears the run's
bookkeeping. Later signals are ignored while it is recorded; outside the main thread it does nothing."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

from faber_hookspecs.execution import RunCancelled

CANCEL_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class CancelScope:
    """While active (``with CancelScope():``), SIGINT and SIGTERM raise ``RunCancelled``."""

    def __init__(self) -> None:
        self.cancelled: int | None = None
        self._depth = 0
        self._held = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> CancelScope:
        if threading.current_thread() is threading.main_thread():
            for signum in CANCEL_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    @contextmanager
    def shielded(self) -> Iterator[None]:
        """Hold signals back for the duration of the block; a held one is raised when it ends."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if self._depth == 0 and self._held:
            self._held = False
            assert self.cancelled is not None
            raise RunCancelled(self.cancelled)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.cancelled is not None:
            return  # already cancelling: let the cancellation be recorded
        self.cancelled = signum
        if self._depth:
            self._held = True
            return
        raise RunCancelled(signum)

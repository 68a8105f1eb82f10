"""Progress bars for uploads and downloads: drawn on a terminal (stderr), silent in pipes and files."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from faber_hookspecs.archive import ProgressCallback, no_progress


@contextmanager
def transfer_progress(enabled: bool = True) -> Iterator[ProgressCallback]:
    """A ``ProgressCallback`` that draws one bar per file while the block runs, when stderr is a
    terminal; otherwise one that does nothing. Safe to call from the backends' transfer threads."""
    if not enabled or not sys.stderr.isatty():
        yield no_progress
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    bars = Progress(TextColumn("{task.description:<14}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=Console(stderr=True), transient=True)
    tasks: dict[str, object] = {}
    lock = threading.Lock()

    def update(what: str, done: int, total: int) -> None:
        with lock:
            task = tasks.get(what)
            if task is None:
                task = tasks[what] = bars.add_task(what, total=total)
            bars.update(task, completed=done, total=total)  # type: ignore[arg-type]

    with bars:
        yield update

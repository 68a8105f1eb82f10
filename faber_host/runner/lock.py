"""One executing process per run: an flock (pid inside) on ``runners/{org}/{project}/{uuid}.lock``. The
kernel drops it however the process ends, so a crashed run can be resumed at once; it guards executing,
not storing, so it belongs to the host, not the record store."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from faber_hookspecs.errors import RunBusy, StorageError
from faber_hookspecs.run_id import RunId

from ..project import Project


class RunnerLock:
    """The lock of one run's executor; use ``with RunnerLock(project, run_id):``."""

    def __init__(self, project: Project, run_id: RunId) -> None:
        self.run_id = run_id
        self.path = project.faber_dir / "runners" / run_id.org / run_id.project / f"{run_id.uuid}.lock"
        self._fd: int | None = None

    def __enter__(self) -> RunnerLock:
        """Take the lock, or raise RunBusy naming the process that holds it."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError as problem:
            raise StorageError(f"cannot open {self.path}: {problem.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunBusy(self._busy_message()) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *_exc: object) -> None:
        """Let go of the lock (the file stays: deleting it would let two processes lock two files)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def holder(self) -> int | None:
        """The pid of the process executing the run now, or None. Takes nothing, writes nothing."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return None  # never locked, so never executed by `faber run`
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _pid_in(self.path) or -1
            return None
        finally:
            os.close(fd)

    def _busy_message(self) -> str:
        pid = _pid_in(self.path)
        who = f"process {pid}" if pid else "another process"
        return f"run {self.run_id} is being executed by {who} right now; wait for it to end or stop it first"


def busy_reason(project: Project, run_id: RunId) -> str | None:
    """Why the run cannot be taken over now (another process executes it), or None."""
    lock = RunnerLock(project, run_id)
    return lock._busy_message() if lock.holder() is not None else None


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None

"""The durable per-run outbox: events the Helm service has not taken yet, in sending order.

Under the outbox folder: ``.lock`` (short file operations), ``.send.lock`` (one sender at a time), and
per run ``{org}/{project}/{uuid}.ndjson`` (envelope lines, appended with one fsynced O_APPEND write)
and ``.cursor`` (bytes the service has taken, replaced atomically). When the cursor reaches the end both
go, the cursor first: a crash re-sends, never skips. A torn last line is cut before the next append.
Delivery is at-least-once; the service de-duplicates by (run_id, event_id)."""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from faber_hookspecs.errors import StorageError
from faber_hookspecs.nofollow import open_beneath, refused
from faber_hookspecs.run_id import RunId

from .envelope import line_key

FILE_MODE = 0o600
DIR_MODE = 0o700


@dataclass(frozen=True)
class Batch:
    """Lines read from a run's outbox, and the cursor value that marks them delivered."""

    run_id: str
    lines: list[bytes]
    end: int


class Outbox:
    def __init__(self, root: Path, *, sync: bool = True) -> None:
        self.root = root
        self.sync = sync

    def _paths(self, run_id: str) -> tuple[Path, Path]:
        run = RunId.parse(run_id)  # validated: a run id never becomes a path unchecked
        folder = self.root / run.org / run.project
        return folder / f"{run.uuid}.ndjson", folder / f"{run.uuid}.cursor"

    def _open(self, path: Path, flags: int, *, make_dirs: bool = False) -> int:
        """Open a file of the outbox without following a link below its folder (a link planted at a
        run's outbox file once made an append truncate and extend the file it pointed to)."""
        try:
            return open_beneath(self.root, path.relative_to(self.root).as_posix(), flags, FILE_MODE,
                                dir_mode=DIR_MODE if make_dirs else None)
        except FileNotFoundError:
            raise
        except OSError as problem:
            raise refused(path, problem) from None

    def _locked(self) -> contextlib.AbstractContextManager[bool]:
        """Held for the short file operations (append, advance, compact)."""
        return self._flock(".lock", wait=True)

    def sending(self, *, wait: bool) -> contextlib.AbstractContextManager[bool]:
        """Hold the right to send outbox lines. With ``wait=False``, yields False at once when another
        process holds it (that process will send what is there)."""
        return self._flock(".send.lock", wait=wait)

    @contextlib.contextmanager
    def _flock(self, name: str, *, wait: bool) -> Iterator[bool]:
        self.root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        fd = self._open(self.root / name, os.O_RDWR | os.O_CREAT)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def append(self, run_id: str, line: bytes) -> None:
        """Add one envelope line (ending in a newline) to the run's outbox, durably."""
        data_path, _ = self._paths(run_id)
        try:
            with self._locked():
                created = not os.path.lexists(data_path)
                fd = self._open(data_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, make_dirs=True)
                try:
                    if not created:
                        _cut_torn_tail(fd)
                    os.write(fd, line)
                    if self.sync:
                        os.fsync(fd)
                finally:
                    os.close(fd)
                if created and self.sync:
                    _fsync_dir(data_path.parent)
        except OSError as problem:
            raise StorageError(f"cannot write the event stream outbox {data_path}: {problem.strerror}") from None

    def advance(self, batch: Batch) -> None:
        """Mark ``batch`` delivered; remove the run's outbox when nothing is left in it."""
        data_path, cursor_path = self._paths(batch.run_id)
        with self._locked():
            try:
                size = os.lstat(data_path).st_size
            except FileNotFoundError:  # removed by hand meanwhile: nothing left to mark
                cursor_path.unlink(missing_ok=True)
                return
            if batch.end >= size:
                cursor_path.unlink(missing_ok=True)  # cursor first: a crash now re-sends, never skips
                data_path.unlink()
                if self.sync:
                    _fsync_dir(data_path.parent)
            else:
                self._replace(cursor_path, f"{batch.end}\n".encode())

    def compact(self, run_id: str) -> None:
        """Put the run's pending lines in event order, once each (concurrent emitters may have
        appended 8 before 7). Call with ``sending`` held; cheap when they already are."""
        data_path, cursor_path = self._paths(run_id)
        with self._locked():
            if not os.path.lexists(data_path):
                return
            lines = self._pending_lines(data_path, cursor_path)
            keys = [line_key(line)[1] for line in lines]
            if all(a < b for a, b in itertools.pairwise(keys)):
                return
            unique = {line_key(line)[1]: line for line in lines}
            self._replace(data_path, b"".join(unique[key] for key in sorted(unique)))
            cursor_path.unlink(missing_ok=True)

    def peek(self, run_id: str, limit: int) -> Batch | None:
        """The first ``limit`` pending lines of the run, or None when there are none."""
        data_path, cursor_path = self._paths(run_id)
        with self._locked():
            start = self._cursor(cursor_path, data_path)
            lines: list[bytes] = []
            end = start
            try:
                with os.fdopen(self._open(data_path, os.O_RDONLY), "rb") as source:
                    source.seek(start)
                    for line in source:
                        if not line.endswith(b"\n") or len(lines) >= limit:
                            break
                        lines.append(line)
                        end += len(line)
            except FileNotFoundError:
                return None
        return Batch(run_id, lines, end) if lines else None

    def pending(self, run_id: str) -> int:
        data_path, cursor_path = self._paths(run_id)
        if not os.path.lexists(data_path):
            return 0
        with self._locked():
            return len(self._pending_lines(data_path, cursor_path))

    def has_pending(self, run_id: str) -> bool:
        """True when the run has lines waiting (cheap: one stat when it has none)."""
        data_path, cursor_path = self._paths(run_id)
        try:
            size = os.lstat(data_path).st_size
        except FileNotFoundError:
            return False
        return size > self._cursor(cursor_path, data_path)

    def runs(self) -> list[str]:
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.glob("*/*/*.ndjson")):
            run_id = f"{path.parent.parent.name}/{path.parent.name}/{path.stem}"
            with contextlib.suppress(ValueError):
                found.append(str(RunId.parse(run_id)))
        return found

    def _pending_lines(self, data_path: Path, cursor_path: Path) -> list[bytes]:
        try:
            with os.fdopen(self._open(data_path, os.O_RDONLY), "rb") as source:
                source.seek(self._cursor(cursor_path, data_path))
                return [line for line in source if line.endswith(b"\n")]
        except FileNotFoundError:
            return []

    def _cursor(self, cursor_path: Path, data_path: Path) -> int:
        try:
            with os.fdopen(self._open(cursor_path, os.O_RDONLY), "rb") as source:
                value = int(source.read(64).decode("ascii").strip() or "0")
        except FileNotFoundError:
            return 0
        except (ValueError, UnicodeDecodeError, StorageError):
            return 0  # unreadable (or a link): send everything again rather than skip anything
        try:
            size = os.lstat(data_path).st_size
        except FileNotFoundError:
            return 0
        return value if 0 <= value <= size else 0

    def _replace(self, path: Path, data: bytes) -> None:
        temporary = path.with_name(f".{path.name}.tmp")
        fd = self._open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            os.write(fd, data)
            if self.sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        if self.sync:
            _fsync_dir(path.parent)

def _cut_torn_tail(fd: int) -> None:
    """Drop a last line without its newline: a crash interrupted its append, and it was never acked."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    end = size
    while end > 0:
        start = max(0, end - 65536)
        cut = os.pread(fd, end - start, start).rfind(b"\n")
        if cut >= 0:
            os.ftruncate(fd, start + cut + 1)
            return
        end = start
    os.ftruncate(fd, 0)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

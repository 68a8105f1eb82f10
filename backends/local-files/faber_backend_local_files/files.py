"""File primitives of the record store: locks, durable and atomic writes, safe reads.

Every open uses O_NOFOLLOW, so a symlink planted where a run's file should be is refused instead of
followed out of the runs folder.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import shutil
from collections.abc import Callable

from faber_hookspecs.errors import StorageError

_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


class FileLock:
    """``with FileLock(path)``: an flock on ``path`` (created if needed; ``dir_fd``: relative to that
    folder), exclusive, or ``shared`` for readers that must not see a write in progress; yields the fd.
    Each acquisition opens the file anew, so it excludes other threads too. The file is never deleted:
    that is how the FABER reference let concurrent writers lock different inodes."""

    def __init__(self, path: str, *, shared: bool = False, dir_fd: int | None = None) -> None:
        self.path = path
        self.shared = shared
        self.dir_fd = dir_fd
        self.fd = -1

    def __enter__(self) -> int:
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o600, dir_fd=self.dir_fd)
        except OSError as problem:
            raise StorageError(f"cannot open lock file {self.path}: {problem.strerror}") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX)
        except BaseException:
            os.close(self.fd)
            raise
        return self.fd

    def __exit__(self, *_exc_info: object) -> None:
        os.close(self.fd)  # closing the descriptor releases the lock


def is_same_file(fd: int, path: str) -> bool:
    """True when the open descriptor ``fd`` is the file now at ``path`` (not a replaced or removed one)."""
    try:
        current = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (opened.st_dev, opened.st_ino) == (current.st_dev, current.st_ino)


def read_bytes(path: str, dir_fd: int | None = None) -> bytes:
    """Read a whole regular file without following a symlink (OSError ELOOP if it is one);
    ``dir_fd``: ``path`` is relative to that open folder."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW, dir_fd=dir_fd)
    try:
        return _read_all(fd)
    finally:
        os.close(fd)


_SMALL_READ = 1 << 16  # under glibc's mmap threshold: os.read(fd, n) allocates n bytes before it reads


def _read_all(fd: int) -> bytes:
    """The rest of an open regular file. A short first read is the whole file (a regular file reads
    short only at its end), so a small file costs one system call, not two."""
    data = os.read(fd, _SMALL_READ)
    if len(data) < _SMALL_READ:
        return data
    chunks = [data]
    while chunk := os.read(fd, 1 << 20):  # a big file: big reads
        chunks.append(chunk)
    return data if len(chunks) == 1 else b"".join(chunks)


def read_counter(fd: int) -> int | None:
    """The counter at the start of an open counter file (``.next-id``), or None when unreadable."""
    try:
        data = os.pread(fd, 4096, 0)
        while len(data) % 4096 == 0 and (more := os.pread(fd, 4096, len(data))):  # not a counter, but read
            data += more  # it whole, as ``RunFolder.read_next_id`` does
        value = int(data)
    except (OSError, ValueError):
        return None
    return value if value >= 1 else None


def write_new_file(path: str, data: bytes, mode: int, sync: bool) -> None:
    """Write ``data`` to ``path`` (truncating it), optionally fsynced; remove it again on failure so no
    partial file stays behind (a full disk, for instance)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, mode)
    try:
        _write_all(fd, data)
        if sync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(path)
        raise
    os.close(fd)


class UnnamedFiles:
    """Files made nameless in a folder (O_TMPFILE) and named in one step later. Creating an inode is the
    costliest step of a commit on ext4, so the store does it before taking the run's lock, side by side
    with other writers; a writer killed before the link leaves nothing behind. Where unsupported, ``open``
    says None once and for all and the store writes ``.pending`` instead."""

    supported: bool | None = None  # decided on first use, once per process

    @classmethod
    def open(cls, folder: str, mode: int) -> int | None:
        """A nameless file in ``folder``, open for writing; None where unsupported."""
        if cls.supported is False:
            return None
        try:
            fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, mode)
        except OSError as problem:
            if problem.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                raise
            if problem.errno == errno.ENOENT and not os.path.isdir(folder):
                return None  # the folder went away (a cleanup): the caller finds out under its lock
            cls.supported = False  # (ENOENT on a folder that exists: a kernel without O_TMPFILE)
            return None
        cls.supported = True
        return fd

    @classmethod
    def link(cls, fd: int, path: str) -> bool:
        """Give the nameless file ``fd`` the name ``path`` (FileExistsError if taken: a link never
        overwrites); False where /proc is missing, the one way the system offers it to any user."""
        try:
            # src_dir_fd (ignored for an absolute path) makes os.link call linkat, whose
            # AT_SYMLINK_FOLLOW reaches the file behind /proc/self/fd/N instead of that link itself.
            os.link(f"/proc/self/fd/{fd}", path, src_dir_fd=fd, follow_symlinks=True)
        except FileNotFoundError:
            if os.path.isdir("/proc/self/fd"):
                raise
            cls.supported = False
            return False
        return True


def replace_atomically(path: str, data: bytes, mode: int, sync: bool) -> None:
    """Replace ``path`` with ``data`` in one step: readers see the old file or the new one, never a
    mix. Used for rare writes (metadata.json); the hot path uses ``RotatingFile``."""
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.tmp-{os.getpid()}")
    write_new_file(temporary, data, mode, sync)
    try:
        os.replace(temporary, path)
    except BaseException:
        _unlink_quietly(temporary)
        raise
    if sync:
        fsync_directory(directory)


def fsync_directory(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def overwrite_counter(path: str, value: int, mode: int) -> None:
    """Write ``value`` into a small counter file (``.next-id``) in place: a rename per event would halve
    emit throughput, and the counter is only a hint the store verifies (``RunFolder.recover``)."""
    text = b"%d\n" % value
    fd = _open_for_overwrite(path, mode)
    try:
        _pwrite_all(fd, text)
        if os.fstat(fd).st_size != len(text):
            os.ftruncate(fd, len(text))
    finally:
        os.close(fd)


class RotatingFile:
    """Replace a small file atomically without creating an inode per write (on ext4 that halved emit
    throughput): fill hidden buffer ``generation % 2`` in place, then swap it with the visible file in one
    ``renameat2(RENAME_EXCHANGE)``. A reader that keeps the file open across two more writes can see a
    mix; the store's ``read_consistent`` guards its readers with the event counter. Falls back to a rename."""

    _exchange_supported: bool | None = None  # decided once per process, on first use
    BUFFERS = 2

    def __init__(self, path: str, mode: int) -> None:
        self.path = path
        directory, name = os.path.split(path)
        self.buffers = [os.path.join(directory, f".{name}.swap{index}") for index in range(self.BUFFERS)]
        self.mode = mode

    def write(self, data: bytes, generation: int) -> None:
        """Make ``data`` the file's content, atomically (not fsynced: it is a cache)."""
        if RotatingFile._exchange_supported is False:
            replace_atomically(self.path, data, self.mode, sync=False)
            return
        buffer = self.buffers[generation % self.BUFFERS]
        fd = _open_for_overwrite(buffer, self.mode)
        try:
            _pwrite_all(fd, data)  # a short write (a full disk) raises here, before any exchange
            if os.fstat(fd).st_size > len(data):  # truncating to the same size still costs a journal entry
                os.ftruncate(fd, len(data))
        finally:
            os.close(fd)
        try:
            _exchange(buffer, self.path)
        except FileNotFoundError:
            os.rename(buffer, self.path)  # the first write: nothing to exchange with yet
        except OSError as problem:
            if problem.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            RotatingFile._exchange_supported = False
            os.rename(buffer, self.path)


def exchange_paths(first: str, second: str) -> bool:
    """Swap two paths (files or folders) in one atomic step; False where the system cannot."""
    try:
        _exchange(first, second)
    except OSError as problem:
        if problem.errno in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
            return False
        raise
    return True


def dead_leftovers(folder: str, prefixes: tuple[str, ...]) -> list[str]:
    """The names in ``folder`` that start with one of ``prefixes`` and end in ``-<pid>`` of a process
    that is gone: what a killed command left (staging folders, temporary files). A live process's,
    this process's included (another thread's restore), is never among them."""
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in names:
        if name.startswith(prefixes):
            pid = name.rpartition("-")[2]
            if pid.isdigit() and not process_alive(int(pid)):
                found.append(name)
    return sorted(found)


def remove_dead_leftovers(folder: str, prefixes: tuple[str, ...]) -> list[str]:
    """Remove ``dead_leftovers(folder, prefixes)`` (a link or file is unlinked, never followed);
    return their names."""

    removed = dead_leftovers(folder, prefixes)
    for name in removed:
        path = os.path.join(folder, name)
        try:
            os.unlink(path)  # a file, or a link planted under such a name
        except IsADirectoryError:
            shutil.rmtree(path, ignore_errors=True)
        except FileNotFoundError:
            pass
    return removed


def process_alive(pid: int) -> bool:
    """True when process ``pid`` exists (this one included), as far as this system can tell."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except (OverflowError, ValueError):  # not a pid at all
        return False
    return True


def sync_filesystem(path: str) -> None:
    """Make everything written to the filesystem holding ``path`` durable in one call (syncfs, else sync):
    after a restore's thousands of files, an fsync each would flush the disk each time."""
    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


_renameat2: Callable[..., int] | None = None


def _exchange(first: str, second: str) -> None:
    global _renameat2
    if _renameat2 is None:
        _renameat2 = _load_renameat2()
    if _renameat2(-100, os.fsencode(first), -100, os.fsencode(second), 2) != 0:  # AT_FDCWD, EXCHANGE
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), first)
    RotatingFile._exchange_supported = True


def _load_renameat2() -> Callable[..., int]:
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not Linux, or a libc without renameat2
        def unsupported(*_args: object) -> int:
            raise OSError(errno.ENOSYS, "renameat2 is not available")

        return unsupported
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def _open_for_overwrite(path: str, mode: int) -> int:
    """``path`` opened for writing in place (created if needed); a symlink planted there is removed
    (never its target) and the file created anew."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | _NOFOLLOW, mode)
    except OSError as problem:
        if problem.errno != errno.ELOOP:
            raise
    os.unlink(path)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, mode)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _pwrite_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` at offset 0. ``os.pwrite`` may write less than asked (a disk that fills up
    midway) and only the next call raises: without the loop, the ftruncate that follows would pad the
    file with zeros and a torn state.json would be swapped in."""
    view = memoryview(data)
    offset = 0
    while offset < len(data):
        offset += os.pwrite(fd, view[offset:], offset)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

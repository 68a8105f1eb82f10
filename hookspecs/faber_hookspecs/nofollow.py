"""Open files beneath a backend's folder without following a symbolic link below it.

A link planted under ``.fractary/`` (by hand, or arriving with a clone) must never lead a write, or a
read that is sent elsewhere, out of the project. The folder a backend is configured with is taken as
given; every part below it is opened with ``O_NOFOLLOW``, relative to the part before (``dir_fd``),
so a link anywhere on the way fails with ``ELOOP`` or ``ENOTDIR`` instead of being followed. For
backends that depend only on this contract (the Helm stream, the JSON Lines mirror); the record
store has its own primitives in ``faber_backend_local_files.files``. Standard library only.
"""

from __future__ import annotations

import errno
import os

from .errors import StorageError

NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | NOFOLLOW


def open_beneath(root: str | os.PathLike[str], relative: str, flags: int, mode: int = 0o600,
                 *, dir_mode: int | None = None) -> int:
    """Open ``relative`` (plain names joined by ``/``) beneath the folder ``root``, following no link
    below ``root``; returns the descriptor. With ``dir_mode``, missing folders on the way are made.
    Raises OSError (``ELOOP``/``ENOTDIR`` for a link, see ``refused``)."""
    *folders, name = relative.split("/")
    if not name or any(part in ("", ".", "..") for part in [*folders, name]):
        raise OSError(errno.EINVAL, "not a plain relative path", relative)
    at = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for folder in folders:
            if dir_mode is not None:
                try:
                    os.mkdir(folder, dir_mode, dir_fd=at)
                except FileExistsError:
                    pass
            inner = os.open(folder, _DIRECTORY, dir_fd=at)
            os.close(at)
            at = inner
        return os.open(name, flags | NOFOLLOW, mode, dir_fd=at)
    finally:
        os.close(at)


def is_link_refusal(problem: OSError) -> bool:
    """True when ``problem`` is ``open_beneath`` refusing a symbolic link (or a file where a folder
    should be) rather than an ordinary failure."""
    return problem.errno in (errno.ELOOP, errno.ENOTDIR)


def refused(path: object, problem: OSError) -> StorageError:
    """The one-line error for a path faber would not open: a link, or another failure."""
    if is_link_refusal(problem):
        return StorageError(
            f"{path} is (or passes through) a symbolic link or not a folder; faber never follows links "
            "under .fractary/: remove it and try again"
        )
    return StorageError(f"cannot open {path}: {problem.strerror or problem}")

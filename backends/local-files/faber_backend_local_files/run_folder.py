"""One run's folder, in the FABER reference layout, and the operations on its files.

    runs/{org}/{project}/{uuid}/
    ├── state.json          a checkpoint of reduce(events), replaced atomically, never ahead of the log
    ├── metadata.json       replaced atomically
    └── events/
        ├── .next-id        the next event id (a hint the store verifies)
        ├── .lock           the run's lock file, never deleted; it notes the last commit begun
        ├── .pending        the event being committed, where the system has no nameless files
        └── 001-workflow_start.json ...   ordered by their number, not by name (1000 after 999)

How an event is committed. Before the run's lock is taken, a nameless file is made in the events
folder (O_TMPFILE: creating an inode is the costliest step, and outside the lock concurrent writers
make theirs side by side). Under the lock: the commit is noted in the lock file (its id, type and the
system's boot id), the event's bytes go to the nameless file (fsynced), which is linked under its
final name (the commit point; a link never overwrites), ``.next-id`` is advanced and, when a
checkpoint is due (``store.checkpoint_due``), state.json is rewritten. Then, with the lock released,
the directory is fsynced before the event is acknowledged: concurrent writers' directory fsyncs
overlap and the file system commits them together (a group commit), and one covering a later link
covers every earlier one, since links are made in id order under the lock.

A writer killed at any instant leaves no trace (a nameless file is freed with its descriptor) or an
event linked before the counter was advanced, which the next writer finds in O(1) from the lock file
it holds open anyway: the noted event exists, so the counter is brought forward. Where the system
has no nameless files (or no /proc to link them by), the bytes go to ``.pending`` under the lock and
it is linked instead; a writer killed then leaves a ``.pending`` that the next writer inspects in
O(1): if its final name exists the event was committed and the counter is brought forward,
otherwise it is dropped. No directory listing is needed on the emit path, except by the first writer
into a run after the system restarted (a power cut may have left the counter behind the events).
"""

from __future__ import annotations

import errno
import fcntl
import functools
import hashlib
import heapq
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from faber_hookspecs.errors import StorageError
from faber_hookspecs.wire import loads

from .files import (
    _NOFOLLOW,
    FileLock,
    RotatingFile,
    UnnamedFiles,
    _unlink_quietly,
    _write_all,
    fsync_directory,
    is_same_file,
    overwrite_counter,
    read_bytes,
    read_counter,
    replace_atomically,
    write_new_file,
)

EVENT_FILE_RE = re.compile(r"([0-9]+)-(.+)\.json")
"""The name of an event file."""


class EventFile(NamedTuple):
    """An event file found in ``events/``: its id, type and name; sorted as the tuple of the three."""

    event_id: int
    type: str
    name: str


class RunLock:
    """The exclusive lock of one run.

    It is ``events/.lock`` while the events are here and ``archive/.lock`` once they were archived
    and removed. A cleanup or a restore switches between the two while holding both, so a waiter
    checks, once it holds a lock, that the file it locked is still the run's lock, and otherwise
    takes the current one.
    """

    def __init__(self, folder: RunFolder, events_here: bool | None = None) -> None:
        self.folder = folder
        self._held: FileLock | None = None
        self.events_here = events_here  # whether the events were here when locked; before, a guess

    def __enter__(self) -> None:
        folder = self.folder
        events_here = self.events_here  # the caller's fresh look, if any: it only picks the lock to try
        while True:
            if events_here is None:
                events_here = os.path.isdir(folder.events_dir)
            if not events_here:
                folder.check_archive_folder()
            path = folder.lock_file if events_here else folder.archive_lock_file
            lock = FileLock(path)
            fd = lock.__enter__()
            # The events lock still at its path proves the events folder stands (its path leads there);
            # the archive lock needs a look that the events were not restored meanwhile.
            if is_same_file(fd, path) and (events_here or not os.path.isdir(folder.events_dir)):
                self._held = lock
                self.events_here = events_here
                return
            lock.__exit__(None, None, None)
            events_here = None

    def __exit__(self, *exc_info: object) -> None:
        if self._held is not None:
            self._held.__exit__(*exc_info)
            self._held = None

    # The lock file also holds the last commit a writer began: ``<id> <type> <boot id>``, written
    # before the event file is linked, so that the next writer learns in O(1), from a file it has open
    # anyway, of an event linked by a writer killed before it advanced the counter; and, by the boot
    # id, whether the system restarted since (see ``RunFolder.settled_next_id``).

    def record_commit(self, event_id: int, kind: str) -> None:
        """Note, with the lock held, that event ``event_id`` of type ``kind`` is being committed."""
        assert self._held is not None
        # A line: a longer older note may follow it, and is ignored.
        os.pwrite(self._held.fd, b"%d %s %s\n" % (event_id, kind.encode(), boot_id().encode()), 0)

    def last_commit(self) -> tuple[int, str, str] | None:
        """The commit ``record_commit`` last noted (id, type, boot id), or None (never noted, or the
        file holds something else)."""
        assert self._held is not None
        try:
            return commit_note(os.pread(self._held.fd, 256, 0))
        except OSError:
            return None


def commit_note(data: bytes) -> tuple[int, str, str] | None:
    """The commit noted at the start of a run's lock file (id, type, boot id), or None."""
    try:
        number, kind, boot = data.split(b"\n", 1)[0].decode().split(" ")
        event_id = int(number)
    except ValueError:
        return None
    if event_id < 1 or not kind or "/" in kind or kind.startswith("."):
        return None  # not a name this store ever made: never let the lock file steer a path
    return event_id, kind, boot


SCRIPT_IDS_AHEAD = 64
"""How far ahead of the event files a counter moved by scripts is trusted: ids they allocated and have
not written yet. Further ahead is a counter set by hand, never trusted into a gap."""

SCRIPT_LOCK_MARK = b"faber\n"
"""What ``events/.next-id.lock`` holds after a faber commit. The FABER reference's emit-event.sh
opens that file truncating it (and deletes it after use), so a file without this mark tells that a
script wrote into the run since faber's last commit."""


@functools.cache
def boot_id() -> str:
    """This boot of the system (Linux's random boot id); empty where unknown."""
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as file:
            return file.read(100).strip().decode("ascii", "replace")
    except OSError:
        return ""


class RunFolder:
    """Paths and file operations of one run. Creating the object touches no file."""

    def __init__(self, path: str, file_mode: int, sync: bool) -> None:
        # Plain concatenation, not os.path.join: ``runs list`` makes one of these per run.
        path = path.rstrip("/") or "/"
        self.path = path
        self.events_dir = path + "/events"
        self.state_file = path + "/state.json"
        self.metadata_file = path + "/metadata.json"
        self.next_id_file = self.events_dir + "/.next-id"
        self.lock_file = self.events_dir + "/.lock"
        self.script_lock_file = self.events_dir + "/.next-id.lock"  # the FABER reference scripts' lock
        self.ledger_file = self.events_dir + "/.faber-ledger"
        self.pending_file = self.events_dir + "/.pending"
        self.manifest_file = path + "/archive/manifest.json"
        self.archive_lock_file = path + "/archive/.lock"
        self.file_mode = file_mode
        self.sync = sync
        self._state: RotatingFile | None = None  # made on the first write: readers never need it

    def check_archive_folder(self) -> None:
        """Refuse a run whose ``archive`` is a symbolic link or not a folder: the run's lock, its bundle
        and a cleanup's removals would otherwise go through it, out of the runs folder."""
        try:
            found = os.lstat(self.path + "/archive")
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(found.st_mode):
            what = "a symbolic link" if stat.S_ISLNK(found.st_mode) else "not a folder"
            raise StorageError(f"the archive folder of run folder {self.path} is {what}; faber never writes "
                               "through it: move it away and try again")

    def events_removed(self) -> bool:
        """True when the run's events were archived and removed here (its manifest stays)."""
        return not os.path.isdir(self.events_dir) and os.path.isfile(self.manifest_file)

    def lock(self, events_here: bool | None = None) -> RunLock:
        """The run's exclusive lock (processes and threads): a context manager; see ``RunLock``.
        ``events_here``: whether the caller just saw the events folder (spares looking again)."""
        return RunLock(self, events_here)

    def recover(self) -> int | None:
        """Finish or drop a commit a killed writer left half done; call with the lock held.

        Returns the id of an event that turned out to be committed (the counter is then brought
        forward), or None.
        """
        try:
            data = read_bytes(self.pending_file)
        except FileNotFoundError:
            return None
        except OSError as problem:
            if problem.errno != errno.ELOOP:
                raise StorageError(f"cannot read {self.pending_file}: {problem.strerror}") from None
            os.unlink(self.pending_file)  # a planted symlink is never a commit of ours: drop the link only
            return None
        committed = None
        try:
            event = loads(data)
            event_id, kind = int(event["event_id"]), str(event["type"])
        except (ValueError, KeyError, TypeError, RecursionError):  # (a planted file of a million '[')
            event_id = None  # torn: it never reached its final name, since the link comes after the write
        if event_id is not None and os.path.lexists(os.path.join(self.events_dir, event_file_name(event_id, kind))):
            committed = event_id
            if (self.read_next_id() or 0) <= event_id:
                overwrite_counter(self.next_id_file, event_id + 1, self.file_mode)
        os.unlink(self.pending_file)
        return committed

    def read_next_id(self) -> int | None:
        """The counter in ``.next-id``, or None when it is missing or unreadable."""
        return read_next_id(self.next_id_file)

    def next_id(self) -> int:
        """The id the next event gets: the counter, or one past the highest file when the counter is
        missing or unreadable (found by listing the folder, which only happens after damage)."""
        counted = self.read_next_id()
        return counted if counted is not None else self.scanned_next_id()

    def take_script_lock(self) -> tuple[int, bool]:
        """Take the lock the FABER reference's emit-event.sh allocates ids under (``flock`` on
        ``events/.next-id.lock``), so that a script and faber never read the same counter; with the
        run's lock held. Returns its descriptor (closing it releases the lock) and whether a script
        wrote since faber's last commit (``SCRIPT_LOCK_MARK`` missing). The script deletes the file
        after use: a lock on a file no longer at the path is taken again on the current one."""
        while True:
            try:
                fd = os.open(self.script_lock_file, os.O_RDWR | os.O_CREAT | _NOFOLLOW, self.file_mode)
            except OSError as problem:
                raise _storage_error(f"cannot open {self.script_lock_file}", problem) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if is_same_file(fd, self.script_lock_file):
                    return fd, os.pread(fd, 64, 0) != SCRIPT_LOCK_MARK
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    @staticmethod
    def mark_script_lock(fd: int) -> None:
        """Note in the held script lock that faber committed last (see ``take_script_lock``)."""
        os.pwrite(fd, SCRIPT_LOCK_MARK, 0)
        os.ftruncate(fd, len(SCRIPT_LOCK_MARK))

    def record_in_ledger(self, event_id: int, kind: str, data: bytes, *, start: bool) -> None:
        """Note a commit in ``events/.faber-ledger`` (``<id> <type> <sha256 of the file>``), once
        another writer was seen in the run (``start``): the FABER reference's scripts can take an id
        faber took and overwrite its file (their locking deletes its own lock file), and
        ``faber runs verify`` finds such an event by its line here."""
        flags = os.O_WRONLY | os.O_APPEND | _NOFOLLOW | (os.O_CREAT if start else 0)
        try:
            fd = os.open(self.ledger_file, flags, self.file_mode)
        except FileNotFoundError:
            return  # no other writer ever seen here: nothing to keep
        try:
            _write_all(fd, b"%d %s %s\n" % (event_id, kind.encode(), hashlib.sha256(data).hexdigest().encode()))
        finally:
            os.close(fd)

    def ledger(self) -> list[tuple[int, str, str]]:
        """The commits ``record_in_ledger`` noted: (id, type, sha256), in order."""
        try:
            data = read_bytes(self.ledger_file)
        except FileNotFoundError:
            return []
        entries = []
        for line in data.decode("utf-8", "replace").splitlines():
            parts = line.split(" ")
            if len(parts) == 3 and parts[0].isdigit() and "/" not in parts[1] and not parts[1].startswith("."):
                entries.append((int(parts[0]), parts[1], parts[2]))
        return entries

    def foreign_commit(self) -> bool:
        """Without any lock, cheaply: whether the counter has moved past faber's last noted commit
        (another writer, such as the FABER reference's scripts, added events since). False when no
        commit of this boot is noted."""
        try:
            note = commit_note(read_bytes(self.lock_file)[:256])
        except OSError:
            return False
        if note is None or note[2] != boot_id():
            return False
        counter = self.read_next_id()
        return counter is not None and counter > note[0] + 1

    def settled_next_id(self, lock: RunLock, *, scripts: bool = False) -> int:
        """Under the run's ``lock``: finish or drop what a killed writer left (``.pending``, or an event
        it linked without advancing the counter), and return the id the next event gets. O(1), except
        on the first commit into the run since the system started, and when the counter disagrees
        with the last commit noted (a counter set ahead by hand would otherwise open a gap).

        Neither the counter nor the note in the lock file is fsynced (the events and their names are):
        after a power cut either may hold an older value than the events on disk, and a counter
        behind could give the next event the id of one whose type differs (a link refuses only the
        same name). A note from another boot, or none, sends the writer to the files themselves,
        once per run and boot; the commit then notes this boot.

        ``scripts``: a FABER reference script used the run since faber's last commit. Its counter is
        then trusted when a little ahead of the files (``SCRIPT_IDS_AHEAD``: an id a script allocated
        but has not written yet must not be taken), and the files when ahead of the counter."""
        self.recover()
        if scripts:
            # The counter's id is taken at once, before the folder is listed: a script holding a lock
            # on a file it found deleted (its own locking's flaw) reads the counter without waiting for
            # ours, and must find the next id there.
            counted = self.read_next_id() or 1
            overwrite_counter(self.next_id_file, counted + 1, self.file_mode)
            scanned = self.scanned_next_id()
            next_id = counted if scanned <= counted <= scanned + SCRIPT_IDS_AHEAD else scanned
            if next_id != counted:
                overwrite_counter(self.next_id_file, next_id + 1, self.file_mode)
            return next_id
        began = lock.last_commit()
        if began is None or began[2] != boot_id():
            return self._counter_from_files()
        next_id = self.next_id()
        event_id, kind, _ = began
        if next_id in (event_id, event_id + 1):
            if os.path.lexists(self.events_dir + "/" + event_file_name(event_id, kind)):
                if next_id == event_id:  # linked, counter not advanced
                    overwrite_counter(self.next_id_file, event_id + 1, self.file_mode)
                return event_id + 1
            if next_id == event_id:  # killed before the link: the id is still free
                return next_id
        # The counter disagrees with the last commit (set by hand, copied from elsewhere, absurd):
        # never trust it into a gap. The id after the last event file is the one the store would give.
        return self._counter_from_files()

    def _counter_from_files(self, at_least: int = 1) -> int:
        """One past the last event file (or ``at_least``), written to ``.next-id`` when it says otherwise."""
        next_id = max(self.scanned_next_id(), at_least)
        if self.read_next_id() != next_id:
            overwrite_counter(self.next_id_file, next_id, self.file_mode)
        return next_id

    def scanned_next_id(self) -> int:
        """One past the highest event file's id, by listing the folder."""
        last = 0
        for file in self.sorted_event_files():
            last = file.event_id
        return last + 1

    def open_event_file(self) -> int | None:
        """A nameless file in the events folder for the next event, made before the run's lock is
        taken (see ``UnnamedFiles``), or None where the system cannot (the commit uses ``.pending``)."""
        try:
            return UnnamedFiles.open(self.events_dir, self.file_mode)
        except OSError as problem:
            raise _storage_error(f"could not write an event of run {self.path}", problem) from None

    def commit_event(self, event_id: int, kind: str, data: bytes, *, sync_directory: bool = True,
                     lock: RunLock | None = None, unnamed: int | None = None) -> bool:
        """Make an event file appear under its final name, durably; see the module docstring.

        The commit is noted in ``lock`` (see ``RunLock.record_commit``) when given. ``unnamed`` (from
        ``open_event_file``, used once) is filled and linked under the final name; without it, the
        event goes through ``.pending``. Returns whether it did (``finish_commit`` then removes it).
        ``sync_directory=False`` leaves the folder's fsync to the caller (``sync_events``), who does
        it after letting go of the run's lock: see ``LocalRunStore.append``."""
        name = event_file_name(event_id, kind)
        final = self.events_dir + "/" + name
        if lock is not None:
            try:
                lock.record_commit(event_id, kind)
            except OSError as problem:
                raise _storage_error(f"could not write event {event_id} of run {self.path}", problem) from None
        if unnamed is not None and self._commit_unnamed(event_id, data, final, unnamed):
            if sync_directory:
                self.sync_events(event_id)
            return False
        try:
            write_new_file(self.pending_file, data, self.file_mode, self.sync)
        except OSError as problem:
            raise _storage_error(f"could not write event {event_id} of run {self.path}", problem) from None
        try:
            os.link(self.pending_file, final)
        except FileExistsError:
            os.unlink(self.pending_file)
            raise CounterBehind(event_id) from None
        except OSError as problem:  # no room for the directory entry, or a folder made read-only
            _unlink_quietly(self.pending_file)
            raise _storage_error(f"could not write event {event_id} of run {self.path}", problem) from None
        if sync_directory:
            self.sync_events(event_id)
        return True

    def _commit_unnamed(self, event_id: int, data: bytes, final: str, fd: int) -> bool:
        """``commit_event`` through a nameless file; False where /proc is missing (nothing linked)."""
        try:
            _write_all(fd, data)
            if self.sync:
                os.fsync(fd)
            linked = UnnamedFiles.link(fd, final)
        except FileExistsError:
            raise CounterBehind(event_id) from None
        except OSError as problem:  # a full disk, no room for the directory entry, a read-only folder
            raise _storage_error(f"could not write event {event_id} of run {self.path}", problem) from None
        return linked

    def sync_events(self, event_id: int) -> None:
        """Make the events folder's entries durable (with ``sync``), up to and including event
        ``event_id``'s link."""
        if not self.sync:
            return
        try:
            fsync_directory(self.events_dir)
        except OSError as problem:
            # The event is linked but maybe not durable: say so rather than acknowledge it. A retry
            # gets the next id (the event counts as committed).
            raise _storage_error(
                f"event {event_id} of run {self.path} was written but could not be made durable", problem
            ) from None

    def finish_commit(self, next_id: int, *, pending: bool = True) -> None:
        """Advance the counter (never back: a FABER reference script may have moved it on meanwhile)
        and drop ``.pending`` (when the commit went through it) once the event is committed."""
        if (self.read_next_id() or 0) < next_id:
            overwrite_counter(self.next_id_file, next_id, self.file_mode)
        if pending:
            os.unlink(self.pending_file)

    def event_files(self) -> list[EventFile]:
        """Every event file, sorted by id (numerically: 1000 comes after 999), then type and name."""
        return list(self.sorted_event_files())

    def sorted_event_files(self, since_id: int = 0) -> Iterator[EventFile]:
        """The event files with ids above ``since_id``, in ``event_files`` order, listed in little
        memory: a million events take a few megabytes, not a few hundred.

        A file named as the store names them (``{id:03d}-{type}.json``) is kept only as its type,
        interned, in a list slot indexed by its id; the rest (other paddings, two files of one id, an
        id far beyond the count, as a damaged or foreign run may hold) are sorted on the side and
        merged in.
        """
        fullmatch = EVENT_FILE_RE.fullmatch
        intern = sys.intern
        slots: list[str | None] = []
        others: list[EventFile] = []
        count = 0
        try:
            entries = os.scandir(self.events_dir)
        except FileNotFoundError:
            return
        with entries:
            for entry in entries:
                match = fullmatch(entry.name)
                if not match:
                    continue
                event_id = int(match[1])
                if event_id <= since_id:
                    continue
                count += 1
                index = event_id - since_id - 1
                if match[1] != f"{event_id:03d}" or index > 2 * count + 1024:
                    others.append(EventFile(event_id, match[2], entry.name))
                    continue
                if index >= len(slots):
                    slots.extend([None] * (index + 1 - len(slots)))
                taken = slots[index]
                if taken is None:
                    slots[index] = intern(match[2])
                else:  # two files of one id: both go to the side
                    slots[index] = ""
                    if taken:
                        others.append(EventFile(event_id, taken, f"{event_id:03d}-{taken}.json"))
                    others.append(EventFile(event_id, match[2], entry.name))
        others.sort()

        def slotted() -> Iterator[EventFile]:
            for index, kind in enumerate(slots):
                if kind:
                    event_id = index + since_id + 1
                    yield EventFile(event_id, kind, f"{event_id:03d}-{kind}.json")

        yield from heapq.merge(slotted(), others) if others else slotted()

    def read_event(self, name: str) -> dict[str, Any]:
        """Parse one event file (ValueError or OSError when it is unreadable)."""
        data = read_bytes(os.path.join(self.events_dir, name))
        try:
            event = loads(data)
        except RecursionError:  # a hostile file of a million '[': refuse it, do not crash on it
            raise ValueError("nested too deeply") from None
        if not isinstance(event, dict):
            raise ValueError("not a JSON object")
        return event

    def iter_events(self, since_id: int = 0) -> Iterator[dict[str, Any]]:
        """Events with ``event_id > since_id`` in id order, read one at a time. A file that cannot be
        read as a JSON object stops the iteration with a StorageError naming it."""
        for file in self.sorted_event_files(since_id):
            try:
                event = self.read_event(file.name)
            except (OSError, ValueError) as problem:
                raise StorageError(
                    f"event file {file.name} of run folder {self.path} {describe_unreadable(problem)}; "
                    "`faber runs verify` lists the damage and `faber runs repair` sets such files aside"
                ) from None
            yield event

    def write_state(self, data: bytes, last_event_id: int) -> None:
        """Replace state.json atomically (not fsynced: it is rebuilt from the events if lost)."""
        if self._state is None:
            self._state = RotatingFile(self.state_file, self.file_mode)
        self._state.write(data, last_event_id)

    def state_size(self) -> int:
        """The size of state.json in bytes (0 when there is none), which sets how often it is rewritten."""
        try:
            return os.stat(self.state_file, follow_symlinks=False).st_size
        except OSError:
            return 0

    def read_state(self, parse: Callable[[bytes], Any] = loads) -> tuple[dict[str, Any] | None, int | None]:
        """state.json as it stands between writes and the event counter read with it, without taking
        the run's lock (read by ``parse``); see ``read_state``."""
        return read_state(self.state_file, self.next_id_file, self.lock_file, parse)

    def write_metadata(self, data: bytes) -> None:
        """Replace metadata.json atomically and durably."""
        try:
            replace_atomically(self.metadata_file, data, self.file_mode, self.sync)
        except OSError as problem:
            raise _storage_error(f"could not write {self.metadata_file}", problem) from None


def read_json(path: str, parse: Callable[[bytes], Any] = loads, dir_fd: int | None = None) -> dict[str, Any] | None:
    """A JSON object file, or None when it is missing or not a JSON object (``dir_fd``: ``path`` is
    relative to that open folder)."""
    try:
        document = parse(read_bytes(path, dir_fd))
    except (OSError, ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def read_next_id(next_id_file: str, dir_fd: int | None = None) -> int | None:
    """The counter in a ``.next-id`` file, or None when it is missing or unreadable."""
    try:
        value = int(read_bytes(next_id_file, dir_fd))
    except (OSError, ValueError):
        return None
    return value if value >= 1 else None


def read_state(
    state_file: str, next_id_file: str, lock_file: str, parse: Callable[[bytes], Any] = loads,
    dir_fd: int | None = None,
) -> tuple[dict[str, Any] | None, int | None]:
    """A run's state.json as it stands between writes, and the event counter (None when unreadable)
    read with it, without taking the run's lock, read by ``parse`` (``dir_fd``: the paths are relative
    to that open folder, which spares resolving the runs folder's path twice per run when ``runs list``
    reads thousands of states). state.json may be behind the counter: it is a checkpoint, brought up
    to date by the events after it (``LocalRunStore.current_state``).

    A seqlock on the event counter: a writer advances ``.next-id`` before it rewrites a state buffer,
    and the file a reader opened is rewritten only by the second state write after it was replaced,
    so an unchanged counter around the read proves no write tore it. After a few tries (a busy run)
    it reads under a shared lock.
    """
    for _ in range(3):
        # The counter is rewritten in place (never replaced while its folder stands), so reading it
        # twice through one descriptor says what reading its path twice does, for fewer system calls.
        try:
            counter = os.open(next_id_file, os.O_RDONLY | _NOFOLLOW, dir_fd=dir_fd)
        except OSError:
            counter = None
        try:
            before = read_counter(counter) if counter is not None else None
            state = read_json(state_file, parse, dir_fd)
            after = read_counter(counter) if counter is not None else read_next_id(next_id_file, dir_fd)
        finally:
            if counter is not None:
                os.close(counter)
        if before == after:
            return state, before
    with FileLock(lock_file, shared=True, dir_fd=dir_fd):
        return read_json(state_file, parse, dir_fd), read_next_id(next_id_file, dir_fd)


class CounterBehind(Exception):
    """The event file for the counter's id already exists: ``.next-id`` was damaged or restored."""


def event_file_name(event_id: int, kind: str) -> str:
    """``001-workflow_start.json``: at least three digits, as the FABER reference names them."""
    return f"{event_id:03d}-{kind}.json"


def describe_unreadable(problem: OSError | ValueError) -> str:
    """Why a run's file could not be read, for a person: ``is a symbolic link...``."""
    if isinstance(problem, OSError):
        if problem.errno == errno.ELOOP:
            return "is a symbolic link, and faber never follows links inside a run folder"
        if problem.errno == errno.EISDIR:
            return "is a folder, not a file"
        return f"cannot be read: {problem.strerror or problem}"
    if isinstance(problem, UnicodeDecodeError):
        return "is not text (binary data)"
    return f"is not a valid JSON object ({problem})"


def _storage_error(what: str, problem: OSError) -> StorageError:
    if problem.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(f"{what}: the disk is full; free some space and try again")
    if problem.errno == errno.EFBIG:
        return StorageError(f"{what}: the file size limit was reached")
    return StorageError(f"{what}: {problem.strerror or problem}")

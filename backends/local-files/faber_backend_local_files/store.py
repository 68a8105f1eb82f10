"""The record store on local files: runs, their event logs and their state, as plain JSON objects.

This is the record of truth. It works on the JSON objects themselves (not pydantic models);
``plugin.py`` wraps it in the hook interface.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from threading import get_ident
from typing import Any

import orjson
from faber_hookspecs.errors import EventsNotLocal, InvalidEvent, InvalidRunId, RunFinished, RunNotFound, StorageError
from faber_hookspecs.reducer import REDUCER_VERSION, apply_event, initial_state_for, reconstruct, refusal
from faber_hookspecs.run_id import RunId, is_slug, is_uuid4, validate_slug
from faber_hookspecs.validation import validate_event
from faber_hookspecs.wire import DRAFT_FIELDS, canonical_event, dump_document, dump_event, loads, utc_timestamp

from .files import fsync_directory, overwrite_counter, remove_dead_leftovers, write_new_file
from .run_folder import SCRIPT_LOCK_MARK, CounterBehind, RunFolder, RunLock, event_file_name, read_json, read_state

Json = dict[str, Any]

DEFAULT_BASE_PATH = ".fractary/plugins/faber/runs"
"""The runs folder, relative to the project root, unless gateway.json or FABER_RUNS_PATH says otherwise."""

_STATE_CACHE_SIZE = 64

STAGING_DIR = ".staging"
"""Where a run is built before it appears in one rename: ``runs/{org}/{project}/.staging/`` holds
``new-<uuid>-<pid>`` (a creation) and ``restore-<uuid>-<pid>`` (a restore as a new run). Its own folder,
so that removing what a killed one left costs a listing of the few folders there, not of every run."""
NEW_RUN_LEFTOVERS = ("new-", "restore-")

CHECKPOINT_BYTES = 16 * 1024
"""What rewriting state.json may cost an event, in bytes of state: see ``checkpoint_interval``."""


class LocalRunStore:
    """Runs under ``runs_dir/{org}/{project}/{uuid}``.

    ``sync`` makes every event durable (file and directory fsync) before ``append`` returns; without
    it, events survive a killed process but not a power cut. New folders get ``dir_mode`` and new
    files ``file_mode`` (0700 and 0600: runs may hold secrets a redaction pattern missed).
    """

    def __init__(self, runs_dir: str, *, sync: bool = True, file_mode: int = 0o600, dir_mode: int = 0o700):
        self.runs_dir = os.path.abspath(runs_dir)
        self.sync = sync
        self.file_mode = file_mode
        self.dir_mode = dir_mode
        # The state after the last event this process stored, per run: an event id names a unique
        # prefix of an append-only log, so a cached state is valid exactly when its last_event_id is
        # the id before the next one. This spares a read and parse of state.json per emit. Keyed by
        # thread and run: ``append`` returns the cached object and updates it in place on the next
        # emit, so a state shared between threads would change under a caller still reading it.
        self._states: dict[tuple[int, str], Json] = {}  # oldest first (dicts keep insertion order)
        self._folders: dict[str, RunFolder] = {}

    def folder(self, run_id: RunId, *, must_exist: bool = True) -> RunFolder:
        """The run's folder, refusing one that is, or passes through, a symlink (it could lead out of
        the runs folder), and an ``events`` folder that is a symlink or not a folder at all."""
        path = os.path.join(self.runs_dir, run_id.org, run_id.project, run_id.uuid)
        # The path stays inside the runs folder exactly when none of its last three parts is a symlink:
        # three lstat calls instead of realpath's one per part of the whole path, on every emit.
        part = self.runs_dir
        for name in run_id:
            part = os.path.join(part, name)
            if os.path.islink(part):
                real = os.path.realpath(path)
                raise InvalidRunId(f"run {run_id} resolves outside the runs folder ({real}); refusing to use it")
        folder = self._folders.get(path)
        if folder is None:  # a RunFolder holds paths only; making one per emit cost a dozen joins
            if len(self._folders) >= _STATE_CACHE_SIZE:
                self._folders.clear()
            folder = self._folders[path] = RunFolder(path, self.file_mode, self.sync)
        if must_exist and not self._events_here(folder, run_id) and not folder.events_removed():
            raise RunNotFound(f"no run {run_id} in {self.runs_dir}")
        return folder

    def events_folder(self, run_id: RunId) -> RunFolder:
        """The run's folder, insisting that its events are here (not archived and removed)."""
        folder = self.folder(run_id, must_exist=False)
        if not self._events_here(folder, run_id):
            if folder.events_removed():
                raise events_not_local(run_id)
            raise RunNotFound(f"no run {run_id} in {self.runs_dir}")
        return folder

    @staticmethod
    def _events_here(folder: RunFolder, run_id: RunId) -> bool:
        try:
            events = os.lstat(folder.events_dir)
        except (FileNotFoundError, NotADirectoryError):
            return False
        if not stat.S_ISDIR(events.st_mode):
            what = "a symbolic link" if stat.S_ISLNK(events.st_mode) else "not a folder"
            raise StorageError(
                f"the events folder of run {run_id} is {what}; faber refuses to use it "
                f"(it could lead out of the runs folder): {folder.events_dir}"
            )
        return True

    def create_run(self, metadata: Json) -> Json:
        """Create a run folder for ``metadata`` atomically: it appears complete or not at all."""

        def fill(staging: RunFolder) -> int:
            staging.write_metadata(dump_document(metadata))
            staging.write_state(dump_document(initial_state_for(metadata)), 0)
            return 1

        self._publish_new_run(RunId.parse(metadata["run_id"]), "create", fill)
        return metadata

    def _publish_new_run(self, run_id: RunId, verb: str, fill: Callable[[RunFolder], int]) -> None:
        """Make a run folder appear complete or not at all: built under a hidden staging name (``fill``
        writes its metadata, events and state and returns the next event id), then one rename."""
        final = self.folder(run_id, must_exist=False)
        parent = os.path.dirname(final.path)
        staging = RunFolder(os.path.join(parent, STAGING_DIR, f"new-{run_id.uuid}-{os.getpid()}"), self.file_mode,
                            self.sync)
        try:
            self.staging_dir(parent)
            os.mkdir(staging.path, self.dir_mode)
            os.mkdir(staging.events_dir, self.dir_mode)
            next_id = fill(staging)
            lock_flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            os.close(os.open(staging.lock_file, lock_flags, self.file_mode))
            write_new_file(staging.script_lock_file, SCRIPT_LOCK_MARK, self.file_mode, False)
            overwrite_counter(staging.next_id_file, next_id, self.file_mode)
            if os.path.lexists(final.path):
                raise FileExistsError(final.path)
            os.rename(staging.path, final.path)
            if self.sync:
                fsync_directory(parent)
        except OSError as problem:
            shutil.rmtree(staging.path, ignore_errors=True)
            if isinstance(problem, FileExistsError) and os.path.lexists(final.path):
                raise StorageError(f"run folder {final.path} already exists") from None
            raise StorageError(f"could not {verb} run {run_id}: {problem.strerror or problem}") from None

    def staging_dir(self, parent: str) -> str:
        """The project folder ``parent``'s staging folder (see ``STAGING_DIR``), made if needed and
        refused if it is a link; what killed commands left in it is removed first."""
        self._makedirs(parent)
        path = os.path.join(parent, STAGING_DIR)
        try:
            os.mkdir(path, self.dir_mode)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                raise StorageError(f"{path} is a symbolic link or not a folder; faber builds runs only in a "
                                   "folder of the runs folder: move it away and try again") from None
            remove_dead_leftovers(path, NEW_RUN_LEFTOVERS)
        return path

    def import_history(self, metadata: Json, events: list[Json]) -> None:
        """Create a run from a finished history: ``metadata`` and ``events`` as given (ids 1..n,
        timestamps kept), validated first, then made to appear atomically like ``create_run``."""
        run_id = RunId.parse(metadata["run_id"])
        previous = ""
        for number, event in enumerate(events, start=1):
            if event.get("event_id") != number:
                raise InvalidEvent(
                    f"imported event {number} has event_id {event.get('event_id')!r}; ids must be 1, 2, 3..."
                )
            if event.get("run_id") != str(run_id):
                raise InvalidEvent(f"imported event {number} belongs to run {event.get('run_id')!r}, not {run_id}")
            validate_event(event)
            if event["timestamp"] < previous:  # same format throughout, so text order is time order
                raise InvalidEvent(f"imported event {number} is older than the event before it")
            previous = event["timestamp"]
        state = reconstruct(initial_state_for(metadata), events)

        def fill(staging: RunFolder) -> int:
            staging.write_metadata(dump_document(metadata))
            for event in events:
                name = os.path.join(staging.events_dir, event_file_name(event["event_id"], event["type"]))
                write_new_file(name, dump_event(event), self.file_mode, self.sync)
            if self.sync:
                fsync_directory(staging.events_dir)
            staging.write_state(dump_document(state), len(events))
            return len(events) + 1

        self._publish_new_run(run_id, "import", fill)

    def load_metadata(self, run_id: RunId) -> Json:
        folder = self.folder(run_id)
        metadata = read_json(folder.metadata_file)
        if metadata is None:
            raise StorageError(f"metadata.json of run {run_id} is missing or not valid JSON; see `faber runs verify`")
        return metadata

    def update_metadata(self, run_id: RunId, update: Callable[[Json], Json]) -> Json:
        """Replace metadata.json with ``update(current)`` under the run's lock."""
        folder = self.folder(run_id)
        with folder.lock():
            current = read_json(folder.metadata_file)
            if current is None:
                raise StorageError(f"metadata.json of run {run_id} is missing or not valid JSON")
            updated = update(current)
            folder.write_metadata(dump_document(updated))
        return updated

    def append(self, run_id: RunId, draft: Json) -> tuple[Json, Json | None]:
        """Store one event and return it with the run's state after it, or None when this process did
        not have that state at hand and did not need it (``state_at`` gets it when asked).

        ``draft`` holds the event's fields except event_id, timestamp and run_id, which are assigned
        here under the run's lock, so ids and times grow together. The event is validated against the
        event schema before anything is written; an invalid one consumes no id. state.json is brought
        up to date when ``checkpoint_due`` says so.
        """
        unknown = draft.keys() - DRAFT_FIELDS
        if unknown:
            raise InvalidEvent(f"invalid event: unknown field(s) {', '.join(sorted(unknown))}")
        folder = self.events_folder(run_id)
        unnamed = folder.open_event_file()  # its inode made outside the lock: see UnnamedFiles
        try:
            return self._append_locked(folder, run_id, draft, unnamed)
        finally:
            if unnamed is not None:
                os.close(unnamed)

    def _append_locked(
        self, folder: RunFolder, run_id: RunId, draft: Json, unnamed: int | None
    ) -> tuple[Json, Json | None]:
        lock = folder.lock(events_here=True)  # events_folder just saw them
        with lock:
            if not lock.events_here:  # cleaned up while we waited for the lock (checked under it)
                raise events_not_local(run_id)
            # The reference scripts' lock too, while ids are allocated: see RunFolder.take_script_lock.
            script_lock, scripts = folder.take_script_lock()
            try:
                event, state = self._commit(folder, run_id, draft, unnamed, lock, script_lock, scripts,
                                            scripts or folder.foreign_commit())
            finally:
                os.close(script_lock)
        # Durable before it is acknowledged, but fsynced outside the lock: the next writer links its
        # event meanwhile, and overlapping fsyncs share one journal commit (figure b of the bench).
        folder.sync_events(event["event_id"])
        return event, state

    def _commit(
        self, folder: RunFolder, run_id: RunId, draft: Json, unnamed: int | None, lock: RunLock, script_lock: int,
        scripts: bool, foreign: bool,
    ) -> tuple[Json, Json | None]:
        """``append``'s work under the run's lock and the scripts' lock. ``scripts``: a FABER reference
        script used the run since this store's last commit (see ``RunFolder.settled_next_id``);
        ``foreign``: another writer added events since, so neither the cached state nor state.json
        holds them (the state is rebuilt from the files and stored)."""
        key = str(run_id)
        cache_key = (get_ident(), key)
        if foreign:
            self._states.pop(cache_key, None)
        event_id = folder.settled_next_id(lock, scripts=scripts)
        event = canonical_event({**draft, "event_id": event_id, "timestamp": utc_timestamp(), "run_id": key})
        try:
            validate_event(event)
            # The state is brought forward before the commit, so nothing after the commit can fail
            # on it; until then it only lives in memory, and the cache forgets it if the commit fails.
            state, checkpoint = self._state_after(folder, run_id, event, rebuild=foreign)
        except BaseException:
            if scripts:  # settled_next_id took the id in the counter: a refused event gives it back
                overwrite_counter(folder.next_id_file, event_id, folder.file_mode)
            raise
        if not scripts:  # the id taken in the counter before the commit, for the reason settled_next_id says
            try:
                overwrite_counter(folder.next_id_file, event_id + 1, folder.file_mode)
            except OSError:
                pass  # a hint: a damaged counter is the next writer's to repair, as after the commit
        try:
            data = dump_event(event)
            try:
                pending = folder.commit_event(event_id, event["type"], data, sync_directory=False,
                                              lock=lock, unnamed=unnamed)
            except CounterBehind:  # .next-id was damaged or restored, or a script took the id: the files
                for attempt in range(3):
                    self._states.pop(cache_key, None)
                    event_id = max(folder.scanned_next_id(), folder.read_next_id() or 1)
                    overwrite_counter(folder.next_id_file, event_id + 1, folder.file_mode)
                    event = {**event, "event_id": event_id}
                    state, checkpoint = self._state_after(folder, run_id, event)
                    # (the nameless file holds the refused bytes: this rare retry goes through .pending)
                    data = dump_event(event)
                    try:
                        pending = folder.commit_event(event_id, event["type"], data, sync_directory=False, lock=lock)
                        break
                    except CounterBehind:
                        if attempt == 2:
                            raise StorageError(f"run {run_id}: another writer keeps taking the ids this event "
                                               "was given (a FABER reference script?); try again") from None
        except BaseException:
            self._states.pop(cache_key, None)
            raise
        # Committed. From here on a failure must not become an error for the caller, who would
        # retry and store the event twice: stale bookkeeping is repaired by the next writer.
        try:
            folder.finish_commit(event_id + 1, pending=pending)
            folder.mark_script_lock(script_lock)
            folder.record_in_ledger(event_id, event["type"], data, start=foreign)
            if checkpoint:
                assert state is not None
                folder.write_state(_indented_by_orjson(state), event_id)
        except OSError:
            self._states.pop(cache_key, None)
        else:
            if state is not None:
                self._remember(cache_key, state)
        return event, state

    def iter_events(self, run_id: RunId, since_id: int = 0) -> Iterator[Json]:
        yield from self.events_folder(run_id).iter_events(since_id)

    def current_state(self, run_id: RunId) -> Json:
        """The run's state through its last event: state.json (a checkpoint this reducer wrote) and
        the events after it; rebuilt from every event when state.json is missing, foreign or damaged."""
        folder = self.folder(run_id)
        state, counter = folder.read_state()
        return self._caught_up(folder, run_id, state, (counter or folder.next_id()) - 1)

    def state_at(self, run_id: RunId, event_id: int) -> Json:
        """The run's state just after event ``event_id``: this thread's cached state while it is that
        one, else read (and remembered) as ``current_state`` reads it; rebuilt through that event if
        the run has moved on since."""
        cache_key = (get_ident(), str(run_id))
        cached = self._states.get(cache_key)
        if cached is not None and cached["last_event_id"] == event_id:
            return cached
        state = self.current_state(run_id)
        if state["last_event_id"] == event_id:
            self._remember(cache_key, state)
            return state
        start = initial_state_for(self.load_metadata(run_id))
        events = self.events_folder(run_id).iter_events()
        return replay(start, (event for event in events if event["event_id"] <= event_id), run_id)

    def reconstruct(self, run_id: RunId) -> Json:
        """The state rebuilt from metadata.json and every event, ignoring state.json."""
        metadata = self.load_metadata(run_id)
        try:
            start = initial_state_for(metadata)
        except (KeyError, TypeError, ValueError) as problem:
            raise StorageError(f"metadata.json of run {run_id} lacks {problem}; see `faber runs verify`") from None
        return replay(start, self.events_folder(run_id).iter_events(), run_id)

    def write_state_if_newer(self, run_id: RunId, state: Json) -> bool:
        """Replace state.json with ``state`` unless the file already holds a later event's state."""
        folder = self.folder(run_id)
        with folder.lock():
            current = read_json(folder.state_file)
            if is_current(current, -1) and current is not None:
                if current["last_event_id"] > state["last_event_id"]:
                    return False
            folder.write_state(dump_document(state), state["last_event_id"])
            self._states.pop((get_ident(), str(run_id)), None)
        return True

    def forget(self, run_id: RunId) -> None:
        """Drop what this store remembers of the run's state (after its files were changed directly),
        in every thread: a repair may have changed the log itself."""
        key = str(run_id)
        for cached in [cached for cached in list(self._states) if cached[1] == key]:
            self._states.pop(cached, None)

    def run_ids(self, org: str | None = None, project: str | None = None) -> Iterator[RunId]:
        """Every run id under the runs folder, optionally within one org and project."""
        for org_name, project_name, uuids in self._project_folders(org, project):
            for uuid in uuids:
                yield RunId(org_name, project_name, uuid)

    def _project_folders(self, org: str | None, project: str | None) -> Iterator[tuple[str, str, list[str]]]:
        """Each (org, project) folder and the uuids of its run folders, validated as ``RunId.parse``
        validates them (each org and project name once, not once per run); a folder that is not a run
        (a staging folder, a stray copy) is passed over."""
        if org:
            validate_slug(org, "org")
        if project:
            validate_slug(project, "project")
        for org_name in [org] if org else _subfolders(self.runs_dir):
            if not is_slug(org_name):
                continue
            org_dir = os.path.join(self.runs_dir, org_name)
            for project_name in [project] if project else _subfolders(org_dir):
                if is_slug(project_name):
                    uuids = [uuid for uuid in _subfolders(os.path.join(org_dir, project_name)) if is_uuid4(uuid)]
                    yield org_name, project_name, uuids

    def find_runs(self, uuid_prefix: str) -> list[str]:
        return [str(run_id) for run_id in self.run_ids() if run_id.uuid.startswith(uuid_prefix)]

    def list_states(
        self, org: str | None = None, project: str | None = None, *, parse: Callable[[bytes], Any] = loads
    ) -> Iterator[Json]:
        """The state of every run (state.json, read by ``parse``, or rebuilt when it is stale or foreign).

        Each project folder is opened once and its runs' files are read relative to it, rather than
        resolving the runs folder's whole path again for each of thousands of files."""
        for org_name, project_name, uuids in self._project_folders(org, project):
            project_dir = f"{self.runs_dir}/{org_name}/{project_name}"
            try:
                at = os.open(project_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:  # gone since it was listed (or a symlink put in its place): no runs here
                continue
            try:
                for uuid in uuids:
                    text = f"{org_name}/{project_name}/{uuid}"
                    state, counter = read_state(f"{uuid}/state.json", f"{uuid}/events/.next-id",
                                                f"{uuid}/events/.lock", parse, at)
                    if (state is not None and is_current(state, counter - 1 if counter else -1)
                            and state.get("run_id") == text):
                        yield state
                        continue
                    folder = RunFolder(f"{project_dir}/{uuid}", self.file_mode, self.sync)
                    if folder.events_removed():
                        if state is not None:
                            yield state  # archived and cleaned up: state.json is all there is here
                        continue
                    try:  # a checkpoint behind the log, brought up to date from the events after it
                        yield self._caught_up(folder, RunId(org_name, project_name, uuid), state,
                                              (counter or folder.next_id()) - 1)
                    except (StorageError, RunNotFound, OSError, ValueError):
                        continue
            finally:
                os.close(at)

    def _state_after(
        self, folder: RunFolder, run_id: RunId, event: Json, *, rebuild: bool = False
    ) -> tuple[Json | None, bool]:
        """The run's state with ``event`` applied (updating the cached state in place), and whether
        state.json is to be brought up to date with it. The state is None when it was not cached and
        no checkpoint is due: a short-lived process then never reads state.json, whose reading grows
        with the run. A stored state the reducer cannot extend (state.json edited by hand) is rebuilt
        from the events instead, as it is, and then stored, with ``rebuild`` (another writer added
        events: state.json does not hold them, whatever its last_event_id says)."""
        cache_key = (get_ident(), str(run_id))
        if rebuild:
            return self._checked(self._rebuilt_beside_scripts(run_id), event), True
        checkpoint = checkpoint_due(event, folder.state_size())
        state = self._states.get(cache_key)
        if state is None or state["last_event_id"] != event["event_id"] - 1:
            self._states.pop(cache_key, None)
            # The state before the event is needed to check the lifecycle, so it is read even when
            # no checkpoint is due: under the lock, so no other writer can end the run meanwhile.
            state = self._caught_up(folder, run_id, read_json(folder.state_file), event["event_id"] - 1)
        try:
            return self._checked(state, event), checkpoint
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            self._states.pop(cache_key, None)
        return self._checked(self.reconstruct(run_id), event), checkpoint

    def _rebuilt_beside_scripts(self, run_id: RunId) -> Json:
        """``reconstruct``, while a FABER reference script may be writing an event file: it truncates,
        then writes it (``echo >``), so a file read empty in between is read again a moment later. A
        file two scripts wrote at once stays unreadable: the state is then rebuilt from the readable
        events (``faber runs verify`` names the other), rather than refusing every event after it."""
        for attempt in range(3):
            try:
                return self.reconstruct(run_id)
            except StorageError:
                time.sleep(0.005 * (attempt + 1))
        from .inspection import scan_run

        folder = self.events_folder(run_id)
        metadata = self.load_metadata(run_id)
        return reconstruct(initial_state_for(metadata), scan_run(folder, run_id, metadata=metadata).events)

    @staticmethod
    def _checked(state: Json, event: Json) -> Json:
        """``state`` with ``event`` applied, unless the lifecycle refuses it (RunFinished; the state
        is then left as it was)."""
        refused = refusal(state, event["type"])
        if refused is not None:
            raise RunFinished(refused)
        return apply_event(state, event)

    def _caught_up(self, folder: RunFolder, run_id: RunId, checkpoint: Json | None, last_event_id: int) -> Json:
        """The state through ``last_event_id``: ``checkpoint`` (state.json as read) and the events
        after it, or every event when it is not a checkpoint of this reducer for this run that the
        log has reached."""
        if is_current(checkpoint, -1) and checkpoint is not None and checkpoint.get("run_id") == str(run_id):
            if checkpoint["last_event_id"] == last_event_id:
                return checkpoint
            if checkpoint["last_event_id"] < last_event_id:
                return replay(checkpoint, folder.iter_events(since_id=checkpoint["last_event_id"]), run_id)
        return self.reconstruct(run_id)

    def _remember(self, key: tuple[int, str], state: Json) -> None:
        """Cache ``state`` as the newest entry, forgetting the oldest beyond the cache's size."""
        states = self._states
        states.pop(key, None)
        states[key] = state
        if len(states) > _STATE_CACHE_SIZE:
            del states[next(iter(states))]

    def _makedirs(self, path: str) -> None:
        if os.path.isdir(path):
            return
        self._makedirs(os.path.dirname(path))
        try:
            os.mkdir(path, self.dir_mode)
        except FileExistsError:
            pass


def checkpoint_interval(size: int) -> int:
    """Every how many events state.json is rewritten while it is ``size`` bytes long: at every event
    while it is at most ``CHECKPOINT_BYTES``, then at every 2nd, 4th, 8th... (the power of two at or
    above size ÷ CHECKPOINT_BYTES). Rewriting it then costs an event about the same however long the
    run: a 10,000-step workflow's state is 2 MB, rewritten every 128 events."""
    return 1 if size <= CHECKPOINT_BYTES else 1 << ((size - 1) // CHECKPOINT_BYTES).bit_length()


def checkpoint_due(event: Json, state_size: int) -> bool:
    """Whether state.json is brought up to date after ``event``, state.json being ``state_size`` bytes:
    after every workflow-level event (a run that ends, pauses or resumes leaves it current), and
    after every event whose id is a multiple of ``checkpoint_interval(state_size)``. The rule needs
    nothing but the event and the file's size, so every writer applies it alike, in any process."""
    kind: str = event["type"]
    return kind.startswith("workflow_") or event["event_id"] % checkpoint_interval(state_size) == 0


def _indented_by_orjson(state: Json) -> bytes:
    """state.json's bytes after an emit: what ``dump_document`` writes (indented JSON, a final newline),
    by orjson, which encodes in C what ``dump_document`` encodes step by step in Python. The values are
    the same; a float in exponent form is written in orjson's shortest form (``1e-7``, where json.dumps
    writes ``1e-07``). Whatever orjson refuses (an integer beyond 64 bits) goes to ``dump_document``."""
    try:
        return orjson.dumps(state, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        return dump_document(state)


def replay(state: Json, events: Iterator[Json], run_id: RunId) -> Json:
    """``reconstruct(state, events)``, with an event the reducer cannot use (a file edited by hand,
    with wrong types) reported as a StorageError naming it instead of a crash."""
    for event in events:
        try:
            apply_event(state, event)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as problem:
            raise StorageError(
                f"event {event.get('event_id')!r} of run {run_id} is not a valid event ({type(problem).__name__}: "
                f"{problem}); `faber runs verify` lists the damage and `faber runs repair` sets such files aside"
            ) from None
    return state


def events_not_local(run_id: RunId) -> EventsNotLocal:
    """The error for reading or writing the events of a run that was archived and cleaned up here."""
    return EventsNotLocal(
        f"the events of run {run_id} were archived and removed from this machine; "
        f"`faber restore {run_id}` brings them back"
    )


def select_states(
    states: Iterable[Json],
    status: str | None,
    work_id: str | None,
    limit: int | None,
    *,
    workflow_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[Json]:
    """What ``list_runs`` answers, before its models: the states with that status, work id and
    workflow, started (else created) within since..until (FABER timestamps, compared as text), when
    given; newest first, at most ``limit`` of them."""
    selected = [
        state
        for state in states
        if (status is None or state.get("status") == status)
        and (work_id is None or state.get("work_id") == work_id)
        and (workflow_id is None or state.get("workflow_id") == workflow_id)
        and ((since is None and until is None) or _within(_stamp(state, "started_at", "created_at"), since, until))
    ]
    # A damaged state's non-text time sorts last instead of failing the sort.
    selected.sort(key=lambda state: _stamp(state, "created_at", "updated_at"), reverse=True)
    if limit is not None:
        del selected[limit:]
    return selected


def _stamp(state: Json, key: str, fallback: str) -> str:
    stamp = state.get(key) or state.get(fallback) or ""
    return stamp if isinstance(stamp, str) else ""


def _within(stamp: str, since: str | None, until: str | None) -> bool:
    """A run without a start time is outside any window."""
    return bool(stamp) and (since is None or stamp >= since) and (until is None or stamp <= until)


def runs_path(base_path: str, root: str, environ: Mapping[str, str]) -> str:
    """The runs folder: FABER_RUNS_PATH (relative to the current folder), else ``base_path`` under the
    project ``root``."""
    override = environ.get("FABER_RUNS_PATH")
    return override if override else os.path.join(root, base_path)


def is_current(state: Json | None, last_event_id: int) -> bool:
    """True when ``state`` was written by this reducer version (and, unless -1, is through the
    given event)."""
    if state is None or state.get("reducer_version") != REDUCER_VERSION:
        return False
    if not isinstance(state.get("last_event_id"), int) or state.get("reduced_event_id") != state["last_event_id"]:
        return False  # (another writer moved last_event_id without bringing the state with it)
    return last_event_id == -1 or state.get("last_event_id") == last_event_id


def _subfolders(path: str) -> list[str]:
    try:
        with os.scandir(path) as entries:
            return sorted(entry.name for entry in entries if entry.is_dir(follow_symlinks=False))
    except (FileNotFoundError, NotADirectoryError):
        return []

"""Repair a damaged run without deleting anything (``faber runs repair``), under the run's lock: finish or
drop a half-done commit; move unusable event files (and duplicate ids' losers) to ``events/.quarantine/``;
give each id left without an event a ``log_repaired`` event, except past a gap longer than the run has
files (a counter's skip), where later events are renumbered; rebuild an unusable metadata.json; rewrite
``.next-id`` and state.json. ``verify_run`` checks the result."""

from __future__ import annotations

import os
import stat
from typing import Any

from faber_hookspecs.errors import StorageError
from faber_hookspecs.integrity import RepairReport
from faber_hookspecs.reducer import initial_state_for, reconstruct
from faber_hookspecs.run_id import RunId
from faber_hookspecs.validation import validate_event
from faber_hookspecs.wire import canonical_event, dump_document, dump_event, utc_timestamp

from .bundle import remove_leftovers
from .files import fsync_directory, overwrite_counter, remove_dead_leftovers
from .inspection import cached_state, run_leftovers, scan_run, verify_run
from .run_folder import RunFolder, read_json
from .store import LocalRunStore

Json = dict[str, Any]
QUARANTINE = ".quarantine"


def repair_run(store: LocalRunStore, run_id: RunId) -> RepairReport:
    """Repair the run's files and report what was done, with verify's verdict before and after."""
    before = verify_run(store, run_id)
    folder = store.folder(run_id)
    actions: list[str] = []
    quarantined: list[str] = []
    with folder.lock():
        if os.path.lexists(os.path.join(folder.events_dir, QUARANTINE)):
            _check_quarantine(folder)  # before anything is changed
        for name in remove_leftovers(folder) + remove_dead_leftovers(*run_leftovers(folder, run_id)):
            actions.append(f"removed {name}, left by a command that was killed")
        committed = folder.recover()
        if before.problems and any(p.code == "pending_write" for p in before.problems):
            actions.append(
                f"finished the interrupted commit of event {committed}" if committed
                else "dropped an interrupted commit that never reached the log (events/.pending)"
            )
        scan = scan_run(folder, run_id)
        for file in scan.bad_files:
            moved = _quarantine(folder, os.path.join(folder.events_dir, file.name), store.dir_mode)
            quarantined.append(moved)
            actions.append(f"moved events/{file.name} to {moved}")
        metadata = scan.metadata
        if metadata is None:
            if os.path.lexists(folder.metadata_file):
                moved = _quarantine(folder, folder.metadata_file, store.dir_mode)
                quarantined.append(moved)
                actions.append(f"moved metadata.json to {moved}")
            metadata = _rebuilt_metadata(run_id, scan.events)
            folder.write_metadata(dump_document(metadata))
            actions.append("wrote a new metadata.json from the run id and the events")

        found = {event["event_id"]: event for event in scan.events}
        lost = {file.event_id: file.name for file in scan.bad_files if file.event_id not in found}
        events: dict[int, Json] = {}
        # A filler takes the time of the event before it (or after it), so times keep growing with ids.
        previous_time = scan.events[0]["timestamp"] if scan.events else None
        # Ids no file holds get a filler each, as long as there are no more of them than files: a
        # longer gap was named by a counter, not left by lost files (an id is only ever given after
        # the one before it), so the events after it are renumbered to follow the log instead.
        budget = scan.files
        last = 0
        for found_id in sorted(found.keys() | lost.keys()):
            gap = found_id - last - 1
            if gap > budget:
                gap = 0
            budget -= gap
            for event_id in range(last + 1, last + gap + 1):
                event = repair_event(run_id, event_id, None, previous_time)
                _commit(folder, event)
                events[event_id] = event
                actions.append(f"recorded event {event_id} as log_repaired ({event['message']})")
            last += gap + 1
            if found_id in lost:
                event = repair_event(run_id, last, lost[found_id], previous_time)
                _commit(folder, event)
                actions.append(f"recorded event {last} as log_repaired ({event['message']})")
            elif found_id != last:
                moved = _quarantine(folder, os.path.join(folder.events_dir, scan.kept[found_id]), store.dir_mode)
                quarantined.append(moved)
                event = {**found[found_id], "event_id": last}
                _commit(folder, event)
                actions.append(f"renumbered event {found_id} as {last}: no file ever held ids {last} to "
                               f"{found_id - 1}, an id a counter skipped to (the original is kept as {moved})")
            else:
                event = found[found_id]
            events[last] = event
            previous_time = event["timestamp"]

        next_id = last + 1
        if folder.read_next_id() != next_id:
            overwrite_counter(folder.next_id_file, next_id, folder.file_mode)
            actions.append(f"set events/.next-id to {next_id}")
        ordered = [events[i] for i in sorted(events)]
        state = reconstruct(initial_state_for(metadata), ordered)
        if cached_state(read_json(folder.state_file), ordered) != state:
            folder.write_state(dump_document(state), state["last_event_id"])
            actions.append(f"rebuilt state.json from {len(events)} events")
        store.forget(run_id)
    return RepairReport(
        run_id=str(run_id), actions=actions, quarantined=quarantined, before=before, after=verify_run(store, run_id)
    )


def _commit(folder: RunFolder, event: Json) -> None:
    folder.commit_event(event["event_id"], event["type"], dump_event(event))
    os.unlink(folder.pending_file)


def _quarantine(folder: RunFolder, path: str, dir_mode: int) -> str:
    """Move ``path`` into events/.quarantine/ under a name not yet used; return where, relative to
    the run's folder."""
    target_dir = os.path.join(folder.events_dir, QUARANTINE)
    try:
        os.mkdir(target_dir, dir_mode)
    except FileExistsError:
        _check_quarantine(folder)
    name = os.path.basename(path)
    target = os.path.join(target_dir, name)
    counter = 1
    while os.path.lexists(target):
        target = os.path.join(target_dir, f"{name}.{counter}")
        counter += 1
    os.rename(path, target)
    fsync_directory(target_dir)
    fsync_directory(os.path.dirname(path))
    return os.path.relpath(target, folder.path)


def _check_quarantine(folder: RunFolder) -> None:
    """Files are moved only into a real folder of the run: a link at events/.quarantine would move
    them out of the runs folder, a file or another file system would fail the move halfway."""
    target_dir = os.path.join(folder.events_dir, QUARANTINE)
    found = os.lstat(target_dir)
    if stat.S_ISDIR(found.st_mode) and found.st_dev == os.lstat(folder.events_dir).st_dev:
        return
    what = ("a symbolic link" if stat.S_ISLNK(found.st_mode) else "not a folder" if not stat.S_ISDIR(found.st_mode)
            else "on another file system")
    raise StorageError(f"events/{QUARANTINE} of run folder {folder.path} is {what}; repair moves files only into "
                       "a folder of the run: move it away and repair again (nothing was changed)")


def repair_event(run_id: RunId, event_id: int, lost_file: str | None, previous_time: str | None) -> Json:
    """The ``log_repaired`` event that takes the place of a lost one (s3_store's repair writes it too)."""
    if lost_file:
        message = f"event file {lost_file} was unreadable or invalid; it is kept in events/{QUARANTINE}/"
    else:
        message = "no event file held this id"
    event = canonical_event({
        "event_id": event_id,
        "type": "log_repaired",
        "timestamp": previous_time or utc_timestamp(),
        "run_id": str(run_id),
        "source": "faber-repair",
        "message": message,
        "metadata": {"repaired_at": utc_timestamp(), "lost_file": lost_file},
    })
    validate_event(event)
    return event


def _rebuilt_metadata(run_id: RunId, events: list[Json]) -> Json:
    start = next((event for event in events if event["type"] == "workflow_start"), None)
    details = (start or {}).get("metadata") or {}
    return {
        "run_id": str(run_id),
        "work_id": details.get("work_id") if isinstance(details.get("work_id"), str) else None,
        "workflow_id": details.get("workflow_id") if isinstance(details.get("workflow_id"), str) else None,
        "created_at": events[0]["timestamp"] if events else utc_timestamp(),
        "created_by": None,
        "relationships": {"parent_run_id": None, "rerun_of": None, "child_runs": []},
        "environment": {},
        "params": {},
        "repaired": True,
    }


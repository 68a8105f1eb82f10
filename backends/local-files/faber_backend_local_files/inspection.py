"""Read a run as a careful person would: one scan (``scan_run``) serves ``inspect_run`` (shows a damaged
run, with warnings), ``verify_run`` (every problem) and ``repair.repair_run``. Known defects of runs the
FABER reference wrote are reported; the run stays readable."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from faber_hookspecs.errors import InvalidEvent, StorageError
from faber_hookspecs.integrity import IntegrityProblem, ProblemCode, VerifyReport
from faber_hookspecs.reducer import REDUCER_VERSION, initial_state_for, reconstruct
from faber_hookspecs.run_id import RunId
from faber_hookspecs.validation import missing_fields, validate_event

from .files import FileLock, dead_leftovers, read_bytes
from .run_folder import EventFile, RunFolder, event_file_name, read_json
from .store import NEW_RUN_LEFTOVERS, STAGING_DIR, LocalRunStore, is_current, replay

Json = dict[str, Any]
_MAX_FILE_WARNINGS = 5


@dataclass
class RunScan:
    metadata: Json | None
    events: list[Json] = field(default_factory=list)
    """One valid event per id, in id order: the log as it can be trusted."""
    kept: dict[int, str] = field(default_factory=dict)
    """The file each of ``events`` was read from, by id."""
    bad_files: list[EventFile] = field(default_factory=list)
    """Event files that are unreadable, invalid, or lose to another file with the same id."""
    problems: list[IntegrityProblem] = field(default_factory=list)
    files: int = 0
    highest_id: int = 0

    def add(self, code: ProblemCode, message: str, file: str | None = None) -> None:
        self.problems.append(IntegrityProblem(code=code, message=message, file=file))


def inspect_run(store: LocalRunStore, run_id: RunId) -> tuple[Json, Json, list[str]]:
    """The run's metadata, its true state and the defects found. A state.json this reducer wrote is trusted
    as a checkpoint, brought forward by any later events; anything else means a full read and check."""
    folder = store.folder(run_id)
    metadata = store.load_metadata(run_id)
    stored_state, counter = folder.read_state()
    if folder.events_removed():
        # Archived and cleaned up: state.json was verified with the bundle and is all there is here.
        if stored_state is None:
            raise StorageError(f"state.json of run {run_id} is missing and its events were archived; restore the run")
        return metadata, stored_state, []
    if (stored_state is not None and is_current(stored_state, -1) and counter is not None
            and (last := stored_state["last_event_id"]) <= counter - 1):
        if last == counter - 1:
            return metadata, stored_state, []
        try:
            return metadata, replay(stored_state, folder.iter_events(since_id=last), run_id), []
        except StorageError:
            stored_state, _ = folder.read_state()  # a damaged event: the full read below names it

    scan = scan_run(folder, run_id, metadata=metadata)
    state = reconstruct(initial_state_for(metadata), scan.events)
    check_state(scan, stored_state, state)
    warnings = _warnings(scan)
    _check_lineage(store, run_id, metadata, scan.events, warnings)
    return metadata, state, warnings


def verify_run(store: LocalRunStore, run_id: RunId) -> VerifyReport:
    """Every problem of the run's files; nothing is changed. Reads under a shared lock, so no
    writer of this store is half way through a commit while it looks."""
    folder = store.events_folder(run_id)  # a run archived and cleaned up here: restore it first
    with FileLock(folder.lock_file, shared=True):
        scan = scan_run(folder, run_id)
        for event_id, kind, digest in folder.ledger():
            name = event_file_name(event_id, kind)
            try:
                intact = hashlib.sha256(read_bytes(folder.events_dir + "/" + name)).hexdigest() == digest
            except OSError:
                intact = False
            if not intact:
                scan.add("event_overwritten", f"event {event_id} ({kind}), stored by faber, was overwritten or "
                         "removed by another writer (the FABER reference scripts' locking can give two writers one "
                         "id; see docs/migration.md)", f"events/{name}")
        if os.path.lexists(folder.pending_file):
            scan.add("pending_write", "a writer was killed while committing an event (events/.pending)",
                     "events/.pending")
        if scan.metadata is not None:
            rebuilt = reconstruct(initial_state_for(scan.metadata), scan.events)
            check_state(scan, read_json(folder.state_file), rebuilt)
        from .bundle import LEFTOVERS

        for name in dead_leftovers(folder.path, LEFTOVERS):
            scan.add("leftover", f"{name} was left by a command that was killed", name)
        for name in dead_leftovers(*run_leftovers(folder, run_id)):
            where = f"../{STAGING_DIR}/{name}"
            scan.add("leftover", f"{where} was left by a command that was killed", where)
    return VerifyReport(run_id=str(run_id), ok=not scan.problems, events=scan.files, last_event_id=scan.highest_id,
                        problems=scan.problems)


def run_leftovers(folder: RunFolder, run_id: RunId) -> tuple[str, tuple[str, ...]]:
    """Where a killed creation or restore of this run leaves its staging folder, and its prefixes."""
    staging = os.path.join(os.path.dirname(folder.path), STAGING_DIR)
    return staging, tuple(f"{prefix}{run_id.uuid}-" for prefix in NEW_RUN_LEFTOVERS)


def scan_run(folder: RunFolder, run_id: RunId, *, metadata: Json | None = None) -> RunScan:
    """Read metadata.json (unless given) and every event file, and check the log's shape."""
    if metadata is None:
        metadata = _read_metadata(folder, run_id)
    scan = RunScan(metadata=metadata)
    if metadata is None:
        scan.add("metadata_invalid", "metadata.json is missing, unreadable or not valid run metadata", "metadata.json")
    files = folder.event_files()
    scan.files = len(files)
    scan.highest_id = files[-1].event_id if files else 0
    candidates: dict[int, list[tuple[EventFile, Json]]] = {}
    for file in files:
        event = _read_valid_event(folder, file, run_id, scan)
        if event is None:
            scan.bad_files.append(file)
        else:
            candidates.setdefault(file.event_id, []).append((file, event))
    for event_id in sorted(candidates):
        found = candidates[event_id]
        if len(found) > 1:
            # Keep the file the store itself would have written (its canonical name: a copy planted as
            # 0002-x.json beside 002-x.json loses), then the earliest write.
            found.sort(key=lambda item: (item[0].name != event_file_name(event_id, item[0].type),
                                         item[1]["timestamp"], item[0].name))
            for file, _ in found[1:]:
                scan.bad_files.append(file)
                scan.add("event_duplicate_id", f"{file.name} claims id {event_id}, already held by {found[0][0].name}",
                         f"events/{file.name}")
        scan.events.append(found[0][1])
        scan.kept[event_id] = found[0][0].name
    # Missing ids as ranges, in time and memory of the files present: a file named 10^20 names a gap
    # of 10^20 ids, which must not become a list.
    gaps = id_gaps([event["event_id"] for event in scan.events], scan.highest_id)
    if gaps:
        shown = ", ".join(str(start) if start == end else f"{start}-{end}" for start, end in gaps[:10])
        count = sum(end - start + 1 for start, end in gaps)
        scan.add("event_gap", f"{count} event id(s) have no valid event: {shown}{' ...' if len(gaps) > 10 else ''}")
    counter = folder.read_next_id()
    expected = scan.highest_id + 1
    if counter != expected:
        found_text = "missing or unreadable" if counter is None else str(counter)
        if counter is not None and counter > expected:
            found_text += f", ahead of the last event {scan.highest_id}"  # never trusted: see settled_next_id
        scan.add("next_id_wrong", f"events/.next-id is {found_text}, expected {expected}", "events/.next-id")
    return scan


def id_gaps(ids: list[int], highest: int) -> list[tuple[int, int]]:
    """The ranges (first, last) of ids from 1 to ``highest`` that ``ids`` (sorted) do not hold."""
    gaps = []
    previous = 0
    for event_id in [*ids, highest + 1]:
        if event_id > previous + 1:
            gaps.append((previous + 1, event_id - 1))
        previous = max(previous, event_id)
    return gaps


def cached_state(stored: Json | None, events: list[Json]) -> Json | None:
    """state.json (``stored``, changed in place) brought forward by the ``events`` after it when this reducer
    wrote it; otherwise as it stands."""
    if stored is None or stored.get("reducer_version") != REDUCER_VERSION:
        return stored
    last = stored.get("last_event_id")
    if not isinstance(last, int):
        return stored
    try:
        return reconstruct(stored, (event for event in events if event["event_id"] > last))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):  # a checkpoint edited by hand
        return stored


def check_state(scan: RunScan, stored: Json | None, rebuilt: Json) -> None:
    """Compare state.json, brought forward by the events after it, with the state rebuilt from the events."""
    if stored is None:
        scan.add("state_missing", "state.json is missing or unreadable", "state.json")
        return
    stored = cached_state(stored, scan.events)
    assert stored is not None
    if stored == rebuilt:
        return
    written_by = stored.get("reducer_version")
    if isinstance(written_by, int) and 1 <= written_by < REDUCER_VERSION and stored.get("last_event_id") == rebuilt.get(
        "last_event_id"
    ):
        return  # faber's own older format, through the last event: rebuilt silently, rewritten by the next emit
    keys = sorted(key for key in rebuilt.keys() | stored.keys()
                  if stored.get(key) != rebuilt.get(key) and key != "reducer_version")
    # The keys a person recognises first, with their values; the rest by name.
    keys.sort(key=lambda key: key not in _SHORT_KEYS)
    shown = [f"{key} {stored.get(key)!r} instead of {rebuilt.get(key)!r}" if key in _SHORT_KEYS else key
             for key in keys[:6]]
    detail = "differs in " + "; ".join(shown) if shown else "differs"
    if stored.get("reducer_version") != REDUCER_VERSION:
        detail += f" (written by reducer version {stored.get('reducer_version')}, not {REDUCER_VERSION})"
    scan.add("state_mismatch", f"state.json does not reflect the events: {detail}", "state.json")


_SHORT_KEYS = frozenset({"status", "current_phase", "current_step", "last_event_id", "started_at", "completed_at"})


def _read_metadata(folder: RunFolder, run_id: RunId) -> Json | None:
    metadata = read_json(folder.metadata_file)
    if metadata is None or metadata.get("run_id") != str(run_id):
        return None
    from faber_hookspecs.validation import schema_validator

    return metadata if schema_validator("run-metadata").is_valid(metadata) else None


def _read_valid_event(folder: RunFolder, file: EventFile, run_id: RunId, scan: RunScan) -> Json | None:
    where = f"events/{file.name}"
    try:
        event = folder.read_event(file.name)
    except (OSError, ValueError) as problem:
        scan.add("event_unreadable", f"{file.name} cannot be read as JSON ({_short(problem)})", where)
        return None
    try:
        validate_event(event, type_rules=False)
    except InvalidEvent as problem:
        scan.add("event_invalid", f"{file.name} is not a valid event ({problem})", where)
        return None
    missing = missing_fields(event)
    if missing:  # another writer's event (the reference's): used as it is, named
        scan.add("event_incomplete", f"{file.name} lacks {', '.join(repr(name) for name in missing)}, which faber "
                                     f"requires of a {event['type']} event; it is read as written", where)
    mismatches = [
        f"{name} {event.get(name)!r}"
        for name, expected in (("event_id", file.event_id), ("type", file.type), ("run_id", str(run_id)))
        if event.get(name) != expected
    ]
    if mismatches:
        scan.add("event_invalid", f"{file.name} holds {', '.join(mismatches)}, which its name or run contradict", where)
        return None
    return event


def _warnings(scan: RunScan) -> list[str]:
    """The scan's problems as the short warnings ``faber runs show`` prints."""
    warnings: list[str] = []
    file_problems = [p for p in scan.problems if p.code in ("event_unreadable", "event_invalid", "event_duplicate_id")]
    for problem in file_problems[:_MAX_FILE_WARNINGS]:
        warnings.append(f"{problem.message}; the file was skipped")
    if len(file_problems) > _MAX_FILE_WARNINGS:
        warnings.append(f"... and {len(file_problems) - _MAX_FILE_WARNINGS} more unusable event files")
    for problem in scan.problems:
        if problem.code in ("event_gap", "next_id_wrong", "event_incomplete"):
            warnings.append(problem.message)
        elif problem.code in ("state_missing", "state_mismatch"):
            warnings.append(
                f"{problem.message}; the state shown is rebuilt from the events "
                "(`faber runs repair RUN` rewrites the file)"
            )
    return warnings


def _short(problem: Exception) -> str:
    text = str(problem) or type(problem).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _check_lineage(
    store: LocalRunStore, run_id: RunId, metadata: Json, events: list[Json], warnings: list[str]
) -> None:
    relationships = metadata.get("relationships") or {}
    original = relationships.get("rerun_of")
    if original and not any(event.get("type") == "workflow_rerun" for event in events):
        warnings.append(f"this run re-runs {original} but has no workflow_rerun event recording the change")
    listed = set(relationships.get("child_runs") or [])
    me = str(run_id)
    for sibling in store.run_ids(run_id.org, run_id.project):
        if sibling == run_id:
            continue
        try:
            other = store.load_metadata(sibling)
        except Exception:  # a damaged sibling is its own problem, reported when it is read
            continue
        links = other.get("relationships") or {}
        if me in (links.get("rerun_of"), links.get("parent_run_id")) and str(sibling) not in listed:
            warnings.append(f"run {sibling} is a re-run of this run but is missing from its child_runs")

"""Read a run the way a careful person would: use it, and say what is wrong with it.

Runs written by the FABER reference scripts have known defects (state.json never reflects the
events, a re-run without its workflow_rerun event, a missing child_runs link, 3-digit file names).
They are reported as warnings; the run stays readable.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from faber_hookspecs.errors import InvalidEvent
from faber_hookspecs.reducer import REDUCER_VERSION, initial_state_for, reconstruct
from faber_hookspecs.run_id import RunId
from faber_hookspecs.validation import validate_event

from .run_folder import RunFolder
from .store import LocalRunStore

Json = dict[str, Any]
_MAX_FILE_WARNINGS = 5


def inspect_run(store: LocalRunStore, run_id: RunId) -> tuple[Json, Json, list[str]]:
    """The run's metadata, its true state and the defects found.

    A state.json this reducer wrote through the last event is trusted as is (the fast, usual case);
    anything else leads to reading every event, rebuilding the state and checking the log.
    """
    folder = store.folder(run_id)
    metadata = store.load_metadata(run_id)
    stored_state = folder.read_state()
    counter = folder.read_next_id()
    if (
        stored_state is not None
        and stored_state.get("reducer_version") == REDUCER_VERSION
        and counter is not None
        and stored_state.get("last_event_id") == counter - 1
    ):
        return metadata, stored_state, []

    warnings: list[str] = []
    events = _readable_events(folder, warnings)
    state = reconstruct(initial_state_for(metadata), events)
    _check_log(folder, counter, events, warnings)
    _check_state_file(stored_state, state, warnings)
    _check_lineage(store, run_id, metadata, events, warnings)
    return metadata, state, warnings


def _readable_events(folder: RunFolder, warnings: list[str]) -> list[Json]:
    events: list[Json] = []
    problems = 0
    for file in folder.event_files():
        try:
            event = folder.read_event(file.name)
            validate_event(event)
        except (OSError, ValueError, InvalidEvent) as problem:
            problems += 1
            if problems <= _MAX_FILE_WARNINGS:
                warnings.append(f"event file {file.name} is unusable and was skipped: {problem}")
            continue
        if event.get("event_id") != file.event_id:
            warnings.append(f"event file {file.name} holds event_id {event.get('event_id')}")
        events.append(event)
    if problems > _MAX_FILE_WARNINGS:
        warnings.append(f"... and {problems - _MAX_FILE_WARNINGS} more unusable event files")
    return events


def _check_log(folder: RunFolder, counter: int | None, events: list[Json], warnings: list[str]) -> None:
    ids = [file.event_id for file in folder.event_files()]
    duplicates = sorted(event_id for event_id, count in Counter(ids).items() if count > 1)
    if duplicates:
        warnings.append(f"event ids used by more than one file: {duplicates[:10]}")
    missing = sorted(set(range(1, max(ids) + 1)) - set(ids)) if ids else []
    if missing:
        warnings.append(f"event ids missing from the log: {missing[:10]}{' ...' if len(missing) > 10 else ''}")
    expected = (max(ids) if ids else 0) + 1
    if counter != expected:
        warnings.append(f"events/.next-id is {counter if counter is not None else 'missing'}, expected {expected}")


def _check_state_file(stored: Json | None, rebuilt: Json, warnings: list[str]) -> None:
    if stored is None:
        warnings.append("state.json is missing or unreadable; the state shown is rebuilt from the events")
        return
    differences = [
        f"{key} {stored.get(key)!r} instead of {rebuilt.get(key)!r}"
        for key in ("status", "current_phase", "last_event_id", "started_at")
        if stored.get(key) != rebuilt.get(key)
    ]
    if differences or stored.get("reducer_version") != REDUCER_VERSION:
        detail = f" ({'; '.join(differences)})" if differences else ""
        warnings.append(
            "state.json does not reflect the events" + detail + "; the state shown is rebuilt from the "
            "events (`faber runs reconstruct RUN --write` updates the file)"
        )


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

"""The ``local_files`` backend: the record store on local files, behind the faber hooks.

Enabled by default in gateway.json::

    "local_files": {"enabled": true, "config": {"base_path": ".fractary/plugins/faber/runs",
                                                 "sync_writes": true}}

``base_path`` is relative to the project root; the environment variable ``FABER_RUNS_PATH`` overrides
it, as in the FABER reference. ``sync_writes: false`` skips the fsyncs: an emit then waits for no disk,
and an event survives a killed process but not a power cut.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from faber_hookspecs.errors import StorageError
from faber_hookspecs.events import STORED_ELSEWHERE, Event, EventDraft
from faber_hookspecs.markers import hookimpl
from faber_hookspecs.records import POSITION_FIELDS, BackendContext, StoredEvent
from faber_hookspecs.run_id import RunId
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .store import DEFAULT_BASE_PATH, LocalRunStore, runs_path, select_states

if TYPE_CHECKING:  # (an emit builds none of these models and needs no inspection: imported where used)
    from faber_hookspecs.archive import ArchiveBundle, RemovedEvents
    from faber_hookspecs.integrity import RepairReport, VerifyReport
    from faber_hookspecs.metadata import RunMetadata
    from faber_hookspecs.reports import HealthCheck
    from faber_hookspecs.runs import RunQuery, RunRecord
    from faber_hookspecs.state import RunState


class LocalFilesConfig(BaseModel):
    """The ``config`` object of ``backends.local_files`` in gateway.json."""

    model_config = ConfigDict(extra="forbid")

    base_path: str = Field(DEFAULT_BASE_PATH, description="The runs folder, relative to the project root.")
    sync_writes: bool = Field(True, description="fsync each event before acknowledging it.")
    file_mode: str = Field("0600", pattern="^0?[0-7]{3}$", description="Mode of new files (octal).")
    dir_mode: str = Field("0700", pattern="^0?[0-7]{3}$", description="Mode of new folders (octal).")


class LocalFilesBackend:
    """The record of truth: every run, event and state lives in files under the runs folder."""

    config_model = LocalFilesConfig

    def __init__(self, config: LocalFilesConfig, context: BackendContext) -> None:
        self.config = config
        self.runs_dir = Path(runs_path(config.base_path, os.fspath(context.root), context.environ))
        self.store = FilesRecordStore(LocalRunStore(
            os.fspath(self.runs_dir),
            sync=config.sync_writes,
            file_mode=int(config.file_mode, 8),
            dir_mode=int(config.dir_mode, 8),
        ))

    @hookimpl
    def faber_record_store(self) -> FilesRecordStore:
        return self.store

    @hookimpl
    def faber_check_health(self) -> list[HealthCheck]:
        """The runs folder exists (or can be made) and takes a new file."""
        from faber_hookspecs.reports import HealthCheck

        probe = self.runs_dir / f".doctor-probe-{os.getpid()}"
        try:
            self.runs_dir.mkdir(mode=int(self.config.dir_mode, 8), parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as problem:
            return [HealthCheck(
                name="runs folder writable", verdict="fail",
                detail=f"cannot write in {self.runs_dir}: {problem.strerror or problem}",
            )]
        return [HealthCheck(name="runs folder writable", verdict="ok", detail=str(self.runs_dir))]


class FilesRecordStore:
    """The ``RecordStore`` protocol on ``LocalRunStore``: models in, models out, plain JSON on disk."""

    def __init__(self, files: LocalRunStore) -> None:
        self.files = files

    def create_run(self, metadata: RunMetadata) -> RunMetadata:
        self.files.create_run(metadata.to_json())
        return metadata

    def append(self, run_id: str, draft: EventDraft) -> StoredEvent:
        parsed = RunId.parse(run_id)
        event, state = self.files.append(parsed, draft.to_json())
        event_id = event["event_id"]
        what = f"the state of run {run_id} after event {event_id}"

        def load_state() -> RunState:
            from faber_hookspecs.state import RunState

            # ``state`` is this thread's cached state, which its next emit changes in place: a model
            # of it serves only if it is still this event's (validation copies it in one step).
            if state is not None:
                model = stored(RunState, state, what)
                if model.last_event_id == event_id:
                    return model
            return stored(RunState, self.files.state_at(parsed, event_id), what)

        position = {name: state[name] for name in POSITION_FIELDS} if state is not None else None
        return StoredEvent(Event.model_validate(event), load_state=load_state, position=position)

    def update_metadata(self, run_id: str, update: Callable[[RunMetadata], RunMetadata]) -> RunMetadata:
        from faber_hookspecs.metadata import RunMetadata

        def apply(current: dict) -> dict:  # type: ignore[type-arg]
            return update(stored(RunMetadata, current, f"metadata.json of run {run_id}")).to_json()

        return RunMetadata.model_validate(self.files.update_metadata(RunId.parse(run_id), apply))

    def save_state(self, run_id: str, state: RunState) -> None:
        self.files.write_state_if_newer(RunId.parse(run_id), state.model_dump(mode="json"))

    def import_history(self, metadata: RunMetadata, events: list[Event]) -> RunRecord:
        self.files.import_history(metadata.to_json(), [event.to_json() for event in events])
        return self.load_run(metadata.run_id)

    def import_bundle(self, bundle: ArchiveBundle) -> RunRecord:
        from .archiving import import_run

        return self.load_run(str(import_run(self.files, bundle)))

    def load_run(self, run_id: str) -> RunRecord:
        from faber_hookspecs.metadata import RunMetadata
        from faber_hookspecs.runs import RunRecord
        from faber_hookspecs.state import RunState

        from .inspection import inspect_run

        parsed = RunId.parse(run_id)
        metadata, state, warnings = inspect_run(self.files, parsed)
        folder = self.files.folder(parsed)
        return RunRecord(
            metadata=stored(RunMetadata, metadata, f"metadata.json of run {run_id}"),
            state=stored(RunState, state, f"the state of run {run_id}"),
            location=folder.path,
            warnings=warnings,
            events_local=not folder.events_removed(),
        )

    def events(self, run_id: str, since_id: int = 0) -> Iterator[Event]:
        events = self.files.iter_events(RunId.parse(run_id), since_id)
        return (stored(Event, event, f"event {event.get('event_id')!r} of run {run_id}", {STORED_ELSEWHERE: True})
                for event in events)

    def reconstruct(self, run_id: str) -> RunState:
        from faber_hookspecs.state import RunState

        return stored(RunState, self.files.reconstruct(RunId.parse(run_id)), f"the state rebuilt for run {run_id}")

    def list_runs(self, query: RunQuery) -> list[RunState]:
        from faber_hookspecs.state import RunState

        with collection_paused():
            # No limit here: a damaged state is skipped, and the next run takes its place.
            states = select_states(self.files.list_states(query.org, query.project), query.status, query.work_id,
                                   None, workflow_id=query.workflow_id, since=query.since, until=query.until)
            models: list[RunState] = []
            for state in states:
                if query.limit is not None and len(models) >= query.limit:
                    break
                try:
                    models.append(stored(RunState, state, "a listed run's state"))
                except StorageError:
                    continue  # a damaged run is reported when it is read, not by hiding the others
            del states  # freed now, before the collector, when it resumes, walks what is still young
        return models

    def find_runs(self, uuid_prefix: str) -> list[str]:
        return self.files.find_runs(uuid_prefix)

    def consolidate(self, run_id: str) -> ArchiveBundle:
        from .archiving import consolidate_run

        return consolidate_run(self.files, RunId.parse(run_id))

    def cleanup(self, run_id: str, manifest_sha256: str, dry_run: bool) -> RemovedEvents:
        from .archiving import cleanup_run

        return cleanup_run(self.files, RunId.parse(run_id), manifest_sha256, dry_run=dry_run)

    def verify(self, run_id: str) -> VerifyReport:
        from .inspection import verify_run

        return verify_run(self.files, RunId.parse(run_id))

    def repair(self, run_id: str) -> RepairReport:
        from .repair import repair_run

        return repair_run(self.files, RunId.parse(run_id))


M = TypeVar("M", bound=BaseModel)


def stored(model: type[M], data: object, what: str, context: dict[str, Any] | None = None) -> M:
    """``model.model_validate(data, context=context)`` for data read from disk: a file damaged or
    edited by hand is a StorageError naming it, not a validation traceback."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as problem:
        error = problem.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise StorageError(
            f"{what} is not valid ({where}: {error['msg']}); `faber runs verify` lists the damage"
        ) from None


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block: building thousands of objects that all
    stay alive (a listing's states and models) triggers collections that walk everything alive, for no
    garbage at all (nothing here makes reference cycles)."""
    if not gc.isenabled():  # paused by the caller (or another thread): leave it to them
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

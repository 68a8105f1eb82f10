"""The ``s3_store`` backend: the record store in a bucket, shared by every machine that points at it.

Enabled in gateway.json instead of ``local_files`` (exactly one record store is enabled)::

    "local_files": {"enabled": false},
    "s3_store": {"enabled": true, "config": {"bucket": "acme-faber", "prefix": "faber/store/",
                 "region": "eu-west-1"}}

The connection keys are ``s3_archive``'s; credentials come from boto3's standard chain. ``log.py``
holds the bucket layout and the append; this module is the ``RecordStore`` protocol on it, with what
needs files (a bundle to archive, a bundle to restore, the checks of an imported history) done by the
local-files store in a scratch folder of the project, rather than a second time here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from faber_backend_local_files.inspection import RunScan, check_state, id_gaps
from faber_backend_local_files.plugin import collection_paused, stored
from faber_backend_local_files.store import LocalRunStore, replay, select_states
from faber_hookspecs.archive import ArchiveBundle, RemovedEvents
from faber_hookspecs.errors import ArchiveError, InvalidEvent, StorageError
from faber_hookspecs.events import Event, EventDraft
from faber_hookspecs.integrity import RepairReport, VerifyReport
from faber_hookspecs.markers import hookimpl
from faber_hookspecs.metadata import RunMetadata
from faber_hookspecs.records import POSITION_FIELDS, BackendContext, StoredEvent
from faber_hookspecs.reducer import initial_state_for
from faber_hookspecs.reports import HealthCheck
from faber_hookspecs.run_id import RunId
from faber_hookspecs.runs import RunQuery, RunRecord
from faber_hookspecs.state import RunState
from faber_hookspecs.validation import validate_event
from faber_hookspecs.wire import dump_document, dump_event
from pydantic import Field

from ..config import S3ArchiveConfig
from .log import BucketLog, json_object

Json = dict[str, Any]
PROBE_KEY = ".faber-conditional-writes"


class S3StoreConfig(S3ArchiveConfig):
    """The ``config`` object of ``backends.s3_store``: ``s3_archive``'s keys (its archive-only ones
    are ignored), with a prefix of its own so that the two never share keys."""

    prefix: str = Field("faber/store/", description="Key prefix of the runs; with or without a trailing slash.")


class S3StoreBackend:
    """Offers the bucket as the record store. boto3 is imported on first use."""

    config_model = S3StoreConfig

    def __init__(self, config: S3StoreConfig, context: BackendContext) -> None:
        self.store = S3RecordStore(config, Path(context.faber_dir) / "s3-store")

    @hookimpl
    def faber_record_store(self) -> S3RecordStore:
        return self.store

    @hookimpl
    def faber_check_health(self) -> list[HealthCheck]:
        """The bucket takes conditional writes (the probe ``S3RecordStore.writable`` runs)."""
        where = f"s3://{self.store.config.bucket}/{self.store.log.layout.base}"
        try:
            self.store.writable(again=True)
        except StorageError as problem:
            return [HealthCheck(name="record store in the bucket", verdict="fail", detail=str(problem))]
        return [HealthCheck(name="record store in the bucket", verdict="ok", detail=f"{where}: conditional writes")]


class S3RecordStore:
    """The ``RecordStore`` protocol on ``BucketLog``: models in, models out, plain JSON in the bucket."""

    def __init__(self, config: S3StoreConfig, scratch: Path) -> None:
        self.config = config
        self.scratch = scratch
        self._log: BucketLog | None = None
        self._probed = False

    @property
    def log(self) -> BucketLog:
        if self._log is None:
            from ..client import make_client

            self._log = BucketLog(make_client(self.config), self.config)
        return self._log

    def writable(self, *, again: bool = False) -> BucketLog:
        """The log, once the bucket has shown it honours If-None-Match and If-Match: a create over an
        existing object and a replace with a wrong ETag must both be refused. Probed once per machine
        (remembered in the scratch folder), since without them two writers could take one id."""
        where = f"{self.config.endpoint_url or 's3'} {self.config.bucket}/{self.log.layout.base}"
        marker = self.scratch / "conditional-writes-checked"
        if self._probed or (not again and marker.is_file() and marker.read_text() == where):
            return self.log
        key = self.log.layout.listing_prefix() + PROBE_KEY
        self.log.put(key, b"{}", IfNoneMatch="*")
        if self.log.put(key, b"{}", IfNoneMatch="*") is not None or self.log.put(key, b"{}", IfMatch='"0"') is not None:
            raise StorageError(
                f"s3_store needs an S3 service with conditional writes (If-None-Match, If-Match), and "
                f"s3://{self.config.bucket} at {self.config.endpoint_url or 'AWS'} ignored them: refusing to start "
                "(enable local_files instead, or use AWS S3, MinIO, R2 or Ceph with conditional writes)"
            )
        self.scratch.mkdir(parents=True, exist_ok=True)
        marker.write_text(where)
        self._probed = True
        return self.log

    def create_run(self, metadata: RunMetadata) -> RunMetadata:
        self.writable().create_run(metadata.to_json())
        return metadata

    def append(self, run_id: str, draft: EventDraft) -> StoredEvent:
        parsed = RunId.parse(run_id)
        event, state = self.writable().append(parsed, draft.to_json())
        event_id = event["event_id"]

        def load_state() -> RunState:
            # ``state`` is shared with this thread's next emit, which changes it in place: it serves
            # only while it is still this event's.
            if state["last_event_id"] == event_id:
                return stored(RunState, state, f"the state of run {run_id}")
            events = (e for e in self.log.events(parsed) if e["event_id"] <= event_id)
            return stored(RunState, replay(initial_state_for(self.log.metadata(parsed)[0]), events, parsed),
                          f"the state of run {run_id}")

        position = {name: state[name] for name in POSITION_FIELDS}
        return StoredEvent(Event.model_validate(event), load_state=load_state, position=position)

    def update_metadata(self, run_id: str, update: Callable[[RunMetadata], RunMetadata]) -> RunMetadata:
        def apply(current: Json) -> Json:
            return update(stored(RunMetadata, current, f"metadata.json of run {run_id}")).to_json()

        return RunMetadata.model_validate(self.writable().update_metadata(RunId.parse(run_id), apply))

    def save_state(self, run_id: str, state: RunState) -> None:
        self.writable().checkpoint(RunId.parse(run_id), state.model_dump(mode="json"), None)
        self.log.forget(RunId.parse(run_id))

    def import_history(self, metadata: RunMetadata, events: list[Event]) -> RunRecord:
        run_id = RunId.parse(metadata.run_id)
        # The local store checks the history (ids, run id, schema, times) exactly as for local files.
        self._publish(run_id, lambda scratch: scratch.import_history(metadata.to_json(), [e.to_json() for e in events]))
        return self.load_run(metadata.run_id)

    def import_bundle(self, bundle: ArchiveBundle) -> RunRecord:
        from faber_backend_local_files.archiving import import_run

        run_id = RunId.parse(bundle.run_id)
        if next(self.log.event_keys(run_id), None) is not None:
            raise ArchiveError(f"run {run_id} already has its events in the bucket; nothing was restored")
        self._publish(run_id, lambda scratch: import_run(scratch, bundle))
        return self.load_run(bundle.run_id)

    def _publish(self, run_id: RunId, fill: Callable[[LocalRunStore], object]) -> None:
        """Build the run in the scratch folder with ``fill`` (every check there), then copy it to the
        bucket: its events, its state, and its metadata last, which makes it visible."""
        log = self.writable()
        if log.get(log.key(run_id, "metadata.json")) is not None:
            raise StorageError(f"run {run_id} already exists in s3://{self.config.bucket}/{log.layout.base}")
        from faber_backend_local_files.bundle import event_names, file_id

        scratch = self._scratch(run_id)
        fill(scratch)
        events_dir = scratch.events_folder(run_id).events_dir
        for name in event_names(events_dir):  # their bytes as they are: a restore is byte for byte
            data = Path(events_dir, name).read_bytes()
            key = log.event_key(run_id, file_id(name))
            if log.put(key, data, IfNoneMatch="*") is None and (log.get(key) or (b"",))[0] != data:
                raise StorageError(f"event {file_id(name)} of run {run_id} is already in the bucket, and different; "
                                   "nothing was replaced (`faber runs verify` shows the run)")
        log.checkpoint(run_id, scratch.current_state(run_id), None)
        if log.put(log.key(run_id, "metadata.json"), dump_document(scratch.load_metadata(run_id)),
                   IfNoneMatch="*") is None:
            raise StorageError(f"run {run_id} was created by another writer meanwhile")
        log.forget(run_id)

    def _scratch(self, run_id: RunId) -> LocalRunStore:
        """The local-files store of the scratch folder, without a copy of ``run_id`` in it."""
        scratch = LocalRunStore(os.fspath(self.scratch / "runs"), sync=False)
        shutil.rmtree(os.path.join(scratch.runs_dir, *run_id), ignore_errors=True)
        return scratch

    def load_run(self, run_id: str) -> RunRecord:
        parsed = RunId.parse(run_id)
        metadata = self.log.metadata(parsed)[0]
        state = self.log.state(parsed)[0]
        return RunRecord(
            metadata=stored(RunMetadata, metadata, f"metadata.json of run {run_id}"),
            state=stored(RunState, state, f"the state of run {run_id}"),
            location=f"s3://{self.config.bucket}/{self.log.layout.run_prefix(parsed)}",
        )

    def events(self, run_id: str, since_id: int = 0) -> Iterator[Event]:
        parsed = RunId.parse(run_id)
        self.log.metadata(parsed)  # RunNotFound for a run the bucket does not hold
        return (stored(Event, event, f"event {event['event_id']} of run {run_id}")
                for event in self.log.events(parsed, since_id))

    def reconstruct(self, run_id: str) -> RunState:
        parsed = RunId.parse(run_id)
        state = replay(initial_state_for(self.log.metadata(parsed)[0]), self.log.events(parsed), parsed)
        return stored(RunState, state, f"the state rebuilt for run {run_id}")

    def list_runs(self, query: RunQuery) -> list[RunState]:
        def state_of(run_id: RunId) -> Json | None:
            try:
                return self.log.state(run_id)[0]
            except StorageError:
                return None  # a damaged run is reported when it is read, not by hiding the others

        with collection_paused(), ThreadPoolExecutor(max_workers=8, thread_name_prefix="faber-s3-list") as pool:
            states = [s for s in pool.map(state_of, self.log.run_ids(query.org, query.project)) if s is not None]
            selected = select_states(states, query.status, query.work_id, query.limit,
                                     workflow_id=query.workflow_id, since=query.since, until=query.until)
            return [stored(RunState, state, "a listed run's state") for state in selected]

    def find_runs(self, uuid_prefix: str) -> list[str]:
        return [str(run_id) for run_id in self.log.run_ids(uuid_prefix=uuid_prefix)]

    def consolidate(self, run_id: str) -> ArchiveBundle:
        """The bundle the local-files store writes for the same run: the same events give the same bytes."""
        from faber_backend_local_files.archiving import consolidate_run

        parsed = RunId.parse(run_id)
        metadata = self.log.metadata(parsed)[0]
        events = list(self.log.events(parsed))
        scratch = self._scratch(parsed)
        scratch.import_history(metadata, events)
        return consolidate_run(scratch, parsed)

    def cleanup(self, run_id: str, manifest_sha256: str, dry_run: bool) -> RemovedEvents:
        """Nothing to clean up: the bucket is where the events live, on every machine."""
        self.log.metadata(RunId.parse(run_id))
        return RemovedEvents(run_id=run_id, files=0, bytes=0, dry_run=dry_run)

    def verify(self, run_id: str) -> VerifyReport:
        parsed = RunId.parse(run_id)
        return _report(run_id, self._scan(parsed))

    def _scan(self, run_id: RunId) -> RunScan:
        """Every object of the run read and checked, as ``inspection.scan_run`` checks a folder."""
        log = self.log
        metadata, _ = log.get_json(log.key(run_id, "metadata.json"))
        scan = RunScan(metadata=metadata if metadata and metadata.get("run_id") == str(run_id) else None)
        if scan.metadata is None:
            log.metadata(run_id)  # RunNotFound when there is no such run at all
            scan.add("metadata_invalid", "metadata.json is not valid JSON or names another run", "metadata.json")
        for event_id, data in log.raw_events(run_id):
            scan.files += 1
            scan.highest_id = max(scan.highest_id, event_id)
            name = f"events/{event_id:012d}.json"
            event = json_object(data)
            if event is None:
                scan.add("event_unreadable", f"{name} is not a JSON object", name)
                continue
            try:
                if event.get("event_id") != event_id or event.get("run_id") != str(run_id):
                    raise InvalidEvent("its event_id or run_id is not its key's")
                validate_event(event)
            except InvalidEvent as problem:
                scan.add("event_invalid", f"{name} is not a valid event: {problem}", name)
                continue
            scan.events.append(event)
            scan.kept[event_id] = name
        for first, last in id_gaps(sorted(scan.kept), scan.highest_id):
            scan.add("event_gap", f"no event with id {first}" + (f" to {last}" if last > first else ""), "events/")
        if scan.metadata is not None:
            rebuilt = replay(initial_state_for(scan.metadata), iter(scan.events), run_id)
            check_state(scan, log.get_json(log.key(run_id, "state.json"))[0], rebuilt)
        return scan

    def repair(self, run_id: str) -> RepairReport:
        """Damaged events are copied to ``events/.quarantine/`` and replaced, like missing ones, by a
        ``log_repaired`` event at their id (ids stay gap-free); state.json is rewritten."""
        from faber_backend_local_files.repair import QUARANTINE, repair_event

        parsed = RunId.parse(run_id)
        log = self.writable()
        scan = self._scan(parsed)
        before = _report(run_id, scan)
        actions: list[str] = []
        quarantined: list[str] = []
        if scan.metadata is None:
            raise StorageError(f"metadata.json of run {run_id} is damaged: restore it from an archive")
        previous = None
        for event_id in range(1, scan.highest_id + 1):
            if event_id in scan.kept:
                previous = next(e["timestamp"] for e in scan.events if e["event_id"] == event_id)
                continue
            key = log.event_key(parsed, event_id)
            found = log.get(key)
            name = f"events/{event_id:012d}.json"
            if found is not None:
                quarantined.append(f"events/{QUARANTINE}/{event_id:012d}.json")
                log.put(log.key(parsed, quarantined[-1]), found[0])
            placeholder = dump_event(repair_event(parsed, event_id, name if found else None, previous))
            log.put(key, placeholder, **({"IfMatch": found[1]} if found else {"IfNoneMatch": "*"}))
            actions.append(f"event {event_id}: a log_repaired event in place of the " +
                           ("damaged object" if found else "missing one"))
        state = replay(initial_state_for(scan.metadata), log.events(parsed), parsed)
        current = log.get(log.key(parsed, "state.json"))
        if before.problems and log.put(log.key(parsed, "state.json"), dump_document(state),
                   **({"IfMatch": current[1]} if current else {"IfNoneMatch": "*"})) is not None:
            actions.append("state.json rewritten from the events")
        log.forget(parsed)
        return RepairReport(run_id=run_id, actions=actions, quarantined=quarantined, before=before,
                            after=self.verify(run_id))


def _report(run_id: str, scan: RunScan) -> VerifyReport:
    return VerifyReport(run_id=run_id, ok=not scan.problems, events=scan.files, last_event_id=scan.highest_id,
                        problems=scan.problems)

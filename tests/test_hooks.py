"""One test per hook specification (``test_hook_<name>``), datasette style: each shows the host calling
the hook with its documented arguments and using the answer as documented, and one test per method of
the record store protocol (``test_store_<method>``), called through the API with a store that records
its calls. ``test_hook_docs.py`` fails when a hookspec has no such test. Backends here are plain
classes given to the testing kit's ``faber_gateway`` fixture, as a third party would write them."""

from __future__ import annotations

import hashlib
import inspect
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import S3_STORE
from faber_hookspecs import hookimpl
from faber_hookspecs.archive import (
    MANIFEST_FILE,
    ArchiveBundle,
    ArchivedObject,
    ArchivedRun,
    ArchiveManifest,
    ArchivePolicy,
    ArchiveQuery,
    ArchiveReceipt,
    ProgressCallback,
    RemovedEvents,
    RunRef,
)
from faber_hookspecs.errors import ArchiveError, BackendError, ConfigError, IntegrityError, RunNotFound
from faber_hookspecs.events import Event
from faber_hookspecs.metadata import RunMetadata
from faber_hookspecs.records import BackendContext
from faber_hookspecs.reports import FlushReport, HealthCheck
from faber_hookspecs.runs import RunQuery, RunRecord
from faber_hookspecs.state import RunState
from faber_hookspecs.store import RecordStore
from faber_hookspecs.wire import utc_timestamp

from faber_host.api import Faber
from faber_host.gateway.logging_off import OffStore
from faber_host.testing import EventFactory, GatewayFactory, TestProject


class Probe:
    """Records every notification it sees."""

    calls: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def __init__(self, config: object, context: BackendContext) -> None:
        self.context = context

    def _saw(self, hook: str, **kwargs: Any) -> None:
        Probe.calls.append((hook, kwargs))

    @hookimpl
    def faber_emit_event(self, event: Event, state: RunState) -> None:
        self._saw("faber_emit_event", event=event, state=state)

    @hookimpl
    def faber_persist_state(self, run_id: str, state: RunState) -> None:
        self._saw("faber_persist_state", run_id=run_id, state=state)


class RecordingStore:
    """A third-party record store: the local files' store (``s3_store`` on a bucket of the kit's S3
    server under ``FABER_TEST_STORE=s3_store``, ``tox -e s3-store``) behind a backend of its own,
    recording each call it gets (as ``(method, arguments)`` in ``Probe.calls``)."""

    in_a_bucket: ClassVar[dict[str, str] | None] = None
    """The s3_store config, when the store tests run on it (see ``store_under_test``)."""

    def __init__(self, config: object, context: BackendContext) -> None:
        if RecordingStore.in_a_bucket is not None:
            from faber_backend_s3.store import S3StoreBackend, S3StoreConfig

            self.inner: Any = S3StoreBackend(S3StoreConfig(**RecordingStore.in_a_bucket), context).store
            return
        from faber_backend_local_files.plugin import LocalFilesBackend, LocalFilesConfig

        self.inner = LocalFilesBackend(LocalFilesConfig(), context).store

    @hookimpl
    def faber_record_store(self) -> RecordingStore:
        return self

    def __getattr__(self, method: str) -> Callable[..., Any]:
        inner = getattr(self.inner, method)

        def recorded(*args: Any) -> Any:
            Probe.calls.append((method, dict(zip(inspect.signature(inner).parameters, args, strict=False))))
            return inner(*args)

        return recorded


def write_stored(faber: Faber, run_id: str, name: str, data: bytes) -> None:
    """Change one of the run's stored files behind the store's back: in its folder, or its object."""
    if RecordingStore.in_a_bucket is None:
        (faber.project.faber_dir / "runs" / run_id / name).write_bytes(data)
        return
    client = faber.gateway.store.inner.log.client  # type: ignore[attr-defined]
    client.put_object(Bucket=RecordingStore.in_a_bucket["bucket"], Key=f"faber/store/{run_id}/{name}", Body=data)


def read_stored(faber: Faber, run_id: str, name: str) -> bytes:
    if RecordingStore.in_a_bucket is None:
        return (faber.project.faber_dir / "runs" / run_id / name).read_bytes()
    client = faber.gateway.store.inner.log.client  # type: ignore[attr-defined]
    answer = client.get_object(Bucket=RecordingStore.in_a_bucket["bucket"], Key=f"faber/store/{run_id}/{name}")
    return bytes(answer["Body"].read())


def seen(hook: str) -> list[dict[str, Any]]:
    return [kwargs for name, kwargs in Probe.calls if name == hook]


@pytest.fixture(autouse=True)
def store_under_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Under ``FABER_TEST_STORE=s3_store``, the RecordingStore keeps its runs in a new bucket."""
    if S3_STORE:
        server = request.getfixturevalue("faber_s3_server")
        RecordingStore.in_a_bucket = {"bucket": server.create_bucket(), "endpoint_url": server.url,
                                      "region": "us-east-1"}
    yield
    RecordingStore.in_a_bucket = None


@pytest.fixture
def probed(faber_project: TestProject, faber_gateway: GatewayFactory) -> Iterator[Faber]:
    """The API with the Probe enabled, and the RecordingStore as the record store."""
    Probe.calls = []
    faber_project.enable("recording", backend=RecordingStore)
    faber_project.enable("probe", backend=Probe)
    faber_project.only("recording", "probe")
    yield faber_project.faber()
    Probe.calls = []


# Record store: writes ----------------------------------------------------------------------------


def test_hook_faber_record_store(faber_project: TestProject, faber_gateway: GatewayFactory) -> None:
    faber_project.enable("recording", backend=RecordingStore)
    faber_project.only("recording")
    gateway = faber_project.gateway()
    assert (gateway.store_backend, type(gateway.store)) == ("recording", RecordingStore)
    assert isinstance(gateway.store, RecordStore), "the protocol is checked when the gateway opens"
    faber_project.only("recording", "local_files")
    with pytest.raises(ConfigError, match=r"more than one record store \(local_files, recording\): enable exactly one"):
        faber_project.gateway()
    faber_project.enable("probe", backend=Probe)
    faber_project.only("probe")  # local_files disabled and no other store: event logging is off
    assert isinstance(faber_project.gateway().store, OffStore)
    document = faber_project.gateway_document()
    del document["backends"]["local_files"]  # not disabled, only missing: a store is wanted
    faber_project.write_gateway(document)
    with pytest.raises(BackendError, match="no record store is enabled"):
        faber_project.gateway()


def seen_store(method: str) -> list[dict[str, Any]]:
    return [kwargs for name, kwargs in Probe.calls if name == method]


# The record store, through the API ---------------------------------------------------------------


def test_store_create_run(probed: Faber) -> None:
    metadata = probed.new_run("42", params={"ticket": "W-42"})
    (call,) = seen_store("create_run")
    assert call["metadata"].run_id == metadata.run_id and call["metadata"].params == {"ticket": "W-42"}
    assert probed.run(metadata.run_id).metadata.work_id == "42", "stored"


def test_store_append(probed: Faber) -> None:
    run_id = probed.new_run("1").run_id
    stored = probed.emit(run_id, "step_start", phase="build", step="compile")
    (call,) = seen_store("append")
    assert call["run_id"] == run_id and call["draft"].type == "step_start" and call["draft"].step == "compile"
    assert stored.event.event_id == 1 and stored.state.last_event_id == 1
    assert [event.event_id for event in probed.events(run_id)] == [1]


def test_store_update_metadata(probed: Faber) -> None:
    run_id = probed.new_run("1").run_id

    def add_child(metadata: RunMetadata) -> RunMetadata:
        metadata.relationships.child_runs.append(run_id)
        return metadata

    updated = probed.gateway.store.update_metadata(run_id, add_child)
    assert seen_store("update_metadata")[0]["update"] is add_child
    assert updated.relationships.child_runs == [run_id]
    assert probed.run(run_id).metadata.relationships.child_runs == [run_id], "stored"


def test_store_save_state(probed: Faber) -> None:
    run_id = probed.new_run("1").run_id
    probed.emit(run_id, "workflow_start")
    write_stored(probed, run_id, "state.json", b"{}")
    probed.reconstruct(run_id, write=False)
    assert seen_store("save_state") == [] and read_stored(probed, run_id, "state.json") == b"{}", "only when asked"
    state, _ = probed.reconstruct(run_id, write=True)
    assert seen_store("save_state") == [{"run_id": run_id, "state": state}]
    assert json.loads(read_stored(probed, run_id, "state.json"))["last_event_id"] == 1


def test_store_import_history(probed: Faber, faber_events: EventFactory) -> None:
    template = probed.new_run("9")
    run_id = faber_events.run_id()
    metadata = template.model_copy(update={"run_id": run_id})
    events = faber_events.events(faber_events.workflow()[:4], run_id=run_id)
    record = probed.gateway.store.import_history(metadata, events)
    (call,) = seen_store("import_history")
    assert call["metadata"].run_id == run_id and [e.event_id for e in call["events"]] == [1, 2, 3, 4]
    assert record.metadata.run_id == run_id and record.state.last_event_id == 4
    assert [event.to_json() for event in probed.events(run_id)] == [event.to_json() for event in events], "as given"
    assert seen("faber_emit_event") == [], "history, not news"


def test_store_load_run(probed: Faber) -> None:
    run_id = probed.new_run("7").run_id
    record = probed.run(run_id)
    assert isinstance(record, RunRecord) and record.metadata.work_id == "7"
    assert seen_store("load_run") == [{"run_id": run_id}]


def test_store_events(probed: Faber) -> None:
    run_id = probed.new_run("1").run_id
    for _ in range(4):
        probed.emit(run_id, "checkpoint")
    assert [event.event_id for event in probed.events(run_id, since_id=2)] == [3, 4]
    assert seen_store("events") == [{"run_id": run_id, "since_id": 2}]


def test_store_reconstruct(probed: Faber) -> None:
    run_id = probed.new_run("1").run_id
    probed.emit(run_id, "workflow_start")
    state, _ = probed.reconstruct(run_id)
    assert state.status == "in_progress" and state.last_event_id == 1
    assert seen_store("reconstruct") == [{"run_id": run_id}]


def test_store_list_runs(probed: Faber) -> None:
    first = probed.new_run("1").run_id
    probed.new_run("2")
    assert [state.run_id for state in probed.list_runs(work_id="1")] == [first]
    assert seen_store("list_runs")[0]["query"] == RunQuery(work_id="1")


def test_store_find_runs(probed: Faber) -> None:
    run_id = probed.new_run("1").run_id
    uuid = run_id.split("/")[2]
    assert str(probed.resolve(uuid[:8])) == run_id
    assert seen_store("find_runs") == [{"uuid_prefix": uuid[:8]}]
    assert str(probed.resolve(run_id)) == run_id
    assert len(seen_store("find_runs")) == 1, "a full run id needs no search"


# Notifications -------------------------------------------------------------------------------------


def test_hook_faber_emit_event(probed: Faber, faber_events: EventFactory) -> None:
    run_id = probed.new_run("1").run_id
    for draft in faber_events.workflow()[:3]:
        probed.emit_draft(run_id, draft.model_dump(mode="json", exclude_none=True))
    calls = seen("faber_emit_event")
    assert [call["event"].event_id for call in calls] == [1, 2, 3]
    assert [call["state"].last_event_id for call in calls] == [1, 2, 3], "with the state after each event"
    assert calls[-1]["state"].current_step == "fetch-work"


def test_hook_faber_persist_state(probed: Faber) -> None:
    run_id = probed.new_run("1").run_id
    probed.emit(run_id, "workflow_start")
    assert [call["state"].last_event_id for call in seen("faber_persist_state")] == [1]
    probed.reconstruct(run_id, write=False)
    assert len(seen("faber_persist_state")) == 1, "a rebuilt state is persisted only when asked"
    probed.reconstruct(run_id, write=True)
    assert [call["run_id"] for call in seen("faber_persist_state")] == [run_id, run_id]


# Archive (issue 5's hooks) -----------------------------------------------------------------------


class Shelf:
    """An archive backend that keeps bundles in a folder (``config["folder"]``, whose name is the
    backend's), copied and verified like a real archive; ``config["policy"]`` is what it asks for
    when a run completes."""

    seen: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def __init__(self, config: dict[str, Any], context: BackendContext) -> None:
        self.folder = Path(config["folder"])
        self.name = self.folder.name
        self.policy = config.get("policy")

    @hookimpl
    def faber_archive_run(self, run: RunRecord, bundle: ArchiveBundle, progress: ProgressCallback) -> ArchiveReceipt:
        Shelf.seen.append(("faber_archive_run", {"backend": self.name, "run": run, "bundle": bundle}))
        target = self.folder / bundle.run_id
        target.mkdir(parents=True, exist_ok=True)
        objects = []
        for entry in bundle.files():
            shutil.copyfile(bundle.path(entry.name), target / entry.name)
            data = (target / entry.name).read_bytes()
            sha256 = hashlib.sha256(data).hexdigest()
            objects.append(ArchivedObject(name=entry.name, key=str(target / entry.name), size=len(data),
                                          sha256=sha256, verified=(len(data), sha256) == (entry.size, entry.sha256)))
            progress(entry.name, len(data), entry.size)
        return ArchiveReceipt(backend=self.name, run_id=bundle.run_id, url=f"{target.as_uri()}/",
                              manifest_sha256=bundle.manifest_sha256, objects=objects,
                              verified=all(o.verified for o in objects), archived_at=utc_timestamp())

    @hookimpl
    def faber_restore_run(self, run_ref: RunRef, destination: Path, progress: ProgressCallback) -> ArchiveBundle | None:
        Shelf.seen.append(("faber_restore_run", {"run_ref": run_ref, "empty": not any(destination.iterdir())}))
        source = self.folder / run_ref.run_id
        if not (source / MANIFEST_FILE).is_file():
            return None
        for path in source.iterdir():
            shutil.copyfile(path, destination / path.name)
        data = (destination / MANIFEST_FILE).read_bytes()
        manifest = ArchiveManifest.model_validate_json(data)
        for entry in manifest.files:
            if hashlib.sha256((destination / entry.name).read_bytes()).hexdigest() != entry.sha256:
                raise IntegrityError(f"{entry.name} does not match its sha256 in the manifest")
        return ArchiveBundle(run_id=run_ref.run_id, directory=destination, manifest=manifest,
                             manifest_sha256=hashlib.sha256(data).hexdigest(), manifest_size=len(data),
                             source_backend=self.name, source_url=f"{source.as_uri()}/")

    @hookimpl
    def faber_list_archived_runs(self, query: ArchiveQuery) -> list[ArchivedRun]:
        Shelf.seen.append(("faber_list_archived_runs", {"backend": self.name, "query": query}))
        runs = []
        for manifest in sorted(self.folder.glob(f"{query.org or '*'}/{query.project or '*'}/*/{MANIFEST_FILE}")):
            files = list(manifest.parent.iterdir())
            runs.append(ArchivedRun(run_id="/".join(manifest.parent.relative_to(self.folder).parts),
                                    backend=self.name, url=f"{manifest.parent.as_uri()}/",
                                    size=sum(p.stat().st_size for p in files), objects=len(files)))
        return runs

    @hookimpl
    def faber_archive_policy(self) -> ArchivePolicy | None:
        return None if self.policy is None else ArchivePolicy(backend=self.name, **self.policy)


class BrokenLister:
    def __init__(self, config: object, context: BackendContext) -> None:
        pass

    @hookimpl
    def faber_list_archived_runs(self, query: ArchiveQuery) -> list[ArchivedRun]:
        raise BackendError("the archive's index is locked")


def shelved(
    faber_project: TestProject, faber_gateway: GatewayFactory, tmp_path: Path, **shelves: dict[str, bool] | None
) -> Faber:
    """The API with a Shelf per name given (its folder tmp_path/name), asking for its policy if one is given."""
    Shelf.seen = []
    config = {name: {"folder": str(tmp_path / name), **({"policy": policy} if policy else {})}
              for name, policy in shelves.items()}
    return Faber(faber_project.project, faber_gateway(config=config, backends=dict.fromkeys(shelves, Shelf)))


def finished_run(faber: Faber, events: int = 5) -> str:
    """A run of ``events`` events that completed."""
    run_id = faber.new_run("42").run_id
    faber.emit(run_id, "workflow_start")
    for index in range(events - 2):
        faber.emit(run_id, "checkpoint", message=f"step {index}")
    faber.emit(run_id, "workflow_complete")
    return run_id


def event_files(faber: Faber, run_id: str) -> dict[str, bytes]:
    """The run's event files here, by name, with their bytes."""
    folder = Path(faber.run(run_id).location) / "events"
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.name[0].isdigit()}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_store_consolidate(faber_project: TestProject, faber_gateway: GatewayFactory) -> None:
    faber = Faber(faber_project.project, faber_gateway())
    run_id = finished_run(faber, events=12)
    bundle = faber.gateway.store.consolidate(run_id)
    assert isinstance(bundle, ArchiveBundle) and bundle.run_id == run_id
    assert [entry.name for entry in bundle.files()] == ["events.jsonl", "state.json", "metadata.json", "manifest.json"]
    lines = bundle.path("events.jsonl").read_bytes().splitlines()
    assert [json.loads(line) for line in lines] == [event.to_json() for event in faber.events(run_id)]
    assert [json.loads(line)["event_id"] for line in lines] == list(range(1, 13)), "numeric order: 10 after 9"
    manifest = bundle.manifest
    assert (manifest.event_count, manifest.first_event_id, manifest.last_event_id) == (12, 1, 12)
    for entry in manifest.files:
        assert (bundle.path(entry.name).stat().st_size, sha256_of(bundle.path(entry.name))) == (entry.size, entry.sha256)
    assert sha256_of(bundle.path("manifest.json")) == bundle.manifest_sha256
    assert faber.consolidate_events(run_id).manifest_sha256 == bundle.manifest_sha256, "the same run, the same bytes"


def test_hook_faber_archive_run(faber_project: TestProject, faber_gateway: GatewayFactory, tmp_path: Path) -> None:
    faber = shelved(faber_project, faber_gateway, tmp_path, shelf=None, spare=None)
    run_id = finished_run(faber)
    sent: list[str] = []
    result = faber.archive_run(run_id, progress=lambda name, done, total: sent.append(name))
    assert result.archived and sorted(receipt.backend for receipt in result.receipts) == ["shelf", "spare"]
    assert all(r.verified and r.manifest_sha256 == result.manifest_sha256 for r in result.receipts)
    calls = [kwargs for hook, kwargs in Shelf.seen if hook == "faber_archive_run"]
    assert sorted(call["backend"] for call in calls) == ["shelf", "spare"], "broadcast: every archive gets it"
    for call in calls:
        assert call["run"].metadata.run_id == run_id and call["bundle"].manifest_sha256 == result.manifest_sha256
        copy = tmp_path / call["backend"] / run_id
        assert {path.name: path.read_bytes() for path in copy.iterdir()} == {
            entry.name: call["bundle"].path(entry.name).read_bytes() for entry in call["bundle"].files()
        }
    assert sent == 2 * ["events.jsonl", "state.json", "metadata.json", "manifest.json"]
    record = faber.run(run_id)
    assert record.events_local, "without cleanup the events stay"
    assert record.metadata.archive is not None and record.metadata.archive.manifest_sha256 == result.manifest_sha256
    assert sorted(location.backend for location in record.metadata.archive.locations) == ["shelf", "spare"]


def test_hook_faber_restore_run(faber_project: TestProject, faber_gateway: GatewayFactory, tmp_path: Path) -> None:
    faber = shelved(faber_project, faber_gateway, tmp_path, shelf=None)
    run_id = finished_run(faber)
    original = event_files(faber, run_id)
    archived = faber.archive_run(run_id, cleanup=True)
    assert faber.run(run_id).events_local is False
    restored = faber.restore_run(run_id)
    url = f"{(tmp_path / 'shelf' / run_id).as_uri()}/"
    (call,) = [kwargs for hook, kwargs in Shelf.seen if hook == "faber_restore_run"]
    assert call == {"run_ref": RunRef(run_id=run_id, url=url), "empty": True}, "where it was archived, into an empty folder"
    assert (restored.event_count, restored.manifest_sha256, restored.source_url) == (5, archived.manifest_sha256, url)
    assert event_files(faber, run_id) == original, "byte for byte"
    faber.archive_run(run_id, cleanup=True)
    shutil.rmtree(tmp_path / "shelf" / run_id)
    with pytest.raises(ArchiveError, match="is in no enabled archive"):
        faber.restore_run(run_id)  # the shelf answered None: it does not hold the run


def test_store_import_bundle(faber_project: TestProject, faber_gateway: GatewayFactory, tmp_path: Path) -> None:
    here = Faber(faber_project.project, faber_gateway())
    run_id = finished_run(here)
    bundle = here.gateway.store.consolidate(run_id)
    elsewhere = TestProject(tmp_path / "elsewhere").faber()

    damaged = bundle.model_copy(update={"directory": tmp_path / "damaged"})
    shutil.copytree(bundle.directory, damaged.directory)
    events = damaged.path("events.jsonl")
    events.write_bytes(events.read_bytes().replace(b"step 1", b"step X"))
    with pytest.raises(IntegrityError, match="damaged and was refused"):
        elsewhere.gateway.store.import_bundle(damaged)
    with pytest.raises(RunNotFound):
        elsewhere.run(run_id)

    record = elsewhere.gateway.store.import_bundle(bundle)
    assert isinstance(record, RunRecord) and record.metadata.run_id == run_id and record.events_local
    assert record.state.status == "completed" and record.state.last_event_id == 5
    assert event_files(elsewhere, run_id) == event_files(here, run_id), "byte for byte"
    with pytest.raises(ArchiveError, match="already has its events on this machine"):
        elsewhere.gateway.store.import_bundle(bundle)


def test_store_cleanup(faber_project: TestProject, faber_gateway: GatewayFactory, tmp_path: Path) -> None:
    faber = shelved(faber_project, faber_gateway, tmp_path, shelf=None)
    run_id = finished_run(faber)
    sha256 = faber.archive_run(run_id).manifest_sha256
    before = event_files(faber, run_id)
    size = sum(len(data) for data in before.values())

    dry = faber.gateway.store.cleanup(run_id, sha256, dry_run=True)
    assert dry == RemovedEvents(run_id=run_id, files=5, bytes=size, dry_run=True)
    assert event_files(faber, run_id) == before
    with pytest.raises(ArchiveError, match="changed since it was archived"):
        faber.gateway.store.cleanup(run_id, "0" * 64, dry_run=False)
    assert event_files(faber, run_id) == before, "another bundle: nothing removed"

    removed = faber.gateway.store.cleanup(run_id, sha256, dry_run=False)
    assert removed == RemovedEvents(run_id=run_id, files=5, bytes=size, dry_run=False)
    folder = Path(faber.run(run_id).location)
    assert not (folder / "events").exists()
    assert all((folder / name).is_file() for name in ("state.json", "metadata.json", "archive/manifest.json"))
    assert faber.run(run_id).state.last_event_id == 5, "the state stays readable"


def test_hook_faber_list_archived_runs(faber_project: TestProject, faber_gateway: GatewayFactory, tmp_path: Path) -> None:
    faber = shelved(faber_project, faber_gateway, tmp_path, shelf=None, spare=None)
    first, second = finished_run(faber), finished_run(faber)
    faber.archive_run(first)
    faber.archive_run(second)
    shutil.rmtree(tmp_path / "spare" / first)
    listed = faber.list_archived_runs()
    assert sorted((run.backend, run.run_id) for run in listed) == sorted(
        [("shelf", first), ("shelf", second), ("spare", second)]
    ), "every backend's list, merged"
    assert all(run.objects == 4 and run.size > 0 for run in listed)
    assert faber.list_archived_runs(org="acme", project="other-service") == []
    queries = [kwargs["query"] for hook, kwargs in Shelf.seen if hook == "faber_list_archived_runs"]
    assert queries[-1] == ArchiveQuery(org="acme", project="other-service")
    assert [run.run_id for run in faber.list_archived_runs(project="widget-service") if run.backend == "spare"] == [second]

    broken = Faber(faber_project.project, faber_gateway(backends={"broken": BrokenLister}))
    with pytest.raises(ArchiveError, match="listing the archive of backend 'broken' failed: the archive's index is locked"):
        broken.list_archived_runs()


@pytest.mark.parametrize(("policies", "archived", "events_local"), [
    ({"shelf": {"consolidate_on_complete": True}}, False, True),
    ({"shelf": {"archive_on_complete": True, "cleanup_local_after_archive": True},
      "spare": {"cleanup_local_after_archive": True}}, True, False),
    ({"shelf": {"archive_on_complete": True, "cleanup_local_after_archive": True},
      "spare": {"consolidate_on_complete": True}}, True, True),  # cleanup only if every policy asks
])
def test_hook_faber_archive_policy(
    faber_project: TestProject, faber_gateway: GatewayFactory, tmp_path: Path,
    policies: dict[str, dict[str, bool] | None], archived: bool, events_local: bool,
) -> None:
    faber = shelved(faber_project, faber_gateway, tmp_path, **policies)
    run_id = faber.new_run("1").run_id
    faber.emit(run_id, "workflow_start")
    assert not (Path(faber.run(run_id).location) / "archive").exists(), "nothing before the run completes"
    assert faber.emit(run_id, "workflow_complete").warnings == []
    assert not (Path(faber.run(run_id).location) / "archive").exists(), "archiving is a step of its own"
    done = faber.archive_on_complete(run_id)
    assert done is not None and not done.failed
    record = faber.run(run_id)
    assert (record.metadata.archive is not None, record.events_local) == (archived, events_local)
    assert (Path(record.location) / "archive" / "manifest.json").is_file(), "consolidated in every case"
    assert (tmp_path / "shelf" / run_id / "manifest.json").is_file() == archived


# Operations --------------------------------------------------------------------------------------


class Checked:
    """Answers faber_check_health with one check of each verdict."""

    def __init__(self, config: object, context: BackendContext) -> None:
        pass

    @hookimpl
    def faber_check_health(self) -> list[HealthCheck]:
        return [
            HealthCheck(name="dial tone", verdict="ok", detail="it rings"),
            HealthCheck(name="quota", verdict="warn", detail="80% used"),
            HealthCheck(name="bucket answers", verdict="fail", detail="403 Forbidden"),
        ]


class Crashing:
    def __init__(self, config: object, context: BackendContext) -> None:
        pass

    @hookimpl
    def faber_check_health(self) -> list[HealthCheck]:
        raise RuntimeError("health check bug")

    @hookimpl
    def faber_flush(self, run_id: str | None) -> FlushReport:
        raise BackendError("the outbox is locked by another flush")


def test_hook_faber_check_health(faber_project: TestProject) -> None:
    faber_project.enable("checked", backend=Checked)
    faber_project.enable("crashing", backend=Crashing)
    result = faber_project.cli("doctor", "--json")
    assert result.exit_code == 1
    checks = [check for check in result.json()["checks"] if check["area"] in ("checked", "crashing")]
    assert [(c["area"], c["name"], c["verdict"]) for c in checks] == [
        ("checked", "loads", "ok"), ("crashing", "loads", "ok"),
        ("checked", "dial tone", "ok"), ("checked", "quota", "warn"), ("checked", "bucket answers", "fail"),
        ("crashing", "health check", "fail"),
    ]
    assert "RuntimeError: health check bug" in checks[-1]["detail"]


class Outbox:
    """Holds back events and reports what a flush did."""

    flushed: ClassVar[list[str | None]] = []

    def __init__(self, config: object, context: BackendContext) -> None:
        pass

    @hookimpl
    def faber_flush(self, run_id: str | None) -> FlushReport:
        Outbox.flushed.append(run_id)
        if run_id is None:
            return FlushReport(delivered=5, pending=0, runs=2)
        return FlushReport(delivered=1, pending=2, runs=1, error="503 Service Unavailable")


def test_hook_faber_flush(faber_project: TestProject) -> None:
    Outbox.flushed = []
    faber_project.enable("outbox", backend=Outbox)
    everything = faber_project.cli("backends", "flush", "--json")
    assert everything.exit_code == 0
    assert everything.json() == [{"backend": "outbox", "delivered": 5, "pending": 0, "runs": 2, "error": None}]
    run_id = faber_project.cli("runs", "new", "--work-id", "1").stdout.strip()
    one = faber_project.cli("backends", "flush", "outbox", "--run", run_id.split("/")[2])
    assert one.exit_code == 1, "something is still pending"
    assert one.stdout == "outbox: delivered 1 event(s) of 1 run(s); 2 pending\n"
    assert one.stderr == "faber: warning: outbox: 503 Service Unavailable\n"
    assert Outbox.flushed == [None, run_id], "the run is resolved to its full id"
    faber_project.enable("crashing", backend=Crashing)
    failing = faber_project.cli("backends", "flush", "crashing")
    assert failing.exit_code == 1 and "the outbox is locked by another flush" in failing.stderr


# Integrity and workflow runs (issue 3's hooks) ---------------------------------------------------


def test_store_verify(probed: Faber) -> None:
    run_id = probed.new_run("1").run_id
    probed.emit(run_id, "workflow_start")
    report = probed.verify(run_id)
    assert report.ok and report.events == 1 and report.run_id == run_id
    first = "events/000000000001.json" if S3_STORE else "events/001-workflow_start.json"
    write_stored(probed, run_id, first, b"{torn")
    damaged = probed.verify(run_id)
    assert not damaged.ok and damaged.problems
    assert seen_store("verify") == [{"run_id": run_id}] * 2


def test_store_repair(probed: Faber) -> None:
    run_id = probed.new_run("1").run_id
    probed.emit(run_id, "workflow_start")
    write_stored(probed, run_id, "state.json", b"{}")
    report = probed.repair(run_id)
    assert not report.before.ok and report.after.ok and report.actions
    assert seen_store("repair") == [{"run_id": run_id}]
    assert json.loads(read_stored(probed, run_id, "state.json"))["last_event_id"] == 1


AUTONOMOUS_WORKFLOW = {
    "id": "hooked",
    "autonomy": {"level": "autonomous"},
    "phases": {"build": {"steps": [{"id": "spec", "prompt": "Write the spec for {work_id}"},
                                   {"id": "compile", "run": "exit 3"}]}},
}


class Executor:
    """Runs prompt steps (the shell runs the others), recording what it was given."""

    seen: ClassVar[list[tuple[str, str]]] = []

    def __init__(self, config: object, context: BackendContext) -> None:
        pass

    @hookimpl
    def faber_execute_step(self, step: Any, context: Any, output: Callable[[str], None]) -> Any:
        from faber_hookspecs.execution import StepResult

        if step.prompt is None:
            return None
        output("thinking")
        Executor.seen.append((step.key, step.prompt))
        return StepResult(status="completed", executor="agent", duration_ms=1)


class Veto:
    def __init__(self, config: object, context: BackendContext) -> None:
        pass

    @hookimpl
    def faber_on_resume(self, run: RunRecord, context: Any) -> None:
        from faber_hookspecs.errors import ResumeVetoed

        assert context.resume_from.step == "compile"
        raise ResumeVetoed(f"run {run.metadata.run_id} waits for its archive")


def write_workflow(project: TestProject) -> None:
    import json

    (project.faber_dir / "workflows" / "hooked.json").write_text(json.dumps(AUTONOMOUS_WORKFLOW))


def test_hook_faber_execute_step(faber_project: TestProject, faber_gateway: GatewayFactory) -> None:
    Executor.seen = []
    write_workflow(faber_project)
    faber = Faber(faber_project.project, faber_gateway(backends={"agent": Executor}))
    outcome = faber.run_workflow("hooked", "12")
    assert Executor.seen == [("build:spec", "Write the spec for 12")], "the shell ran the step with `run`"
    assert outcome.status == "failed" and outcome.failed_step == "build:compile"
    spec = next(e for e in faber.events(outcome.run_id, type="step_complete") if e.step == "spec")
    assert spec.metadata["executor"] == "agent"


def test_hook_faber_on_resume(faber_project: TestProject, faber_gateway: GatewayFactory) -> None:
    from faber_hookspecs.errors import ResumeVetoed

    write_workflow(faber_project)
    faber = Faber(faber_project.project, faber_gateway(backends={"agent": Executor}))
    run_id = faber.run_workflow("hooked", "12").run_id
    before = [event.type for event in faber.events(run_id)]
    vetoing = Faber(faber_project.project, faber_gateway(backends={"agent": Executor, "archive": Veto}))
    with pytest.raises(ResumeVetoed, match="waits for its archive"):
        vetoing.resume_workflow(run_id)
    assert [event.type for event in faber.events(run_id)] == before, "nothing recorded"

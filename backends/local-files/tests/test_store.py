"""The record store on local files: ids, durability protocol, recovery, ordering, safety."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from faber_backend_local_files.files import RotatingFile, UnnamedFiles
from faber_backend_local_files.run_folder import RunFolder, boot_id, event_file_name
from faber_backend_local_files.store import CHECKPOINT_BYTES, LocalRunStore, checkpoint_interval
from faber_hookspecs.errors import InvalidEvent, InvalidRunId, RunNotFound, StorageError
from faber_hookspecs.run_id import RunId
from faber_hookspecs.validation import validate_event
from faber_hookspecs.wire import utc_timestamp


@pytest.fixture
def store(tmp_path: Path) -> LocalRunStore:
    return LocalRunStore(str(tmp_path / "runs"))


@pytest.fixture
def run_id(store: LocalRunStore) -> RunId:
    run_id = RunId.generate("acme", "widget-service")
    store.create_run({"run_id": str(run_id), "work_id": "1", "workflow_id": "default", "created_at": utc_timestamp()})
    return run_id


def names(store: LocalRunStore, run_id: RunId) -> list[str]:
    return sorted(os.listdir(store.folder(run_id).events_dir))


def test_new_run_layout(store: LocalRunStore, run_id: RunId) -> None:
    folder = store.folder(run_id)
    assert sorted(os.listdir(folder.path)) == ["events", "metadata.json", "state.json"]
    assert Path(folder.next_id_file).read_text() == "1\n"
    assert json.loads(Path(folder.state_file).read_text())["last_event_id"] == 0
    parent = Path(folder.path).parent
    assert sorted(p.name for p in parent.iterdir()) == [".staging", run_id.uuid]
    assert not list((parent / ".staging").iterdir()), "no staging folder may be left behind"


def test_ids_start_at_one_and_files_sort_numerically(store: LocalRunStore, run_id: RunId) -> None:
    store.sync = False
    folder = store.folder(run_id)
    folder.sync = False
    for _ in range(1001):
        store.append(run_id, {"type": "checkpoint"})
    files = folder.event_files()
    assert [f.event_id for f in files] == list(range(1, 1002))
    assert files[999].name == "1000-checkpoint.json" and files[998].name == "999-checkpoint.json"
    assert [e["event_id"] for e in store.iter_events(run_id, since_id=998)] == [999, 1000, 1001]
    assert Path(folder.next_id_file).read_text() == "1002\n"


def test_every_written_file_is_valid_and_private(store: LocalRunStore, run_id: RunId) -> None:
    event, state = store.append(run_id, {"type": "step_start", "phase": "build", "step": "compile", "message": "go"})
    folder = store.folder(run_id)
    path = Path(folder.events_dir) / "001-step_start.json"
    on_disk = json.loads(path.read_text())
    assert on_disk == event
    validate_event(on_disk)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder.path).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(folder.events_dir).st_mode) == 0o700
    assert state["current_step"] == "compile"


def test_invalid_event_consumes_no_id_and_writes_nothing(store: LocalRunStore, run_id: RunId) -> None:
    before = names(store, run_id)
    for bad in ({"type": "bogus"}, {"type": "step_start", "phase": "build"}, {"type": "checkpoint", "extra": 1}):
        with pytest.raises(InvalidEvent):
            store.append(run_id, bad)
    assert names(store, run_id) == before
    event, _ = store.append(run_id, {"type": "checkpoint"})
    assert event["event_id"] == 1


def test_killed_after_commit_before_counter_is_finished_by_the_next_writer(store: LocalRunStore, run_id: RunId) -> None:
    store.append(run_id, {"type": "workflow_start"})
    folder = store.folder(run_id)
    # Simulate a writer killed right after linking event 2 into place: .pending still there, counter at 2.
    data = json.dumps({"event_id": 2, "type": "checkpoint", "timestamp": utc_timestamp(), "run_id": str(run_id)}).encode()
    Path(folder.pending_file).write_bytes(data)
    os.link(folder.pending_file, os.path.join(folder.events_dir, event_file_name(2, "checkpoint")))
    event, state = LocalRunStore(store.runs_dir).append(run_id, {"type": "checkpoint"})
    assert event["event_id"] == 3
    assert state["last_event_id"] == 3
    assert not os.path.exists(folder.pending_file)
    assert [f.event_id for f in folder.event_files()] == [1, 2, 3]


def test_an_event_linked_by_a_writer_killed_before_the_counter_is_found_through_the_lock_file(
    store: LocalRunStore, run_id: RunId
) -> None:
    """The nameless-file commit leaves no .pending: the lock file notes the commit a writer began, so
    the next writer sees an event linked without the counter advanced, whatever its type (a link
    only refuses the same name, so a different type would otherwise get the same id)."""
    assert UnnamedFiles.supported is not False  # this machine's file system takes O_TMPFILE
    store.append(run_id, {"type": "workflow_start"})
    folder = store.folder(run_id)
    boot = boot_id().encode()
    assert boot and Path(folder.lock_file).read_bytes() == b"1 workflow_start " + boot + b"\n"
    # A writer killed right after linking event 2: its commit noted, the counter still at 2.
    data = json.dumps({"event_id": 2, "type": "step_start", "phase": "build", "step": "s1",
                       "timestamp": utc_timestamp(), "run_id": str(run_id)})
    Path(folder.events_dir, event_file_name(2, "step_start")).write_text(data)
    Path(folder.lock_file).write_bytes(b"2 step_start " + boot + b"\n")
    assert folder.read_next_id() == 2
    event, state = LocalRunStore(store.runs_dir).append(run_id, {"type": "checkpoint"})
    assert (event["event_id"], state["last_event_id"], folder.read_next_id()) == (3, 3, 4)
    assert [(f.event_id, f.type) for f in folder.event_files()] == [(1, "workflow_start"), (2, "step_start"),
                                                                     (3, "checkpoint")]
    # Killed before the link: the noted commit never happened, and its id is used.
    Path(folder.lock_file).write_bytes(b"4 step_start " + boot + b"\n")
    event, _ = LocalRunStore(store.runs_dir).append(run_id, {"type": "checkpoint"})
    assert event["event_id"] == 4 and folder.read_next_id() == 5
    assert not os.path.exists(folder.pending_file)


def test_after_a_restart_the_first_writer_trusts_the_files_not_the_counter(
    store: LocalRunStore, run_id: RunId, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither .next-id nor the lock file's note is fsynced: after a power cut both may be older than
    the events that reached the disk. A note from another boot sends the first writer to the files."""
    for kind in ("workflow_start", "checkpoint", "step_start"):
        store.append(run_id, {"type": kind} if kind != "step_start" else {"type": kind, "phase": "build", "step": "s"})
    folder = store.folder(run_id)
    # As a power cut may leave them: the counter and the note from before event 3, of the last boot.
    Path(folder.next_id_file).write_text("3\n")
    Path(folder.lock_file).write_bytes(b"2 checkpoint 00000000-0000-4000-8000-000000000000\n")
    event, state = LocalRunStore(store.runs_dir).append(run_id, {"type": "checkpoint"})  # not step_start's name
    assert event["event_id"] == 4 and state == store.reconstruct(run_id)
    assert folder.read_next_id() == 5
    assert Path(folder.lock_file).read_bytes().split(b" ")[2] == boot_id().encode() + b"\n"
    # This boot's note: the counter is trusted again (a counter set back now is the damage case).
    listed: list[str] = []
    real_scan = RunFolder.scanned_next_id
    monkeypatch.setattr(RunFolder, "scanned_next_id", lambda self: (listed.append(self.path), real_scan(self))[1])
    event, _ = LocalRunStore(store.runs_dir).append(run_id, {"type": "checkpoint"})
    assert event["event_id"] == 5 and listed == []


@pytest.mark.parametrize("planted", [b"", b"\0" * 300, b"x y\n", b"0 checkpoint\n", b"9 ../../escape\n",
                                     b"9 .hidden\n", b"99999999999999999999999 checkpoint\n", b"9 a b\n"])
def test_a_lock_file_holding_anything_else_steers_nothing(store: LocalRunStore, run_id: RunId, planted: bytes) -> None:
    store.append(run_id, {"type": "workflow_start"})
    folder = store.folder(run_id)
    Path(folder.lock_file).write_bytes(planted)
    event, _ = LocalRunStore(store.runs_dir).append(run_id, {"type": "checkpoint"})
    assert event["event_id"] == 2 and folder.read_next_id() == 3
    assert names(store, run_id) == [".lock", ".next-id", ".next-id.lock", "001-workflow_start.json", "002-checkpoint.json"]


def test_without_nameless_files_the_commit_goes_through_pending(
    store: LocalRunStore, run_id: RunId, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where O_TMPFILE or /proc is missing, the store writes .pending and links it, as before."""
    monkeypatch.setattr(UnnamedFiles, "supported", False)
    linked: list[str] = []
    real_link = os.link
    monkeypatch.setattr(os, "link", lambda source, *rest, **options: (linked.append(str(source)),
                                                                       real_link(source, *rest, **options))[1])
    for kind in ("workflow_start", "checkpoint"):
        store.append(run_id, {"type": kind})
    folder = store.folder(run_id)
    assert linked == [folder.pending_file] * 2
    assert names(store, run_id) == [".lock", ".next-id", ".next-id.lock", "001-workflow_start.json", "002-checkpoint.json"]
    assert store.reconstruct(run_id) == store.current_state(run_id)


def test_killed_before_commit_leaves_nothing(store: LocalRunStore, run_id: RunId) -> None:
    folder = store.folder(run_id)
    Path(folder.pending_file).write_bytes(b'{"event_id": 1, "type": "workflow_st')  # torn, never linked
    event, _ = store.append(run_id, {"type": "workflow_start"})
    assert event["event_id"] == 1
    assert names(store, run_id) == [".lock", ".next-id", ".next-id.lock", "001-workflow_start.json"]


def test_damaged_counter_is_recovered_from_the_files(store: LocalRunStore, run_id: RunId) -> None:
    for _ in range(3):
        store.append(run_id, {"type": "checkpoint"})
    folder = store.folder(run_id)
    Path(folder.next_id_file).write_text("2\n")  # behind: event 2 exists
    event, _ = LocalRunStore(store.runs_dir).append(run_id, {"type": "checkpoint"})
    assert event["event_id"] == 4
    Path(folder.next_id_file).write_text("garbage")
    event, _ = LocalRunStore(store.runs_dir).append(run_id, {"type": "checkpoint"})
    assert event["event_id"] == 5
    os.unlink(folder.next_id_file)
    event, state = LocalRunStore(store.runs_dir).append(run_id, {"type": "checkpoint"})
    assert event["event_id"] == 6 and state == store.reconstruct(run_id)


def test_stale_or_missing_state_file_is_caught_up(store: LocalRunStore, run_id: RunId) -> None:
    store.append(run_id, {"type": "workflow_start"})
    folder = store.folder(run_id)
    stale = Path(folder.state_file).read_text()
    store.append(run_id, {"type": "phase_start", "phase": "frame"})
    Path(folder.state_file).write_text(stale)  # a writer killed before updating state.json
    _, state = LocalRunStore(store.runs_dir).append(run_id, {"type": "phase_complete", "phase": "frame"})
    assert state["last_event_id"] == 3 and state["phases"]["frame"]["status"] == "completed"
    os.unlink(folder.state_file)
    _, state = LocalRunStore(store.runs_dir).append(run_id, {"type": "checkpoint"})
    assert state == store.reconstruct(run_id)
    assert json.loads(Path(folder.state_file).read_text()) == state


def test_threads_get_unique_gap_free_ids(store: LocalRunStore, run_id: RunId) -> None:
    store.sync = False
    seen: list[int] = []
    lock = threading.Lock()

    def writer() -> None:
        own = LocalRunStore(store.runs_dir, sync=False)
        for _ in range(50):
            event, _ = own.append(run_id, {"type": "checkpoint"})
            with lock:
                seen.append(event["event_id"])

    threads = [threading.Thread(target=writer) for _ in range(6)] + [threading.Thread(target=lambda: [
        (seen.append(store.append(run_id, {"type": "checkpoint"})[0]["event_id"])) for _ in range(50)])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, 351))
    assert store.current_state(run_id)["last_event_id"] == 350
    assert store.current_state(run_id) == store.reconstruct(run_id)


def test_symlinked_run_folder_is_refused(store: LocalRunStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "acme" / "proj"
    outside.mkdir(parents=True)
    os.makedirs(os.path.join(store.runs_dir, "acme"), exist_ok=True)
    os.symlink(outside, os.path.join(store.runs_dir, "acme", "proj"))
    run_id = RunId.generate("acme", "proj")
    with pytest.raises(InvalidRunId, match="outside the runs folder"):
        store.create_run({"run_id": str(run_id), "created_at": utc_timestamp()})
    assert list(outside.iterdir()) == []


def test_symlinked_counter_is_not_followed(store: LocalRunStore, run_id: RunId, tmp_path: Path) -> None:
    target = tmp_path / "victim.txt"
    target.write_text("keep me\n")
    folder = store.folder(run_id)
    os.unlink(folder.next_id_file)
    os.symlink(target, folder.next_id_file)
    for expected in (1, 2):
        event, _ = store.append(run_id, {"type": "checkpoint"})  # the ids come from the files instead
        assert event["event_id"] == expected
    assert target.read_text() == "keep me\n"
    assert not os.path.islink(folder.next_id_file)  # the planted link was replaced, not followed
    assert Path(folder.next_id_file).read_text() == "3\n"


def test_unknown_run(store: LocalRunStore) -> None:
    with pytest.raises(RunNotFound):
        store.append(RunId.generate("acme", "x"), {"type": "checkpoint"})


def test_state_readers_never_see_a_partial_state(store: LocalRunStore, run_id: RunId) -> None:
    """Readers without the lock (show, list, MCP) against a writer rewriting state.json flat out."""
    store.sync = False
    folder = store.folder(run_id)
    folder.sync = False
    stop = threading.Event()
    bad: list[object] = []
    reads = 0

    def reader() -> None:
        nonlocal reads
        while not stop.is_set():
            state, counter = store.folder(run_id).read_state()
            reads += 1
            if (state is None or counter is None or state["last_event_id"] >= counter
                    or state != store.reconstruct_prefix(run_id, state["last_event_id"])):
                bad.append(state)

    def reconstruct_prefix(run: RunId, last: int) -> dict[str, object]:
        from faber_hookspecs.reducer import initial_state_for, reconstruct

        events = [e for e in store.iter_events(run) if e["event_id"] <= last]
        return reconstruct(initial_state_for(store.load_metadata(run)), events)

    store.reconstruct_prefix = reconstruct_prefix  # type: ignore[attr-defined]
    thread = threading.Thread(target=reader)
    thread.start()
    for index in range(300):
        store.append(run_id, {"type": "step_start", "phase": "build", "step": f"s{index % 7}", "message": "m" * (index % 50)})
    stop.set()
    thread.join()
    assert bad == []
    assert reads > 10


def test_rotating_file_replaces_atomically(tmp_path: Path) -> None:
    target = RotatingFile(str(tmp_path / "state.json"), 0o600)
    for generation in range(5):
        target.write(json.dumps({"n": generation, "pad": "x" * (100 - generation * 20)}).encode(), generation)
        assert json.loads((tmp_path / "state.json").read_bytes())["n"] == generation
    assert sorted(p.name for p in tmp_path.iterdir()) == [".state.json.swap0", ".state.json.swap1", "state.json"]


def test_a_state_returned_to_one_thread_is_not_changed_by_another(store: LocalRunStore, run_id: RunId) -> None:
    """``append`` returns its cached state and updates it in place on the next emit: a cache shared by
    threads made one thread's returned state change under it when another thread emitted."""
    _, first = store.append(run_id, {"type": "checkpoint"})
    other = threading.Thread(target=lambda: store.append(run_id, {"type": "checkpoint"}))
    other.start()
    other.join()
    assert first["last_event_id"] == 1
    _, third = store.append(run_id, {"type": "checkpoint"})
    assert third["last_event_id"] == 3


def test_a_symlinked_events_folder_is_refused(store: LocalRunStore, run_id: RunId, tmp_path: Path) -> None:
    folder = Path(store.folder(run_id).path)
    outside = tmp_path / "outside-events"
    (folder / "events").rename(outside)
    (folder / "events").symlink_to(outside)
    with pytest.raises(StorageError, match="symbolic link"):
        store.append(run_id, {"type": "checkpoint"})
    assert sorted(p.name for p in outside.iterdir()) == [".lock", ".next-id", ".next-id.lock"]


def test_an_unreadable_event_file_is_named(store: LocalRunStore, run_id: RunId) -> None:
    store.append(run_id, {"type": "checkpoint"})
    events = Path(store.folder(run_id).events_dir)
    (events / event_file_name(1, "checkpoint")).write_bytes(b'{"event_id": 1, "ty')
    with pytest.raises(StorageError, match=r"001-checkpoint.json .* is not a valid JSON object"):
        list(store.iter_events(run_id))
    (events / event_file_name(1, "checkpoint")).write_text('{"event_id": 1, "type": "checkpoint", "phase": {"x": 1}}')
    with pytest.raises(StorageError, match=r"event 1 of run .* is not a valid event"):
        store.reconstruct(run_id)


def test_a_damaged_state_file_never_fails_an_emit_after_its_commit(store: LocalRunStore, run_id: RunId) -> None:
    """A state.json that claims to be current but cannot take the next event is rebuilt from the
    events before the commit; the emit succeeds and the state is right."""
    store.append(run_id, {"type": "checkpoint"})
    state_file = Path(store.folder(run_id).state_file)
    damaged = json.loads(state_file.read_text())
    damaged["phases"] = []
    state_file.write_text(json.dumps(damaged))
    fresh = LocalRunStore(store.runs_dir)  # another process: no cached state
    event, state = fresh.append(run_id, {"type": "phase_start", "phase": "build"})
    assert event["event_id"] == 2 and state["phases"]["build"]["status"] == "in_progress"
    assert state == fresh.reconstruct(run_id)


def test_event_listing_in_little_memory_keeps_the_full_sort_order(tmp_path: Path) -> None:
    """sorted_event_files slots canonical names by id; odd ones (other paddings, duplicate ids, ids
    far beyond the count) are merged in: the order must be exactly sorting (id, type, name)."""
    from faber_backend_local_files.run_folder import EVENT_FILE_RE, EventFile, RunFolder

    (tmp_path / "events").mkdir()
    names = [f"{i:03d}-t{i % 3}.json" for i in range(1, 1500)]
    names += ["0005-x.json", "005-b.json", "007-a.json", "99999999-z.json", "12-odd.json", "junk.json",
              "1000000-far.json", "003-t0.json.json", "0000-zero.json"]
    for name in names:
        (tmp_path / "events" / name).write_text("{}")
    folder = RunFolder(str(tmp_path), 0o600, False)
    for since in (0, 1, 4, 5, 1490, 5000):
        expected = sorted(EventFile(int(m[1]), m[2], name) for name in names
                          if (m := EVENT_FILE_RE.fullmatch(name)) and int(m[1]) > since)
        assert list(folder.sorted_event_files(since)) == expected, since
    assert folder.scanned_next_id() == 99999999 + 1


def grow_state(store: LocalRunStore, run_id: RunId, size: int) -> None:
    """Give the run artifacts until state.json is beyond ``size`` bytes (each adds about 1 KB)."""
    folder = store.folder(run_id)
    number = 0
    while os.path.getsize(folder.state_file) <= size:
        number += 1
        store.append(run_id, {"type": "checkpoint", "artifacts": [
            {"type": "file", "name": f"notes-{number}", "path": "docs/" + "n" * 1000}]})


def test_checkpoint_interval_grows_with_the_state() -> None:
    assert [checkpoint_interval(size) for size in (0, 5_000, CHECKPOINT_BYTES)] == [1, 1, 1]
    assert checkpoint_interval(CHECKPOINT_BYTES + 1) == 2
    assert checkpoint_interval(4 * CHECKPOINT_BYTES) == 4
    assert checkpoint_interval(4 * CHECKPOINT_BYTES + 1) == 8
    assert checkpoint_interval(2_000_000) == 128


def test_a_long_runs_state_json_is_a_checkpoint_that_readers_bring_forward(store: LocalRunStore, run_id: RunId) -> None:
    """Beyond CHECKPOINT_BYTES, state.json is rewritten only at ids that are multiples of the interval and
    at workflow-level events; it is never ahead of the log, always the state through its own last event,
    and every reader (a fresh store, as another process) sees the state through the last event."""
    store.sync = False
    grow_state(store, run_id, 4 * CHECKPOINT_BYTES + 1)
    folder = store.folder(run_id)
    lagged = 0
    for number in range(40):
        writer = LocalRunStore(store.runs_dir, sync=False)  # a new process's store: nothing cached
        kind = "workflow_paused" if number == 25 else "step_start"
        event, state = writer.append(run_id, {"type": kind, "phase": "build", "step": f"s{number}"})
        on_disk = json.loads(Path(folder.state_file).read_text())
        interval = checkpoint_interval(os.path.getsize(folder.state_file))
        assert interval >= 8
        due = kind.startswith("workflow_") or event["event_id"] % interval == 0
        assert (on_disk["last_event_id"] == event["event_id"]) == due
        assert state is not None and state["last_event_id"] == event["event_id"], "read to check the lifecycle"
        lagged += on_disk["last_event_id"] < event["event_id"]
        rebuilt = store.reconstruct(run_id)
        assert on_disk == reconstruct_through(store, run_id, on_disk["last_event_id"]), "exactly the state at its id"
        reader = LocalRunStore(store.runs_dir, sync=False)
        assert reader.current_state(run_id) == rebuilt
        assert [s for s in reader.list_states() if s["run_id"] == str(run_id)] == [rebuilt]
        assert reader.state_at(run_id, event["event_id"]) == rebuilt
    assert lagged > 30
    event, _ = store.append(run_id, {"type": "workflow_complete"})
    assert json.loads(Path(folder.state_file).read_text()) == store.reconstruct(run_id), "a run that ends is current"
    assert store.state_at(run_id, event["event_id"] - 1)["status"] == "paused", "an earlier event's state, rebuilt"


def reconstruct_through(store: LocalRunStore, run_id: RunId, last: int) -> dict[str, object]:
    from faber_hookspecs.reducer import initial_state_for, reconstruct

    events = [event for event in store.iter_events(run_id) if event["event_id"] <= last]
    return reconstruct(initial_state_for(store.load_metadata(run_id)), events)


def test_a_long_lived_store_keeps_the_state_and_still_checkpoints(store: LocalRunStore, run_id: RunId) -> None:
    """With the state cached, every append returns it, brought forward in place; state.json follows the
    same rule as for a new process."""
    store.sync = False
    grow_state(store, run_id, 2 * CHECKPOINT_BYTES + 1)
    folder = store.folder(run_id)
    for number in range(20):
        event, state = store.append(run_id, {"type": "step_complete", "phase": "build", "step": f"s{number}", "duration_ms": 5})
        assert state is not None and state == store.reconstruct(run_id)
        on_disk = json.loads(Path(folder.state_file).read_text())
        interval = checkpoint_interval(os.path.getsize(folder.state_file))
        assert (on_disk["last_event_id"] == event["event_id"]) == (event["event_id"] % interval == 0)


# Durability, asserted at the store: what reached the disk before an event or a run was acknowledged --------


class Fsyncs:
    """Every os.fsync of the process, as what it made durable: a file's inode and bytes, or a folder's
    path and the names it held at that moment."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail_folders: bool = False) -> None:
        self.calls: list[tuple[str, object, object]] = []
        real = os.fsync

        def fsync(fd: int) -> None:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                path = os.readlink(f"/proc/self/fd/{fd}")
                self.calls.append(("folder", path, sorted(os.listdir(path))))
                if fail_folders:
                    raise OSError(5, "Input/output error")
            else:
                reader = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY)  # fd may be open for writing only
                try:
                    self.calls.append(("file", info.st_ino, os.pread(reader, info.st_size + 1, 0)))
                finally:
                    os.close(reader)
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    def of_file(self, path: str) -> list[bytes]:
        inode = os.stat(path).st_ino
        return [data for kind, ino, data in self.calls if kind == "file" and ino == inode]  # type: ignore[misc]

    def of_folder(self, path: str) -> list[list[str]]:
        return [names for kind, where, names in self.calls if kind == "folder" and where == path]  # type: ignore[misc]


@pytest.mark.parametrize("nameless", [True, False])
def test_an_acknowledged_event_has_its_bytes_and_its_name_on_disk(
    store: LocalRunStore, run_id: RunId, monkeypatch: pytest.MonkeyPatch, nameless: bool
) -> None:
    """With sync (the default), append returns only after the event file's bytes were fsynced and then
    the events folder holding its name: a power cut after the acknowledgement loses nothing."""
    if not nameless:
        monkeypatch.setattr(UnnamedFiles, "supported", False)
    fsyncs = Fsyncs(monkeypatch)
    for index, kind in enumerate(("workflow_start", "checkpoint"), start=1):
        fsyncs.calls.clear()
        event, _ = store.append(run_id, {"type": kind})
        folder = store.folder(run_id)
        path = os.path.join(folder.events_dir, event_file_name(index, kind))
        assert fsyncs.of_file(path) == [Path(path).read_bytes()], "the event's bytes, fsynced whole"
        synced = fsyncs.of_folder(folder.events_dir)
        assert synced and os.path.basename(path) in synced[-1], "the folder fsynced after the name was made"
        file_sync = next(i for i, call in enumerate(fsyncs.calls) if call[0] == "file")
        folder_sync = max(i for i, call in enumerate(fsyncs.calls) if call[:2] == ("folder", folder.events_dir))
        assert file_sync < folder_sync
        assert event["event_id"] == index


def test_without_sync_nothing_is_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sync=False trades power-cut durability for speed: then no event pays for an fsync."""
    store = LocalRunStore(str(tmp_path / "runs"), sync=False)
    run_id = RunId.generate("acme", "widget-service")
    fsyncs = Fsyncs(monkeypatch)
    store.create_run({"run_id": str(run_id), "work_id": "1", "workflow_id": "default", "created_at": utc_timestamp()})
    store.append(run_id, {"type": "workflow_start"})
    store.update_metadata(run_id, lambda metadata: {**metadata, "work_id": "2"})
    assert fsyncs.calls == []


def test_a_folder_that_cannot_be_made_durable_fails_the_append(
    store: LocalRunStore, run_id: RunId, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event whose name may not survive a power cut is not acknowledged: append raises, and the
    event counts as written (a retry gets the next id, nothing is stored twice by the store)."""
    Fsyncs(monkeypatch, fail_folders=True)
    with pytest.raises(StorageError, match=r"event 1 of run .* was written but could not be made durable"):
        store.append(run_id, {"type": "workflow_start"})
    monkeypatch.undo()
    event, _ = store.append(run_id, {"type": "checkpoint"})
    assert event["event_id"] == 2


def test_a_new_run_metadata_and_an_imported_history_are_durable(
    store: LocalRunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A created run is fsynced into its project folder; metadata.json's bytes and its rename are
    fsynced; an imported history's event files and their folder are fsynced before it appears."""
    fsyncs = Fsyncs(monkeypatch)
    run_id = RunId.generate("acme", "widget-service")
    store.create_run({"run_id": str(run_id), "work_id": "1", "workflow_id": "default", "created_at": utc_timestamp()})
    folder = store.folder(run_id)
    project = os.path.dirname(folder.path)
    assert any(run_id.uuid in names for names in fsyncs.of_folder(project)), "the new run's name is durable"
    assert fsyncs.of_file(folder.metadata_file) == [Path(folder.metadata_file).read_bytes()]

    fsyncs.calls.clear()
    store.update_metadata(run_id, lambda metadata: {**metadata, "work_id": "2"})
    assert fsyncs.of_file(folder.metadata_file) == [Path(folder.metadata_file).read_bytes()]
    assert fsyncs.of_folder(folder.path), "the rename of metadata.json is durable"

    fsyncs.calls.clear()
    imported = RunId.generate("acme", "widget-service")
    events = [
        {"event_id": 1, "type": "workflow_start", "timestamp": utc_timestamp(), "run_id": str(imported)},
        {"event_id": 2, "type": "workflow_complete", "timestamp": utc_timestamp(), "run_id": str(imported)},
    ]
    store.import_history({"run_id": str(imported), "work_id": "1", "workflow_id": "default",
                          "created_at": events[0]["timestamp"]}, events)
    target = store.folder(imported)
    for event in events:
        path = os.path.join(target.events_dir, event_file_name(event["event_id"], event["type"]))
        assert fsyncs.of_file(path) == [Path(path).read_bytes()]
    staged = [names for kind, where, names in fsyncs.calls if kind == "folder" and str(where).endswith("/events")]
    assert ["001-workflow_start.json", "002-workflow_complete.json"] in [
        [name for name in names if name[0].isdigit()] for names in staged  # type: ignore[attr-defined]
    ]
    assert any(imported.uuid in names for names in fsyncs.of_folder(project))


# Listing, state hand-over, other writers -----------------------------------------------------------------


def test_listing_filters_by_status_work_workflow_and_time_newest_first(store: LocalRunStore) -> None:
    from faber_backend_local_files.store import runs_path, select_states

    made = []
    for index, (work, workflow) in enumerate((("1", "a"), ("2", "a"), ("1", "b"))):
        run_id = RunId.generate("acme", "widget-service")
        created = f"2026-01-0{index + 1}T00:00:00.000Z"
        store.create_run({"run_id": str(run_id), "work_id": work, "workflow_id": workflow, "created_at": created})
        made.append(str(run_id))
    store.append(RunId.parse(made[0]), {"type": "workflow_start"})
    states = list(store.list_states())
    assert [s["run_id"] for s in select_states(states, None, None, None)] == made[::-1], "newest first"
    assert [s["run_id"] for s in select_states(states, None, "1", None)] == [made[2], made[0]]
    assert [s["run_id"] for s in select_states(states, None, None, None, workflow_id="a")] == [made[1], made[0]]
    assert [s["run_id"] for s in select_states(states, "in_progress", None, None)] == [made[0]]
    assert [s["run_id"] for s in select_states(states, None, None, 1)] == [made[2]]
    window = select_states(states, None, None, None, since="2026-01-02T00:00:00.000Z", until="2026-01-02T23:00:00.000Z")
    assert [s["run_id"] for s in window] == [made[1]]
    assert select_states(states, None, None, None, since="2099-01-01T00:00:00.000Z") == []
    until = select_states(states, None, None, None, until="2026-01-02T12:00:00.000Z")
    assert [s["run_id"] for s in until] == [made[1]], "started (made[0] today), else created, within the window"
    damaged = [{"run_id": "x", "created_at": 5}, {"run_id": "y", "created_at": "2026-01-01T00:00:00.000Z"}, {"run_id": "z"}]
    assert [s["run_id"] for s in select_states(damaged, None, None, None)] == ["y", "x", "z"]
    assert select_states(damaged, None, None, None, since="2000-01-01T00:00:00.000Z") == [damaged[1]], \
        "a run without a start time is outside any window"
    assert sorted(store.find_runs(made[1].split("/")[2][:8])) == [made[1]]
    assert runs_path("r", "/p", {}) == "/p/r" and runs_path("r", "/p", {"FABER_RUNS_PATH": "/x"}) == "/x"
    assert runs_path("r", "/p", {"FABER_RUNS_PATH": ""}) == "/p/r"


def test_a_state_is_written_only_if_newer(store: LocalRunStore, run_id: RunId) -> None:
    store.append(run_id, {"type": "workflow_start"})
    store.append(run_id, {"type": "checkpoint"})
    folder = store.folder(run_id)
    newest = store.current_state(run_id)
    older = {**newest, "last_event_id": 1, "reduced_event_id": 1, "marker": "old"}
    assert store.write_state_if_newer(run_id, older) is False
    assert json.loads(Path(folder.state_file).read_text()) == newest
    newer = {**newest, "last_event_id": 3, "reduced_event_id": 3, "marker": "new"}
    assert store.write_state_if_newer(run_id, newer) is True
    assert json.loads(Path(folder.state_file).read_text())["marker"] == "new"


def test_a_store_per_event_replaces_state_json_whole_and_leaves_no_spare(tmp_path: Path) -> None:
    """Each one-shot `faber event emit` opens its own store: state.json is whole after each of them."""
    runs = str(tmp_path / "runs")
    LocalRunStore(runs).create_run({"run_id": str(run_id := RunId.generate("acme", "widget-service")),
                                    "work_id": "1", "workflow_id": "default", "created_at": utc_timestamp()})
    for kind in ("workflow_start", "checkpoint", "checkpoint", "workflow_complete"):
        LocalRunStore(runs).append(run_id, {"type": kind})
        store = LocalRunStore(runs)
        folder = store.folder(run_id)
        assert json.loads(Path(folder.state_file).read_text()) == store.reconstruct(run_id)
    assert [name for name in os.listdir(folder.path) if name.endswith(".old")] == []


def test_after_another_writer_each_commit_is_noted_and_an_overwritten_one_is_found(
    store: LocalRunStore, run_id: RunId
) -> None:
    """Once another writer (a FABER reference script) moved the counter past faber's last commit, every
    commit goes into events/.faber-ledger, and verify names an event someone overwrote since."""
    from faber_backend_local_files.inspection import verify_run

    store.append(run_id, {"type": "workflow_start"})
    folder = store.folder(run_id)
    assert folder.ledger() == []
    foreign = {"event_id": 2, "type": "checkpoint", "timestamp": utc_timestamp(), "run_id": str(run_id)}
    Path(folder.events_dir, "002-checkpoint.json").write_text(json.dumps(foreign, indent=2) + "\n")
    Path(folder.next_id_file).write_text("3\n")
    event, _ = store.append(run_id, {"type": "checkpoint", "message": "mine"})
    store.append(run_id, {"type": "checkpoint", "message": "mine too"})
    assert event["event_id"] == 3
    assert [(number, kind) for number, kind, _ in folder.ledger()] == [(3, "checkpoint"), (4, "checkpoint")]
    assert verify_run(store, run_id).ok
    Path(folder.events_dir, "003-checkpoint.json").write_text(json.dumps({**event, "message": "theirs"}, indent=2))
    problems = verify_run(store, run_id).problems
    assert [(p.code, p.file) for p in problems] == [("event_overwritten", "events/003-checkpoint.json")]
    with open(folder.ledger_file, "ab") as ledger:
        ledger.write(b"junk\n5 ../x abc\n7 .hidden abc\n")
    assert [number for number, _, _ in folder.ledger()] == [3, 4]


def test_a_full_disk_leaves_no_partial_file_and_the_error_says_so(
    store: LocalRunStore, run_id: RunId, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from faber_backend_local_files.files import write_new_file

    store.append(run_id, {"type": "workflow_start"})
    folder = store.folder(run_id)
    before = names(store, run_id)
    real_write = os.write

    def full(fd: int, data: object) -> int:
        real_write(fd, bytes(memoryview(data))[:3])  # type: ignore[arg-type]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(UnnamedFiles, "supported", False)  # the .pending path: a named file could stay
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StorageError, match=r"could not write event 2 of run .*: the disk is full; free some space"):
        store.append(run_id, {"type": "checkpoint"})
    with pytest.raises(OSError):
        write_new_file(str(Path(folder.path) / "partial"), b"0123456789", 0o600, False)
    monkeypatch.undo()
    assert names(store, run_id) == before and not (Path(folder.path) / "partial").exists()
    event, _ = store.append(run_id, {"type": "checkpoint"})
    assert event["event_id"] == 2


def test_an_event_file_entry_survives_copying_and_says_what_it_is() -> None:
    import copy
    import pickle

    from faber_backend_local_files.run_folder import EventFile

    entry = EventFile(7, "checkpoint", "007-checkpoint.json")
    assert pickle.loads(pickle.dumps(entry)) == entry and copy.deepcopy(entry).name == "007-checkpoint.json"
    assert repr(entry) == "EventFile(event_id=7, type='checkpoint', name='007-checkpoint.json')"

"""The outbox on its own and under concurrent writers: durable, ordered, each event sent once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from faber_backend_helm.outbox import Outbox
from helm_helpers import API_KEY, LONG_OUTAGE, outbox_of, pending_ids, received_ids, restream

from faber_host.testing import EventFactory, RecordingReceiver, TestProject

pytest_plugins = ["helm_fixtures"]


def line(run_id: str, event_id: int) -> bytes:
    return json.dumps({"version": 1, "event": {"run_id": run_id, "event_id": event_id}, "helm": {}}).encode() + b"\n"


def ids(outbox: Outbox, run_id: str) -> list[int]:
    batch = outbox.peek(run_id, 10_000)
    return [] if batch is None else [json.loads(item)["event"]["event_id"] for item in batch.lines]


def test_append_peek_advance_and_cleanup(tmp_path: Path, faber_events: EventFactory) -> None:
    outbox = Outbox(tmp_path / "outbox")
    run_id = faber_events.run_id()
    for event_id in range(1, 6):
        outbox.append(run_id, line(run_id, event_id))
    first = outbox.peek(run_id, 2)
    assert first is not None and [json.loads(x)["event"]["event_id"] for x in first.lines] == [1, 2]
    outbox.advance(first)
    assert ids(outbox, run_id) == [3, 4, 5] and outbox.pending(run_id) == 3
    rest = outbox.peek(run_id, 100)
    assert rest is not None
    outbox.advance(rest)
    assert outbox.runs() == [] and not outbox.has_pending(run_id)
    org, project, _ = run_id.split("/")
    assert sorted(p.name for p in (tmp_path / "outbox" / org / project).iterdir()) == []


def test_a_torn_last_line_is_cut_before_the_next_append(tmp_path: Path, faber_events: EventFactory) -> None:
    outbox = Outbox(tmp_path / "outbox")
    run_id = faber_events.run_id()
    outbox.append(run_id, line(run_id, 1))
    org, project, uuid = run_id.split("/")
    data = tmp_path / "outbox" / org / project / f"{uuid}.ndjson"
    with open(data, "ab") as file:  # a writer killed in the middle of its line
        file.write(line(run_id, 2)[:20])
    assert ids(outbox, run_id) == [1], "a torn line is never read"
    outbox.append(run_id, line(run_id, 3))
    assert ids(outbox, run_id) == [1, 3]
    assert all(json.loads(x) for x in data.read_bytes().splitlines())


def test_compact_puts_lines_in_event_order_once_each(tmp_path: Path, faber_events: EventFactory) -> None:
    outbox = Outbox(tmp_path / "outbox")
    run_id = faber_events.run_id()
    for event_id in (1, 3, 2, 5, 4, 3):
        outbox.append(run_id, line(run_id, event_id))
    outbox.compact(run_id)
    assert ids(outbox, run_id) == [1, 2, 3, 4, 5]


def test_an_unreadable_cursor_sends_again_rather_than_skips(tmp_path: Path, faber_events: EventFactory) -> None:
    outbox = Outbox(tmp_path / "outbox")
    run_id = faber_events.run_id()
    for event_id in (1, 2, 3):
        outbox.append(run_id, line(run_id, event_id))
    batch = outbox.peek(run_id, 1)
    assert batch is not None
    outbox.advance(batch)
    org, project, uuid = run_id.split("/")
    (tmp_path / "outbox" / org / project / f"{uuid}.cursor").write_text("garbage")
    assert ids(outbox, run_id) == [1, 2, 3]


WRITER = textwrap.dedent("""
    import sys
    from faber_host.api import Faber
    root, run_id, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    environ = {"FABER_HELM_API_KEY": %r, "PATH": "/usr/bin:/bin"}
    faber = Faber.open(root, environ)
    for index in range(count):
        result = faber.emit(run_id, "checkpoint", message=f"writer {index}")
        assert result.event.event_id >= 1
""") % API_KEY


def run_writers(project: TestProject, run_id: str, processes: int, each: int) -> None:
    """``processes`` real processes emitting ``each`` events to one run at the same time."""
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(project.root), run_id, str(each)], stderr=subprocess.PIPE)
        for _ in range(processes)
    ]
    for writer in writers:
        _, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr.decode()


def test_concurrent_writers_during_an_outage_then_flush_each_event_once_in_order(
    stream_project: TestProject, faber_receiver: RecordingReceiver
) -> None:
    run_id = stream_project.faber().new_run("123").run_id
    faber_receiver.refuse()
    run_writers(stream_project, run_id, processes=4, each=15)
    assert sorted(pending_ids(stream_project, run_id)) == list(range(1, 61))
    faber_receiver.accept()
    result = stream_project.cli("backends", "flush", "event_stream", "--json")
    assert result.json()[0]["delivered"] == 60
    assert received_ids(faber_receiver, run_id) == list(range(1, 61)), "each once, in event order"


def test_concurrent_writers_draining_a_full_outbox_send_each_event_once(
    stream_project: TestProject, faber_receiver: RecordingReceiver
) -> None:
    restream(stream_project, faber_receiver, retry_policy={"max_retries": 0, "backoff_ms": 0})
    run_id = stream_project.faber().new_run("123").run_id
    faber_receiver.fail(503)
    faber = stream_project.faber()
    for _ in range(20):
        faber.emit(run_id, "checkpoint")
    assert len(pending_ids(stream_project, run_id)) == 20
    faber_receiver.clear()
    faber_receiver.accept()
    # Every emit of every writer now finds events waiting and tries to send them: the send lock lets
    # one process at a time take a batch, so none is sent twice.
    run_writers(stream_project, run_id, processes=4, each=10)
    stream_project.cli("backends", "flush", "event_stream")
    arrived = received_ids(faber_receiver, run_id)
    assert sorted(arrived) == list(range(1, 61)), "every event arrived exactly once"
    assert arrived[:20] == list(range(1, 21)), "the ones that waited went first, in order"
    assert outbox_of(stream_project).runs() == []


def test_outage_policy_is_shared_by_processes(stream_project: TestProject, faber_receiver: RecordingReceiver) -> None:
    restream(stream_project, faber_receiver, retry_policy=LONG_OUTAGE)
    faber = stream_project.faber()
    run_id = faber.new_run("123").run_id
    faber_receiver.fail(500)
    faber.emit(run_id, "workflow_start")  # this process meets the outage and records it
    assert len(faber_receiver.requests) == 1
    run_writers(stream_project, run_id, processes=3, each=5)
    assert len(faber_receiver.requests) == 1, "other processes' emits leave the service alone for the backoff"
    assert sorted(pending_ids(stream_project, run_id)) == list(range(1, 17))


def test_writers_killed_mid_emit_leave_an_outbox_that_flushes_cleanly(
    stream_project: TestProject, faber_receiver: RecordingReceiver
) -> None:
    """SIGKILL writer processes at arbitrary moments during an outage: every line left is whole, and
    a flush sends each outboxed event once, in order. (An event whose writer died after storing it
    and before appending it is stored but never streamed: the README says so.)"""
    restream(stream_project, faber_receiver, retry_policy=LONG_OUTAGE)
    run_id = stream_project.faber().new_run("123").run_id
    faber_receiver.refuse()
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(stream_project.root), run_id, "100000"],
                         stderr=subprocess.DEVNULL)
        for _ in range(3)
    ]
    outbox = outbox_of(stream_project)
    deadline = time.monotonic() + 60
    while outbox.pending(run_id) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    for writer in writers:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    stored = [event.event_id for event in stream_project.faber().events(run_id)]
    waiting = pending_ids(stream_project, run_id)
    assert len(waiting) >= 20 and set(waiting) <= set(stored)
    assert len(stored) - len(set(waiting)) <= len(writers), "at most the event each writer was killed on is missing"
    faber_receiver.accept()
    result = stream_project.cli("backends", "flush", "event_stream", "--json")
    assert result.exit_code == 0 and result.json()[0]["pending"] == 0
    assert received_ids(faber_receiver, run_id) == sorted(set(waiting))

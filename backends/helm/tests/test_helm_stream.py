"""The event stream against a real HTTP receiver on 127.0.0.1: up, refusing, answering 500, slow."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
from faber_backend_helm.config import RetryPolicy
from faber_backend_helm.health import HealthRecord
from helm_helpers import API_KEY, LONG_OUTAGE, outbox_of, pending_ids, received_ids, restream, stream_config

from faber_host.testing import EventFactory, RecordingReceiver, TestProject

pytest_plugins = ["helm_fixtures"]

pytestmark = pytest.mark.torture  # a receiver down, answering 500, slow, trickling: in `pytest -m torture`


def emit_workflow(project: TestProject, events: EventFactory, count: int | None = None) -> tuple[str, list[list[str]]]:
    """Emit a realistic run's events through the Python API; return the run id and each emit's warnings."""
    faber = project.faber()
    run_id = faber.new_run("123").run_id
    drafts = events.workflow()[:count] if count else events.workflow()
    warnings = []
    for draft in drafts:
        result = faber.emit_draft(run_id, draft.model_dump(mode="json", exclude_none=True))
        warnings.append(result.warnings)
    return run_id, warnings


def stored_ids(project: TestProject, run_id: str) -> list[int]:
    return [event.event_id for event in project.faber().events(run_id)]


def test_up_every_event_arrives_once_in_order_with_its_helm_envelope(
    stream_project: TestProject, faber_receiver: RecordingReceiver, faber_events: EventFactory
) -> None:
    run_id, warnings = emit_workflow(stream_project, faber_events)
    assert not any(warnings)
    stored = list(stream_project.faber().events(run_id))
    assert received_ids(faber_receiver, run_id) == [event.event_id for event in stored]
    lines = faber_receiver.accepted_ndjson()
    assert [line["event"] for line in lines] == [event.to_json() for event in stored]
    org, project, uuid = run_id.split("/")
    first, last = lines[0], lines[-1]
    assert first["version"] == 1
    assert first["helm"]["dashboard_url"] == f"https://helm.example/runs/{org}/{project}/{uuid}"
    assert first["helm"]["ui_state"]["status"] == "in_progress"
    assert last["helm"]["ui_state"]["status"] == "completed"
    assert last["helm"]["ui_state"]["phases_completed"] == last["helm"]["ui_state"]["phases_total"] == 5
    assert {line["helm"]["severity"] for line in lines} == {"info"}
    request = faber_receiver.accepted()[0]
    assert request.method == "POST" and request.path == "/v1/events"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/x-ndjson"
    assert request.body.endswith(b"\n") and request.body.count(b"\n") == 1
    assert outbox_of(stream_project).runs() == []


def test_receiver_down_emits_succeed_outbox_holds_events_flush_delivers_each_once_in_order(
    stream_project: TestProject, faber_receiver: RecordingReceiver, faber_events: EventFactory
) -> None:
    faber_receiver.refuse()
    run_id, warnings = emit_workflow(stream_project, faber_events, count=12)
    assert stored_ids(stream_project, run_id) == list(range(1, 13)), "every emit stored its event"
    assert len(warnings[0]) == 1 and "refused the connection" in warnings[0][0] and "outbox" in warnings[0][0]
    assert not any(warnings[1:]), "one warning when the outage starts, not one per emit"
    assert pending_ids(stream_project, run_id) == list(range(1, 13))

    faber_receiver.accept()
    result = stream_project.cli("backends", "flush", "event_stream", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == [
        {"backend": "event_stream", "delivered": 12, "pending": 0, "runs": 1, "error": None}
    ]
    assert received_ids(faber_receiver, run_id) == list(range(1, 13))
    assert pending_ids(stream_project, run_id) == [] and outbox_of(stream_project).runs() == []
    again = stream_project.cli("backends", "flush", "event_stream", "--json")
    assert again.json()[0]["delivered"] == 0
    assert received_ids(faber_receiver, run_id) == list(range(1, 13)), "a second flush sends nothing twice"


def test_receiver_answering_500_nothing_is_lost_and_flush_delivers_each_once_in_order(
    stream_project: TestProject, faber_receiver: RecordingReceiver, faber_events: EventFactory
) -> None:
    restream(stream_project, faber_receiver, retry_policy=LONG_OUTAGE)
    faber_receiver.fail(500)
    run_id, warnings = emit_workflow(stream_project, faber_events, count=8)
    assert "500" in warnings[0][0]
    assert [request.status for request in faber_receiver.requests] == [500], (
        "after the first failure, emits leave the service alone for the backoff"
    )
    assert pending_ids(stream_project, run_id) == list(range(1, 9))

    failing = stream_project.cli("backends", "flush", "event_stream")
    assert failing.exit_code == 1
    assert "delivered 0 event(s)" in failing.stdout and "8 pending" in failing.stdout
    assert "answered 500" in failing.stderr and "Traceback" not in failing.stderr
    assert [request.status for request in faber_receiver.requests] == [500, 500], "a flush ignores the backoff"
    assert pending_ids(stream_project, run_id) == list(range(1, 9))

    faber_receiver.clear()
    faber_receiver.accept()
    assert stream_project.cli("backends", "flush").exit_code == 0
    assert received_ids(faber_receiver, run_id) == list(range(1, 9))


def test_slow_receiver_emits_do_not_wait_for_it_and_flush_delivers_each_once_in_order(
    stream_project: TestProject, faber_receiver: RecordingReceiver, faber_events: EventFactory
) -> None:
    restream(stream_project, faber_receiver, retry_policy=LONG_OUTAGE, emit_timeout_ms=300)
    faber_receiver.slow(20.0)
    started = time.monotonic()
    run_id, warnings = emit_workflow(stream_project, faber_events, count=10)
    elapsed = time.monotonic() - started
    # Not a speed goal (see bench/): the proof that no emit waited for the 20 s answer.
    assert elapsed < 20.0, f"10 emits took {elapsed:.2f} s: an emit waited for the slow service"
    assert "within 300 ms" in warnings[0][0]
    assert pending_ids(stream_project, run_id) == list(range(1, 11))

    faber_receiver.accept()
    assert stream_project.cli("backends", "flush", "event_stream").exit_code == 0
    assert pending_ids(stream_project, run_id) == []
    # The first emit's POST reached the service before the client gave up: the contract makes the
    # service keep each (run_id, event_id) once. In what it keeps, each event is there once, in order.
    arrived = received_ids(faber_receiver, run_id)
    kept = list(dict.fromkeys(arrived))
    assert kept == list(range(1, 11))
    assert arrived == list(range(1, 11)), "the slow answer is still pending, so nothing arrived twice yet"


def test_the_next_emit_sends_what_waits_first_in_order(
    stream_project: TestProject, faber_receiver: RecordingReceiver, faber_events: EventFactory
) -> None:
    faber = stream_project.faber()
    run_id = faber.new_run("123").run_id
    faber_receiver.refuse()
    for draft in faber_events.workflow()[:3]:
        faber.emit_draft(run_id, draft.model_dump(mode="json", exclude_none=True))
    assert pending_ids(stream_project, run_id) == [1, 2, 3]
    faber_receiver.accept()
    health = HealthRecord(outbox_of(stream_project).root, RetryPolicy())
    while health.read().blocks(time.time()):  # the backoff after the last failure (tens of ms)
        time.sleep(0.01)
    result = faber.emit(run_id, "checkpoint")
    assert result.warnings == []
    assert received_ids(faber_receiver, run_id) == [1, 2, 3, 4]
    assert len(faber_receiver.accepted()) == 1, "one batch, in order"
    assert pending_ids(stream_project, run_id) == []
    faber.emit(run_id, "checkpoint")
    assert received_ids(faber_receiver, run_id) == [1, 2, 3, 4, 5], "then straight through again"


def test_flush_sends_batches_of_batch_size(
    faber_project: TestProject, faber_receiver: RecordingReceiver, faber_events: EventFactory
) -> None:
    faber_project.enable("event_stream", stream_config(faber_receiver, batch_size=3))
    faber_receiver.refuse()
    run_id, _ = emit_workflow(faber_project, faber_events, count=7)
    faber_receiver.accept()
    assert faber_project.cli("backends", "flush", "event_stream", "--run", run_id.split("/")[2][:8]).exit_code == 0
    assert [len(request.ndjson()) for request in faber_receiver.accepted()] == [3, 3, 1]
    assert received_ids(faber_receiver, run_id) == list(range(1, 8))


def test_flush_retries_a_failing_batch_with_backoff(
    stream_project: TestProject, faber_receiver: RecordingReceiver, faber_events: EventFactory
) -> None:
    faber_receiver.refuse()
    run_id, _ = emit_workflow(stream_project, faber_events, count=4)
    faber_receiver.accept()
    faber_receiver.fail(503, times=2)  # max_retries is 2: the third attempt goes through
    result = stream_project.cli("backends", "flush", "event_stream", "--json")
    assert result.exit_code == 0, result.stderr
    assert [request.status for request in faber_receiver.requests] == [503, 503, 200]
    assert received_ids(faber_receiver, run_id) == [1, 2, 3, 4]


def test_a_rejected_api_key_is_not_retried_and_says_what_to_check(
    stream_project: TestProject, faber_receiver: RecordingReceiver, faber_events: EventFactory
) -> None:
    faber_receiver.fail(401)
    run_id, warnings = emit_workflow(stream_project, faber_events, count=2)
    assert "401" in warnings[0][0] and "check the API key" in warnings[0][0]
    faber_receiver.clear()
    result = stream_project.cli("backends", "flush", "event_stream")
    assert result.exit_code == 1
    assert len(faber_receiver.requests) == 1, "a 401 will not pass by waiting: no retries"
    assert pending_ids(stream_project, run_id) == [1, 2]


def test_several_runs_each_flushed_in_order(
    stream_project: TestProject, faber_receiver: RecordingReceiver, faber_events: EventFactory
) -> None:
    faber_receiver.refuse()
    first, _ = emit_workflow(stream_project, faber_events, count=3)
    second, _ = emit_workflow(stream_project, faber_events, count=5)
    faber_receiver.accept()
    result = stream_project.cli("backends", "flush", "--json")
    assert result.json() == [{"backend": "event_stream", "delivered": 8, "pending": 0, "runs": 2, "error": None}]
    assert received_ids(faber_receiver, first) == [1, 2, 3]
    assert received_ids(faber_receiver, second) == [1, 2, 3, 4, 5]


def test_an_answer_that_trickles_in_does_not_hold_an_emit_past_its_timeout(
    stream_project: TestProject, faber_receiver: RecordingReceiver
) -> None:
    """A server that sends its answer one byte every 50 ms: no socket timeout fires, the deadline does."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        listener.settimeout(10)
        with contextlib.suppress(OSError):
            connection, _ = listener.accept()
            with connection:
                for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * 400:
                    if stop.wait(0.05):
                        break
                    connection.sendall(bytes([byte]))

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    config = stream_config(faber_receiver, emit_timeout_ms=300, retry_policy=LONG_OUTAGE)
    config["service_url"] = f"http://127.0.0.1:{listener.getsockname()[1]}/v1/events"
    stream_project.enable("event_stream", config)
    faber = stream_project.faber()
    run_id = faber.new_run("1").run_id
    started = time.monotonic()
    result = faber.emit(run_id, "workflow_start")
    elapsed = time.monotonic() - started
    stop.set()
    listener.close()
    assert elapsed < 5.0, f"the emit took {elapsed:.2f} s: it waited for the trickle (20 s) instead of 300 ms"
    assert "within 300 ms" in result.warnings[0]
    assert pending_ids(stream_project, run_id) == [1]

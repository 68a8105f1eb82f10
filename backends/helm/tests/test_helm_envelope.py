"""The helm envelope: severity from the event, ui_state from the run's state, dashboard_url."""

from __future__ import annotations

import json

import pytest
from faber_backend_helm.envelope import dashboard_url_of, envelope_line, severity_of, ui_state_of

from faber_host.testing import EventFactory


@pytest.mark.parametrize(
    ("type", "fields", "severity"),
    [
        ("workflow_start", {}, "info"),
        ("step_complete", {}, "info"),
        ("step_error", {}, "error"),
        ("phase_error", {}, "error"),
        ("checkpoint", {"error": {"code": "X", "message": "reported"}}, "error"),
        ("workflow_error", {"error": {"code": "X", "message": "fatal", "recoverable": False}}, "critical"),
        ("workflow_error", {"error": {"code": "X", "message": "retry me", "recoverable": True}}, "error"),
        ("step_retry", {}, "warning"),
        ("workflow_cancelled", {}, "warning"),
        ("approval_denied", {}, "warning"),
        ("approval_request", {}, "notice"),
        ("workflow_paused", {}, "notice"),
        ("x-acme.deploy_start", {}, "info"),
    ],
)
def test_severity(faber_events: EventFactory, type: str, fields: dict[str, object], severity: str) -> None:
    assert severity_of(faber_events.event(type, **fields)) == severity


def test_ui_state_follows_the_run(faber_events: EventFactory) -> None:
    run_id = faber_events.run_id()
    drafts = faber_events.workflow(fail_at="build:implement")
    events = faber_events.events(drafts, run_id=run_id)
    halfway = ui_state_of(faber_events.state(events[:5]))  # ... step_start frame:classify
    assert halfway == {
        "status": "in_progress", "phase": "frame", "step": "classify", "phases_completed": 0,
        "phases_total": 5, "error_count": 0, "needs_attention": False,
    }
    failed = ui_state_of(faber_events.state(events))
    assert failed["status"] == "failed" and failed["needs_attention"] is True
    assert failed["phases_completed"] == 2 and failed["error_count"] == 2


def test_waiting_for_approval_needs_attention(faber_events: EventFactory) -> None:
    run_id = faber_events.run_id()
    events = [faber_events.event("workflow_start", run_id=run_id),
              faber_events.event("approval_request", run_id=run_id, phase="release")]
    assert ui_state_of(faber_events.state(events))["needs_attention"] is True


def test_dashboard_url_template(faber_events: EventFactory) -> None:
    event = faber_events.event("checkpoint")
    org, project, uuid = event.run_id.split("/")
    assert dashboard_url_of(None, event) is None
    assert dashboard_url_of("https://h/{org}/{project}/{uuid}#{event_id}", event) == f"https://h/{org}/{project}/{uuid}#1"
    assert dashboard_url_of("https://h/r/{run_id}", event) == f"https://h/r/{event.run_id}"


def test_a_line_is_one_compact_json_document_and_a_newline(faber_events: EventFactory) -> None:
    event = faber_events.event("step_start", message="caf\u00e9 \u2615\nnext line")
    raw = envelope_line(event, faber_events.state([event]), None)
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1, "newlines inside values are escaped"
    document = json.loads(raw)
    assert document["event"] == event.to_json()
    assert document["helm"] == {"dashboard_url": None, "ui_state": document["helm"]["ui_state"], "severity": "info"}
    assert "\u2615" in raw.decode("utf-8"), "UTF-8, not escaped ASCII"

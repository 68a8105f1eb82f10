"""The NDJSON line sent per event: ``{"version": 1, "event": {...}, "helm": {"dashboard_url", "ui_state",
"severity"}}``; ``ui_state`` comes from the run's state after the event, so the dashboard need not replay."""

from __future__ import annotations

import json
from typing import Any, Literal

from faber_hookspecs.events import Event
from faber_hookspecs.run_id import RunId
from faber_hookspecs.state import RunState

ENVELOPE_VERSION = 1

Severity = Literal["info", "notice", "warning", "error", "critical"]

NOTICE_TYPES = frozenset({"workflow_paused", "approval_request", "feedback_request"})
"""A person is asked for something."""
WARNING_TYPES = frozenset({"workflow_cancelled", "step_retry", "approval_denied", "retry_loop_enter"})
"""Something did not go as planned, and the run copes."""


def severity_of(event: Event) -> Severity:
    """How loudly the dashboard should show ``event``."""
    if event.type == "workflow_error" and event.error is not None and event.error.recoverable is False:
        return "critical"
    if event.type.endswith("_error") or event.error is not None:
        return "error"
    if event.type in WARNING_TYPES:
        return "warning"
    if event.type in NOTICE_TYPES:
        return "notice"
    return "info"


def ui_state_of(state: RunState) -> dict[str, Any]:
    """The run as the dashboard shows it after the event: status, where it is, progress, and whether
    a person should look at it."""
    phases_done = sum(1 for phase in state.phases.values() if phase.status in ("completed", "skipped"))
    return {
        "status": state.status,
        "phase": state.current_phase,
        "step": state.current_step,
        "phases_completed": phases_done,
        "phases_total": len(state.phases),
        "error_count": state.error_count,
        "needs_attention": state.status in ("paused", "failed") or bool(state.pending_approvals),
    }


def dashboard_url_of(template: str | None, event: Event) -> str | None:
    """The run's page in Helm, from the configured template (None when there is none)."""
    if template is None:
        return None
    run = RunId.parse(event.run_id)
    return template.format(
        run_id=event.run_id, org=run.org, project=run.project, uuid=run.uuid, event_id=event.event_id
    )


def envelope_line(event: Event, state: RunState, dashboard_url: str | None) -> bytes:
    """One NDJSON line (ending in a newline) carrying the event and its helm envelope."""
    document = {
        "version": ENVELOPE_VERSION,
        "event": event.to_json(),
        "helm": {
            "dashboard_url": dashboard_url_of(dashboard_url, event),
            "ui_state": ui_state_of(state),
            "severity": severity_of(event),
        },
    }
    return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def line_key(line: bytes) -> tuple[str, int]:
    """The idempotency key of an outbox line: (run_id, event_id)."""
    event = json.loads(line)["event"]
    return str(event["run_id"]), int(event["event_id"])

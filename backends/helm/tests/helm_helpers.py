"""Helpers of the Helm stream tests: the stream's config for a receiver, and what the outbox holds."""

from __future__ import annotations

import json
from typing import Any

from faber_backend_helm.outbox import Outbox

from faber_host.testing import RecordingReceiver, TestProject

API_KEY = "test-key-not-secret"


def stream_config(receiver: RecordingReceiver, **overrides: Any) -> dict[str, Any]:
    """A config pointing at ``receiver``, with short backoffs so tests stay quick, and an emit timeout
    long enough that a loaded machine never turns a healthy send into a timeout (the tests of
    timeouts set their own)."""
    config: dict[str, Any] = {
        "service_url": f"{receiver.url}/v1/events",
        "api_key_env": "FABER_HELM_API_KEY",
        "batch_size": 50,
        "emit_timeout_ms": 5000,
        "flush_timeout_ms": 10000,
        "retry_policy": {"max_retries": 2, "backoff_ms": 20, "max_backoff_ms": 200},
        "dashboard_url": "https://helm.example/runs/{org}/{project}/{uuid}",
    }
    config.update(overrides)
    return config


LONG_OUTAGE = {"max_retries": 0, "backoff_ms": 60_000, "max_backoff_ms": 60_000}
"""A retry policy under which, after one failure, no emit of the test tries the service again."""


def restream(project: TestProject, receiver: RecordingReceiver, **overrides: Any) -> TestProject:
    """Re-enable event_stream on ``project`` with some settings changed."""
    project.enable("event_stream", stream_config(receiver, **overrides))
    return project


def outbox_of(project: TestProject) -> Outbox:
    """The project's outbox, read directly from its folder."""
    return Outbox(project.root / ".fractary/plugins/faber/outbox/event_stream")


def pending_ids(project: TestProject, run_id: str) -> list[int]:
    """The event ids waiting in the run's outbox, in the order they will be sent."""
    batch = outbox_of(project).peek(run_id, 1_000_000)
    return [] if batch is None else [int(json.loads(line)["event"]["event_id"]) for line in batch.lines]


def received_ids(receiver: RecordingReceiver, run_id: str) -> list[int]:
    """The event ids of ``run_id`` in every accepted request, in arrival order (duplicates kept)."""
    return [line["event"]["event_id"] for line in receiver.accepted_ndjson() if line["event"]["run_id"] == run_id]


"""The stream's config in gateway.json: what is accepted, and one clear line for what is not."""

from __future__ import annotations

from typing import Any

import pytest
from faber_backend_helm.config import RetryPolicy
from helm_helpers import stream_config

from faber_host.testing import RecordingReceiver, TestProject


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"service_url": "ftp://example.com/x"}, "backends.event_stream.config.service_url: must be an http"),
        ({"service_url": "http://:80/x"}, "service_url: must be an http"),
        ({"service_url": "http://example.com:port/"}, "service_url: has an invalid port"),
        ({"batch_size": 0}, "backends.event_stream.config.batch_size: Input should be greater than or equal to 1"),
        ({"retry_policy": {"max_retries": -1}}, "config.retry_policy.max_retries"),
        ({"retry_policy": {"backoff": 5}}, "config.retry_policy.backoff: unknown key"),
        ({"dashboard_url": "https://h/{run}"}, "uses unknown field(s) run"),
        ({"emit_timeout_ms": 60_000}, "emit_timeout_ms: Input should be less than or equal to 10000"),
        ({"colour": "blue"}, "backends.event_stream.config.colour: unknown key"),
    ],
)
def test_invalid_config_is_one_line_naming_the_key(
    faber_project: TestProject, faber_receiver: RecordingReceiver, change: dict[str, Any], expected: str
) -> None:
    """A stream that cannot load is not the record store: runs are still recorded, with one warning
    line naming the stream and its key (faber doctor fails it: test_service_url_is_required)."""
    faber_project.enable("event_stream", {**stream_config(faber_receiver), **change})
    run = faber_project.cli("runs", "new", "--work-id", "1")
    assert run.exit_code == 0 and run.stdout.strip()
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("faber: warning: backend 'event_stream' is not loaded")
    assert expected in line and "gateway.json" in line


def test_service_url_is_required(faber_project: TestProject) -> None:
    faber_project.enable("event_stream", {})
    result = faber_project.cli("runs", "list")
    assert result.exit_code == 0
    assert "backends.event_stream.config.service_url: Field required" in result.stderr
    doctor = faber_project.cli("doctor", "--json")
    assert doctor.exit_code != 0
    assert {"area": "event_stream", "name": "loads", "verdict": "fail"}.items() <= next(
        c for c in doctor.json()["checks"] if c["area"] == "event_stream").items()


def test_the_template_config_is_valid_and_disabled(faber_project: TestProject) -> None:
    document = faber_project.gateway_document()
    stream = document["backends"]["event_stream"]
    assert stream["enabled"] is False
    assert set(stream["config"]) == {"service_url", "api_key_env", "batch_size", "retry_policy"}
    faber_project.enable("event_stream")  # as shipped, with FABER_HELM_URL unset: the default URL
    assert faber_project.cli("runs", "list").exit_code == 0


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy(max_retries=3, backoff_ms=100, max_backoff_ms=500)
    assert [policy.delay_ms(n) for n in range(6)] == [0, 100, 200, 400, 500, 500]
    assert RetryPolicy(backoff_ms=1000, max_backoff_ms=86_400_000).delay_ms(10**6) == 86_400_000, "no overflow"

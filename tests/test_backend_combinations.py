"""The backends of this repository enabled together, in every combination of those installed.

Each tox environment installs one set of distributions (local only, +helm, +s3, +both, +the contrib
example), and this test then enables every subset of what is installed: the same run must be stored,
streamed, mirrored, archived... with no warning, and `faber doctor` must pass. The dev environment
(`make test`) has them all, so it runs every combination.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from faber_host.gateway.plugins import discover_backends
from faber_host.testing import EventFactory, RecordingReceiver, S3Server, TestProject, aws_test_environ


class Services:
    """The local services the backends are tested against: an HTTP receiver, and moto's S3 server,
    started only when a combination needs it (it is there only where faber-backend-s3[test] is)."""

    def __init__(self, request: pytest.FixtureRequest, receiver: RecordingReceiver) -> None:
        self.request = request
        self.receiver = receiver

    @property
    def s3(self) -> S3Server:
        server: S3Server = self.request.getfixturevalue("faber_s3_server")
        return server


@dataclass(frozen=True)
class Setup:
    """How to enable one optional backend against local test services, and how to check that it
    received every event of a run."""

    config: Callable[[TestProject, Services], dict[str, Any]]
    check: Callable[[TestProject, Services, str, list[dict[str, Any]]], None]


def _stream_check(project: TestProject, services: Services, run_id: str, events: list[dict[str, Any]]) -> None:
    received = [line["event"] for line in services.receiver.accepted_ndjson() if line["event"]["run_id"] == run_id]
    assert received == events


def _mirror_check(project: TestProject, services: Services, run_id: str, events: list[dict[str, Any]]) -> None:
    org, slug, uuid = run_id.split("/")
    lines = (project.root / "mirror" / org / slug / f"{uuid}.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == events


def _s3_config(project: TestProject, services: Services) -> dict[str, Any]:
    project.environ = aws_test_environ(project.environ)  # the test server's credentials, nothing of the machine's
    return {"bucket": services.s3.create_bucket(), "endpoint_url": services.s3.url, "region": "us-east-1",
            "max_attempts": 2, "connect_timeout": 5, "read_timeout": 20}


def _archive_check(project: TestProject, services: Services, run_id: str, events: list[dict[str, Any]]) -> None:
    archived = project.cli("archive", run_id, "--force")  # the run was resumed: it has not finished
    assert (archived.exit_code, archived.stderr) == (0, ""), archived.stderr
    bucket = project.gateway_document()["backends"]["s3_archive"]["config"]["bucket"]
    body = services.s3.client().get_object(Bucket=bucket, Key=f"faber/runs/{run_id}/events.jsonl")["Body"].read()
    assert [json.loads(line) for line in body.splitlines()] == events
    listed = project.cli("runs", "list", "--archived", "--json").json()
    assert [run["run_id"] for run in listed] == [run_id]


OPTIONAL: dict[str, Setup] = {
    "event_stream": Setup(
        config=lambda project, services: {
            "service_url": f"{services.receiver.url}/v1/events", "api_key_env": None, "emit_timeout_ms": 10_000,
        },
        check=_stream_check,
    ),
    "jsonl_mirror": Setup(config=lambda project, services: {"path": "mirror"}, check=_mirror_check),
    "s3_archive": Setup(config=_s3_config, check=_archive_check),
}
"""Every optional backend of this repository (local_files, the record store, is always enabled)."""

INSTALLED = sorted(name for name in OPTIONAL if name in discover_backends())
COMBINATIONS = [combo for size in range(len(INSTALLED) + 1) for combo in itertools.combinations(INSTALLED, size)]


@pytest.mark.parametrize("combination", COMBINATIONS, ids=lambda combo: "+".join(("local_files", *combo)))
def test_backends_work_together(
    combination: tuple[str, ...], faber_project: TestProject, faber_receiver: RecordingReceiver,
    faber_events: EventFactory, request: pytest.FixtureRequest,
) -> None:
    services = Services(request, faber_receiver)
    for name in combination:
        faber_project.enable(name, OPTIONAL[name].config(faber_project, services))
    faber_project.only("local_files", *combination)

    faber = faber_project.faber()
    run_id = faber.new_run("123").run_id
    for draft in faber_events.workflow(fail_at="build:implement"):
        assert faber.emit_draft(run_id, draft.model_dump(mode="json", exclude_none=True)).warnings == []
    emitted = faber_project.cli("event", "emit", run_id, "workflow_resumed", "--message", "again")
    assert (emitted.exit_code, emitted.stderr) == (0, "")

    events = [event.to_json() for event in faber_project.faber().events(run_id)]
    assert [event["event_id"] for event in events] == list(range(1, len(events) + 1))
    for name in combination:
        OPTIONAL[name].check(faber_project, services, run_id, events)

    listed = faber_project.cli("backends", "--json").json()
    enabled = {info["name"] for info in listed if info["enabled"] and info["distribution"] != "faber-host"}
    assert enabled == {"local_files", *combination}, "(the host's built-in plugins aside)"
    doctor = faber_project.cli("doctor")
    assert doctor.exit_code == 0, doctor.stdout
    assert faber_project.cli("backends", "flush").exit_code == 0

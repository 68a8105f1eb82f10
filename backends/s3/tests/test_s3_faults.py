"""Faults between faber and the bucket (a proxy that drops connections, answers 500 and cuts bodies
short), and a bucket whose objects were tampered with."""

from __future__ import annotations

import hashlib
import json
import shutil
from typing import Any

import pytest
from fault_proxy import FaultProxy
from s3_helpers import Project, emit_failed_run, event_files

pytest_plugins = ["s3_fixtures"]  # the S3 server, the proxy and the projects: fixtures

pytestmark = pytest.mark.torture  # the archive under dropped connections, 500s, cut bodies: in `pytest -m torture`


def snapshot(project: Project, run_id: str) -> dict[str, bytes]:
    folder = project.run_folder(run_id)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("kind", "method", "target", "verify"),
    [
        ("drop", "PUT", "events.jsonl", "checksum"),
        ("error500", "PUT", "manifest.json", "checksum"),
        ("cut_request", "PUT", "events.jsonl", "checksum"),
        ("cut_response", "GET", "state.json", "download"),  # the read-back of a verify: download
    ],
)
def test_a_failing_archive_removes_nothing_and_a_retry_completes_it(
    make_project: Any, proxy: FaultProxy, kind: str, method: str, target: str, verify: str
) -> None:
    project: Project = make_project(endpoint=proxy.url, max_attempts=2, verify=verify)
    run_id = emit_failed_run(project.api())
    original = event_files(project.run_folder(run_id))
    proxy.add(kind, method=method, path_contains=target, times=None)  # more than every retry

    result = project.cli("archive", run_id, "--cleanup")
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("faber: error: archiving run") and "Traceback" not in result.stderr
    assert target in lines[0] and "nothing local was removed" in lines[0] and "run the command again" in lines[0]
    assert event_files(project.run_folder(run_id)) == original
    faber = project.api()
    assert faber.run(run_id).metadata.archive is None, "nothing is recorded as archived"
    injected = [fault for fault in proxy.injected if fault[0] == kind]
    assert len(injected) >= 2, "boto3 retried before giving up"

    proxy.clear()
    retried = faber.archive_run(run_id, cleanup=True)
    assert retried.archived and retried.cleanup is not None and retried.cleanup.files == 13
    assert not (project.run_folder(run_id) / "events").exists()
    shutil.rmtree(project.run_folder(run_id))
    faber.restore_run(run_id)
    assert event_files(project.run_folder(run_id)) == original


def test_transient_faults_are_retried_within_one_archive(make_project: Any, proxy: FaultProxy) -> None:
    project: Project = make_project(endpoint=proxy.url, max_attempts=4)
    run_id = emit_failed_run(project.api())
    proxy.add("drop", method="PUT", path_contains="events.jsonl", times=1)
    proxy.add("error500", method="PUT", path_contains="state.json", times=2)
    proxy.add("cut_request", method="PUT", path_contains="metadata.json", times=1)
    proxy.add("cut_response", method="GET", path_contains="manifest.json", times=1)
    project.configure(verify="download")
    result = project.api().archive_run(run_id, cleanup=True)
    assert result.archived and result.cleanup is not None and result.cleanup.files == 13
    assert sorted(kind for kind, _, _ in proxy.injected) == ["cut_request", "cut_response", "drop", "error500", "error500"]


def test_a_cut_download_is_retried_and_a_failing_one_changes_nothing(make_project: Any, proxy: FaultProxy) -> None:
    project: Project = make_project(endpoint=proxy.url, max_attempts=3)
    run_id = emit_failed_run(project.api())
    original = event_files(project.run_folder(run_id))
    project.api().archive_run(run_id, cleanup=True)
    before = snapshot(project, run_id)

    proxy.add("cut_response", method="GET", path_contains="events.jsonl", times=None)
    failed = project.cli("restore", run_id)
    assert failed.returncode == 1 and failed.stderr.count("\n") == 1 and "events.jsonl" in failed.stderr
    assert snapshot(project, run_id) == before, "a failed restore leaves the run as it was"

    proxy.clear()
    proxy.add("cut_response", method="GET", path_contains="events.jsonl", times=1)
    proxy.add("error500", method="GET", path_contains="state.json", times=1)
    project.api().restore_run(run_id)
    assert event_files(project.run_folder(run_id)) == original


def tamper_events(s3: Any, bucket: str, run_id: str) -> bytes:
    """Change one event in the archived events.jsonl, keeping its length; return the new bytes."""
    key = f"faber/runs/{run_id}/events.jsonl"
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    tampered = data.replace(b"BUILD_FAILED", b"BUILD_PASSED")
    assert tampered != data and len(tampered) == len(data)
    s3.put_object(Bucket=bucket, Key=key, Body=tampered)
    return tampered


def test_a_tampered_object_is_refused_at_restore(make_project: Any, s3: Any, bucket: str) -> None:
    project: Project = make_project()
    run_id = emit_failed_run(project.api())
    project.api().archive_run(run_id, cleanup=True)
    before = snapshot(project, run_id)
    tamper_events(s3, bucket, run_id)

    result = project.cli("restore", run_id)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "events.jsonl" in result.stderr and "refused" in result.stderr
    assert snapshot(project, run_id) == before
    elsewhere: Project = make_project("elsewhere")
    assert elsewhere.cli("restore", run_id).returncode == 1
    assert not elsewhere.run_folder(run_id).exists()


def test_a_consistently_rewritten_archive_is_refused_where_the_run_was_archived(
    make_project: Any, s3: Any, bucket: str
) -> None:
    """Someone rewrites events.jsonl and fixes the manifest to match: the manifest hash recorded when the
    run was archived no longer matches. Elsewhere, --manifest-sha256 gives the same protection."""
    project: Project = make_project()
    run_id = emit_failed_run(project.api())
    archived = project.api().archive_run(run_id, cleanup=True).to_json()
    tampered = tamper_events(s3, bucket, run_id)
    manifest_key = f"faber/runs/{run_id}/manifest.json"
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    for entry in manifest["files"]:
        if entry["name"] == "events.jsonl":
            entry["sha256"] = hashlib.sha256(tampered).hexdigest()
    s3.put_object(Bucket=bucket, Key=manifest_key, Body=(json.dumps(manifest, indent=2) + "\n").encode())

    result = project.cli("restore", run_id)
    assert result.returncode == 1 and "recorded when the run was archived" in result.stderr
    assert not (project.run_folder(run_id) / "events").exists()
    elsewhere: Project = make_project("elsewhere")
    pinned = elsewhere.cli("restore", run_id, "--manifest-sha256", archived["manifest_sha256"])
    assert pinned.returncode == 1 and "refused" in pinned.stderr
    # Without any anchor the events' own digest still catches a changed event.
    unpinned = elsewhere.cli("restore", run_id)
    assert unpinned.returncode == 1 and "would not be the same bytes" in unpinned.stderr
    assert not elsewhere.run_folder(run_id).exists()

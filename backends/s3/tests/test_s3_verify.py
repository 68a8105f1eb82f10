"""A bucket that holds, or says it holds, something else than was sent: other sizes, other checksums,
other bytes, or a matching recorded sha256 on a different body. No such object is ever counted as
verified, so `archive --cleanup` never removes local events whose archive is wrong. In process (the
API), through the fault proxy's rewritten answers, so that these tests see what mutation testing plants."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
from fault_proxy import FaultProxy
from s3_helpers import Project, emit_failed_run, event_files

from faber_host.archive import ArchiveIncomplete

pytest_plugins = ["s3_fixtures"]

OTHER_SHA256 = base64.b64encode(hashlib.sha256(b"other bytes").digest()).decode()


def key_of(run_id: str, name: str) -> str:
    return f"faber/runs/{run_id}/{name}"


@pytest.mark.parametrize(
    ("verify", "headers", "reverse_body", "said"),
    [
        ("checksum", {"Content-Length": "3"}, False, "holds 3 bytes, not the"),
        ("checksum", {"x-amz-checksum-sha256": OTHER_SHA256}, False, f"reports checksum {OTHER_SHA256}, not the"),
        ("checksum", {"x-amz-checksum-sha256": OTHER_SHA256 + "-1"}, False, "reports checksum"),
        ("checksum", {"x-amz-checksum-sha256": None}, True, "read back does not match"),  # no checksum: read back
        ("download", {"x-amz-checksum-sha256": None}, True, "read back does not match"),
    ],
    ids=["size", "checksum", "checksum-of-parts", "bytes-without-checksum", "bytes-read-back"],
)
def test_an_object_the_bucket_answers_for_differently_is_not_verified_and_nothing_is_removed(
    make_project: Any, proxy: FaultProxy, verify: str, headers: dict[str, str | None], reverse_body: bool, said: str
) -> None:
    project: Project = make_project(endpoint=proxy.url, verify=verify)
    faber = project.api()
    run_id = emit_failed_run(faber)
    original = event_files(project.run_folder(run_id))
    method = "GET" if verify == "download" else "HEAD"
    proxy.add("rewrite_answer", method=method, path_contains="events.jsonl", times=None, headers=headers,
              reverse_body=reverse_body)
    if reverse_body and method == "HEAD":  # the read-back a missing checksum asks for gets other bytes too
        proxy.add("rewrite_answer", method="GET", path_contains="events.jsonl", times=None, headers=headers,
                  reverse_body=True)  # (and no checksum, which boto3 would check on its own)

    with pytest.raises(ArchiveIncomplete) as failure:
        faber.archive_run(run_id, cleanup=True)
    message = str(failure.value)
    assert "events.jsonl" in message and said in message and "nothing local was removed" in message
    receipts = failure.value.result.receipts
    assert [receipt.verified for receipt in receipts] == [False]
    assert event_files(project.run_folder(run_id)) == original
    assert faber.run(run_id).metadata.archive is None, "nothing is recorded as archived"
    assert faber.cleanup_runs([run_id]).entries[0].action == "skipped"
    assert event_files(project.run_folder(run_id)) == original

    proxy.clear()  # the bucket answers truly again: the archive completes
    assert faber.archive_run(run_id, cleanup=True).archived


@pytest.mark.parametrize("checksum", [True, False], ids=["with-its-checksum", "without-a-checksum"])
def test_a_matching_recorded_sha256_on_a_different_body_is_uploaded_again(
    make_project: Any, s3: Any, bucket: str, checksum: bool
) -> None:
    """An object already at the key with the right size and the right sha256 in its metadata, but other
    bytes (an interrupted archive, a tampering), is not taken for the archived file: it is replaced,
    verified, and only then are the local events removed, and what comes back is the original."""
    project: Project = make_project()
    faber = project.api()
    run_id = emit_failed_run(faber)
    original = event_files(project.run_folder(run_id))
    bundle = faber.consolidate_events(run_id)
    events = next(entry for entry in bundle.manifest.files if entry.name == "events.jsonl")
    local = (Path(bundle.directory) / "events.jsonl").read_bytes()
    wrong = local[::-1]
    assert len(wrong) == events.size and hashlib.sha256(wrong).hexdigest() != events.sha256
    extra = {"ChecksumAlgorithm": "SHA256"} if checksum else {}
    s3.put_object(Bucket=bucket, Key=key_of(run_id, "events.jsonl"), Body=wrong, Metadata={"sha256": events.sha256},
                  **extra)

    result = faber.archive_run(run_id, cleanup=True)
    assert result.archived and result.cleanup is not None
    uploaded = {item.name: item.uploaded for receipt in result.receipts for item in receipt.objects}
    assert uploaded["events.jsonl"] is True, "the wrong body was replaced, not kept"
    assert s3.get_object(Bucket=bucket, Key=key_of(run_id, "events.jsonl"))["Body"].read() == local
    faber.restore_run(run_id)
    assert event_files(project.run_folder(run_id)) == original


def test_an_identical_object_already_there_is_verified_and_kept(make_project: Any, s3: Any, bucket: str) -> None:
    """An earlier, interrupted archive's objects that are right are kept, not sent again."""
    project: Project = make_project()
    faber = project.api()
    run_id = emit_failed_run(faber)
    first = faber.archive_run(run_id)
    assert all(item.uploaded for receipt in first.receipts for item in receipt.objects)
    again = faber.archive_run(run_id, cleanup=True)
    assert again.archived and not any(item.uploaded for receipt in again.receipts for item in receipt.objects)

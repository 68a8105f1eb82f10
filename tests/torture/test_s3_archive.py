"""The S3 archive (moto's server from the testing kit, on 127.0.0.1): no planted secret reaches an
archived object, and archive keys come only from the validated run id, under the configured prefix."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_environ

from faber_host.api import Faber
from faber_host.testing import AWS_TEST_ENVIRONMENT, S3Server

from .clirun import run_faber
from .kit import record
from .secrets import CUSTOM_PATTERN, SECRETS
from .test_security import PLACEMENTS

PREFIX = "torture/archive/"


@pytest.fixture
def archiving(project_dir: Path, faber_s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> tuple[Faber, Any, str]:
    """The project archiving to a fresh bucket under PREFIX, with the suite's extra redaction pattern."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in AWS_TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    bucket = faber_s3_server.create_bucket()
    path = project_dir / ".fractary/plugins/faber/gateway.json"
    gateway = json.loads(path.read_text())
    gateway["backends"]["local_files"]["config"]["sync_writes"] = False
    gateway["backends"]["s3_archive"] = {"enabled": True, "config": {
        "bucket": bucket, "endpoint_url": faber_s3_server.url, "region": "us-east-1", "prefix": PREFIX,
        "max_attempts": 3, "connect_timeout": 5, "read_timeout": 20}}
    gateway["redaction"] = {"patterns": [CUSTOM_PATTERN]}
    path.write_text(json.dumps(gateway, indent=2))
    return Faber.open(project_dir, clean_environ(**AWS_TEST_ENVIRONMENT)), faber_s3_server.client(), bucket


def index_key(run_id: str) -> str:
    """The run's entry in the archive's uuid index (see faber_backend_s3.index)."""
    org, project, uuid = run_id.split("/")
    return f"{PREFIX}_index/{uuid}/{org}/{project}"


def bucket_objects(s3: Any, bucket: str) -> dict[str, bytes]:
    keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for item in page.get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def test_planted_secrets_never_reach_an_archived_object(archiving: tuple[Faber, Any, str]) -> None:
    faber, s3, bucket = archiving
    run_id = faber.new_run("secrets", params={"note": SECRETS[0].text}).run_id
    placed = 0
    for planted in SECRETS:
        for place in PLACEMENTS.values():
            fields = {"type": "checkpoint", **place(planted.text)}
            source = fields.pop("source", "faber-api")
            faber.emit_draft(run_id, fields, source=source)
            placed += 1
    faber.emit(run_id, "workflow_complete")
    result = faber.archive_run(run_id, cleanup=True)
    assert result.event_count == placed + 1
    objects = bucket_objects(s3, bucket)
    assert objects and all(key.startswith(PREFIX + run_id + "/") or key == index_key(run_id) for key in objects), \
        sorted(objects)
    found = [f"{key} holds {planted.kind}" for key, data in objects.items() for planted in SECRETS
             if planted.secret.encode() in data]
    assert not found, found
    assert any(b"[REDACTED:" in data for data in objects.values())
    # And restored from the archive: still none.
    faber.restore_run(run_id)
    assert not [p.kind for p in SECRETS if p.secret in json.dumps([e.to_json() for e in faber.events(run_id)])]
    record("test_planted_secrets_never_reach_an_archived_object", inputs_tried=placed, events_written=placed + 1,
           objects_searched=len(objects))


def test_archive_keys_come_only_from_the_validated_run_id(archiving: tuple[Faber, Any, str], project_dir: Path) -> None:
    faber, s3, bucket = archiving
    run_id = faber.new_run("keys").run_id
    faber.emit(run_id, "workflow_complete")
    org, project, uuid = run_id.split("/")
    hostile = [
        "..", "../..", "../../etc/passwd", f"{run_id}/..", f"{run_id}/../../x", f"{org}/{project}/../{uuid}",
        f"../{run_id}", f"{org}/../{project}/{uuid}", f"/{run_id}", f"{run_id}/", f"{run_id}\x00", f"{org}/{project}/.",
        f"{org}/{project}/{uuid}/manifest.json", f"{org}/{project}/%2e%2e", "..\\..\\x", f"{org}//{project}/{uuid}",
        "x" * 5000, "", " ", "*", "?", f"{PREFIX}{run_id}", f"s3://{bucket}/{PREFIX}{run_id}/",
    ]
    tried = 0
    for command in ("archive", "restore"):
        for ref in hostile:
            tried += 1
            outcome = run_faber(project_dir, command, ref, *(["--force"] if command == "archive" else []))
            assert outcome.code != 0, (command, ref, outcome)
            assert not outcome.problems(), (command, ref, outcome)
    assert bucket_objects(s3, bucket) == {}, "a hostile run ref archived something"
    archived = run_faber(project_dir, "archive", run_id)
    assert archived.code == 0 and not archived.problems(), archived
    keys = sorted(bucket_objects(s3, bucket))
    assert keys, "nothing archived"
    assert index_key(run_id) in keys, "the run's uuid index entry, made of the same validated id"
    for key in keys:
        assert key.startswith(f"{PREFIX}{run_id}/") or key == index_key(run_id), key
        rest = "index" if key == index_key(run_id) else key.removeprefix(f"{PREFIX}{run_id}/")
        assert ".." not in key.split("/") and "\x00" not in key and "//" not in key and rest and "/" not in rest, key
    record("test_archive_keys_come_only_from_the_validated_run_id", inputs_tried=tried)

"""`faber doctor` asks the bucket once (HeadBucket), against the real S3 server: ok when it answers,
one failed check with one clear line when the bucket is missing or the endpoint does not answer."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from fault_proxy import FaultProxy
from s3_helpers import Project

pytest_plugins = ["s3_fixtures"]  # the S3 server, the proxy and the projects: fixtures


def bucket_check(project: Project) -> tuple[int, dict[str, str]]:
    """`faber doctor --json`'s exit code and its s3_archive bucket check."""
    result = project.cli("doctor", "--json")
    checks = json.loads(result.stdout)["checks"]
    (check,) = [c for c in checks if (c["area"], c["name"]) == ("s3_archive", "bucket answers")]
    assert "\n" not in check["detail"] and "Traceback" not in result.stderr
    return result.returncode, check


def closed_port() -> int:
    """A port of 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_bucket_that_answers_is_ok(make_project: Any, bucket: str, s3_server: str) -> None:
    project: Project = make_project()
    code, check = bucket_check(project)
    assert code == 0 and check["verdict"] == "ok"
    assert check["detail"] == f"s3://{bucket} at {s3_server} in region us-east-1: credentials accepted"
    assert "s3_archive: bucket answers" in project.ok("doctor"), "one line of the text report too"


def test_a_missing_bucket_fails_with_its_name_and_where_to_fix_it(make_project: Any, s3_server: str) -> None:
    project: Project = make_project()
    project.configure(bucket="faber-test-no-such-bucket")
    code, check = bucket_check(project)
    assert code == 1 and check["verdict"] == "fail"
    assert check["detail"] == (
        f"HeadBucket s3://faber-test-no-such-bucket at {s3_server}: bucket 'faber-test-no-such-bucket' does not "
        "exist (backends.s3_archive.config.bucket)"
    )


def test_an_unreachable_endpoint_fails_quickly_after_one_attempt(make_project: Any, bucket: str) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    project: Project = make_project(endpoint=endpoint, max_attempts=5)  # the archive's retries; doctor asks once
    started = time.monotonic()
    code, check = bucket_check(project)
    assert time.monotonic() - started < 30
    assert code == 1 and check["verdict"] == "fail"
    assert check["detail"].startswith(f"HeadBucket s3://{bucket} at {endpoint}: the connection to {endpoint} failed (")
    assert "attempts" not in check["detail"]


def test_the_check_asks_once_without_retries(make_project: Any, proxy: FaultProxy, bucket: str) -> None:
    project: Project = make_project(endpoint=proxy.url, max_attempts=3)
    proxy.add("error500", method="HEAD", times=1)
    code, check = bucket_check(project)
    assert code == 1 and check["verdict"] == "fail"
    assert check["detail"] == f"HeadBucket s3://{bucket} at {proxy.url}: the S3 endpoint answered 500 (Internal Server Error)"
    assert proxy.requests == [("HEAD", f"/{bucket}")], "one request: a doctor reports, it does not retry"
    assert bucket_check(project)[1]["verdict"] == "ok", "the fault was a passing one"

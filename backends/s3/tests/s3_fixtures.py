"""Fixtures of the S3 tests: the testing kit's S3 server (moto in server mode, on 127.0.0.1), a bucket
per test, a fault-injecting proxy in front of the server, and projects whose gateway.json enables
s3_archive.

Test modules load it with ``pytest_plugins = ["s3_fixtures"]`` and import what they call from
s3_helpers. A conftest.py here would be imported as ``conftest`` too and take the place of the host's
tests/conftest.py, which its test modules import from, when pytest collects the whole repository.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_proxy import FaultProxy
from s3_helpers import Project, environ

from faber_host.init import initialize
from faber_host.testing import AWS_TEST_ENVIRONMENT, S3Server


@pytest.fixture
def s3_server(faber_s3_server: S3Server) -> str:
    """The URL of the session's S3 server."""
    return faber_s3_server.url


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials for the test server through the standard chain (the environment), and nothing of
    the machine's own AWS setup."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in AWS_TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def bucket(faber_s3_server: S3Server) -> str:
    """A new, empty bucket for this test."""
    return faber_s3_server.create_bucket()


@pytest.fixture
def s3(faber_s3_server: S3Server) -> Any:
    """A boto3 client straight to the server (to look at the bucket, or to tamper with it)."""
    return faber_s3_server.client()


@pytest.fixture
def proxy(s3_server: str) -> Iterator[FaultProxy]:
    """The fault-injecting proxy in front of the server."""
    server = FaultProxy(int(s3_server.rsplit(":", 1)[1])).start()
    yield server
    server.stop()


@pytest.fixture
def make_project(
    tmp_path: Path, s3_server: str, bucket: str, aws_environment: None
) -> Callable[..., Project]:
    """make_project(name, endpoint=..., **config): an initialised project archiving to the test bucket."""

    def make(name: str = "widget-service", *, endpoint: str | None = None, **config: Any) -> Project:
        root = tmp_path / name
        root.mkdir()
        initialize(root, "acme", "widget-service", environ())
        project = Project(root)
        path = root / ".fractary" / "plugins" / "faber" / "gateway.json"
        gateway = json.loads(path.read_text())
        gateway["backends"]["local_files"]["config"]["sync_writes"] = False
        gateway["backends"]["s3_archive"] = {
            "enabled": True,
            "config": {"bucket": bucket, "endpoint_url": endpoint or s3_server, "region": "us-east-1",
                       "max_attempts": 3, "connect_timeout": 5, "read_timeout": 20, **config},
        }
        path.write_text(json.dumps(gateway, indent=2))
        return project

    return make

"""A real S3-compatible server for the tests: moto in server mode, started on 127.0.0.1 in its own
process; a fault-injecting proxy in front of it; projects whose gateway.json enables s3_archive.

Test modules load it as a plugin (``pytest_plugins = ["s3_support"]``). A conftest.py here would be
imported as ``conftest`` too and take the place of the host's tests/conftest.py, which its test
modules import from.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from faber_host.api import Faber
from faber_host.init import initialize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fault_proxy import FaultProxy

FABER = str(Path(sys.executable).with_name("faber"))
MOTO_SERVER = str(Path(sys.executable).with_name("moto_server"))
AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "faber-tests",
    "AWS_SECRET_ACCESS_KEY": "faber-tests-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/faber-tests-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/faber-tests-aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server, in its own process, on a free port of 127.0.0.1."""
    port = _free_port()
    log = open(os.devnull, "wb")
    process = subprocess.Popen([MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials for the test server through the standard chain (the environment), and nothing of
    the machine's own AWS setup."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture
def bucket(s3_server: str) -> str:
    """A new, empty bucket for this test."""
    name = f"faber-test-{uuid.uuid4().hex[:12]}"
    s3_client(s3_server).create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3(s3_server: str) -> Any:
    """A boto3 client straight to the server (to look at the bucket, or to tamper with it)."""
    return s3_client(s3_server)


@pytest.fixture
def proxy(s3_server: str) -> Iterator[FaultProxy]:
    """The fault-injecting proxy in front of the server."""
    server = FaultProxy(int(s3_server.rsplit(":", 1)[1])).start()
    yield server
    server.stop()


class Project:
    """A FABER project whose gateway.json enables s3_archive, with its API and its CLI."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def runs(self) -> Path:
        return self.root / ".fractary" / "plugins" / "faber" / "runs"

    def run_folder(self, run_id: str) -> Path:
        return self.runs / run_id

    def api(self) -> Faber:
        return Faber.open(self.root, environ())

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FABER, *args], cwd=self.root, env=environ(), capture_output=True, text=True, timeout=timeout
        )

    def ok(self, *args: str) -> str:
        result = self.cli(*args)
        assert result.returncode == 0, f"faber {' '.join(args)} failed ({result.returncode}): {result.stderr}"
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def configure(self, **config: Any) -> None:
        """Change the s3_archive config in gateway.json."""
        path = self.root / ".fractary" / "plugins" / "faber" / "gateway.json"
        gateway = json.loads(path.read_text())
        gateway["backends"]["s3_archive"]["config"].update(config)
        path.write_text(json.dumps(gateway, indent=2))


def environ() -> dict[str, str]:
    """The environment of a `faber` subprocess: ours without FABER_ and AWS_ settings, plus the test
    credentials."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FABER_", "AWS_"))}
    return {**base, **AWS_ENVIRONMENT}


@pytest.fixture
def make_project(tmp_path: Path, s3_server: str, bucket: str, aws_environment: None):  # type: ignore[no-untyped-def]
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


def event_files(folder: Path) -> dict[str, bytes]:
    """The event files of a run folder, by name, with their bytes."""
    events = folder / "events"
    return {p.name: p.read_bytes() for p in sorted(events.iterdir()) if p.name[0].isdigit()}


def emit_failed_run(faber: Faber, extra_events: int = 0) -> str:
    """A run that failed in its build phase, as a workflow run records it; returns its id."""
    run_id = faber.new_run("123", params={"target": "staging"}).run_id
    faber.emit(run_id, "workflow_start", message="Starting — é ☃")
    for phase in ("frame", "architect"):
        faber.emit(run_id, "phase_start", phase=phase)
        faber.emit(run_id, "step_start", phase=phase, step="work")
        faber.emit(run_id, "step_complete", phase=phase, step="work", duration_ms=1200,
                   metadata={"score": 0.75, "tiny": 1e-05})
        faber.emit(run_id, "phase_complete", phase=phase)
    for index in range(extra_events):
        faber.emit(run_id, "checkpoint", phase="build", message=f"progress {index}")
    faber.emit(run_id, "phase_start", phase="build")
    faber.emit(run_id, "step_start", phase="build", step="implement")
    faber.emit(run_id, "step_error", phase="build", step="implement",
               error={"code": "BUILD_FAILED", "message": "tests failed", "recoverable": True})
    faber.emit(run_id, "workflow_error", phase="build", error={"code": "STEP_FAILED", "message": "build failed"})
    return run_id

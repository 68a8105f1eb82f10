"""A real S3-compatible server for tests: moto in server mode, its own process on 127.0.0.1. Point
``endpoint_url`` at ``url``, give the process ``AWS_TEST_ENVIRONMENT``, make a bucket per test with
``create_bucket()``. Needs ``moto[server]``, which faber-host does not depend on."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

AWS_TEST_ENVIRONMENT: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "faber-tests",
    "AWS_SECRET_ACCESS_KEY": "faber-tests-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    # Nothing of the machine's own AWS setup: no profile files, no instance metadata service.
    "AWS_CONFIG_FILE": "/nonexistent/faber-tests-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/faber-tests-aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}
"""The AWS variables a process needs to reach the test server through boto3's credential chain (moto
accepts any key) and nothing else. Replace every ``AWS_*`` variable with these."""

START_TIMEOUT_S = 60.0


class S3Server:
    """moto's S3 server on a free port of 127.0.0.1, started on creation; ``stop()`` ends it."""

    def __init__(self) -> None:
        if importlib.util.find_spec("moto") is None:
            raise RuntimeError('the S3 test server needs moto with its server: pip install "moto[server]"')
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "faber_host.testing.s3", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_listening()

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto's S3 server did not start on {self.url}") from None
                time.sleep(0.1)

    def client(self) -> Any:
        """A boto3 S3 client straight to the server (to look at a bucket, or to tamper with it)."""
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.url, region_name=AWS_TEST_ENVIRONMENT["AWS_DEFAULT_REGION"],
            aws_access_key_id=AWS_TEST_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_TEST_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a new, unique name by default) and return its name."""
        name = name or f"faber-test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        """End the server process."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def aws_test_environ(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) with every ``AWS_*`` variable replaced by
    ``AWS_TEST_ENVIRONMENT``: for a ``faber`` subprocess or ``TestProject.environ``."""
    base = os.environ if environ is None else environ
    return {**{k: v for k, v in base.items() if not k.startswith("AWS_")}, **AWS_TEST_ENVIRONMENT}


def use_s3_store(root: Any, server: S3Server, bucket: str | None = None, **config: Any) -> str:
    """Make the project at ``root`` keep its runs in ``bucket`` (default: a new one) of ``server`` with
    ``s3_store`` instead of ``local_files`` (its processes need ``AWS_TEST_ENVIRONMENT``); returns the
    bucket. Projects given one bucket are machines sharing their runs."""
    import json
    from pathlib import Path

    bucket = bucket or server.create_bucket()
    path = Path(root) / ".fractary" / "plugins" / "faber" / "gateway.json"
    gateway = json.loads(path.read_text())
    gateway["backends"]["local_files"]["enabled"] = False
    gateway["backends"]["s3_store"] = {"enabled": True, "config": {
        "bucket": bucket, "endpoint_url": server.url, "region": "us-east-1", "max_attempts": 3, **config}}
    path.write_text(json.dumps(gateway, indent=2))
    return bucket


def _serve(port: int) -> None:
    """moto's server, answering one request at a time: moto checks a conditional write's condition
    and then stores the object in two steps, so two of its threads could both create one key, which
    S3 itself never lets happen. Connections are still served in parallel."""
    import threading

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    app = DomainDispatcherApplication(create_backend_app)
    one_at_a_time = threading.Lock()

    def serialised(environ: Any, start_response: Any) -> list[bytes]:
        with one_at_a_time:
            return list(app(environ, start_response))

    run_simple("127.0.0.1", port, serialised, threaded=True, request_handler=MotoRequestHandler)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    _serve(int(sys.argv[1]))

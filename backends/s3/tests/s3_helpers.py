"""Helpers of the S3 tests: a project archiving to the test bucket, with its API and its CLI; the event
files of a run; a failed run to archive. Test modules import them; the fixtures are in s3_fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from faber_host.api import Faber
from faber_host.testing import aws_test_environ

FABER = str(Path(sys.executable).with_name("faber"))


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
    """The environment of a `faber` subprocess: ours without FABER_ settings, with the test server's
    AWS credentials instead of any AWS_ setting."""
    return aws_test_environ({k: v for k, v in os.environ.items() if not k.startswith("FABER_")})


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

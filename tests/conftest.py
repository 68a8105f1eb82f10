"""Shared fixtures: a fresh project per test, and helpers to run the real `faber` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from faber_host.api import Faber
from faber_host.init import initialize

FABER = str(Path(sys.executable).with_name("faber"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"  # copies of ../shared/fixtures (FABER reference data)
REPO = Path(__file__).resolve().parent.parent
S3_STORE = os.environ.get("FABER_TEST_STORE") == "s3_store"
"""``FABER_TEST_STORE=s3_store`` (tox -e s3-store): every project keeps its runs in a bucket of the kit's
S3 server with ``s3_store``, so the tests that work through the CLI, the API and MCP test that store."""
if S3_STORE:
    from faber_host.testing import AWS_TEST_ENVIRONMENT

    os.environ.update(AWS_TEST_ENVIRONMENT)  # boto3 in this process finds the test server's credentials


def clean_environ(**extra: str) -> dict[str, str]:
    """The environment for a `faber` subprocess: ours, minus anything that would point elsewhere."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FABER_")}
    environ["NO_PROXY"] = environ["no_proxy"] = "127.0.0.1,localhost"  # test servers are local; a proxy must not take them
    environ.update(extra)
    return environ


@pytest.fixture
def project_dir(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """An initialised FABER project (org acme, project widget-service), not inside any git checkout."""
    root = tmp_path / "widget-service"
    root.mkdir()
    initialize(root, "acme", "widget-service", clean_environ())
    if S3_STORE:
        from faber_host.testing import use_s3_store

        use_s3_store(root, request.getfixturevalue("faber_s3_server"))
    return root


@pytest.fixture
def faber(project_dir: Path) -> Faber:
    """The Python API on a fresh project."""
    return Faber.open(project_dir, clean_environ())


class Cli:
    """Runs the real `faber` executable in a project folder."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def __call__(self, *args: str, env: dict[str, str] | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FABER, *args], cwd=self.cwd, env=env or clean_environ(), input=input,
            capture_output=True, text=True, timeout=120,
        )

    def ok(self, *args: str) -> str:
        """Run and insist on success; return stdout."""
        result = self(*args)
        assert result.returncode == 0, f"faber {' '.join(args)} failed ({result.returncode}): {result.stderr}"
        return result.stdout

    def json(self, *args: str) -> object:
        return json.loads(self.ok(*args))


@pytest.fixture
def cli(project_dir: Path) -> Cli:
    return Cli(project_dir)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """A user error: the given exit code, exactly one line on stderr, no traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("faber: error: ")
    return lines[0]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes, to prove nothing changed."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def run_id(faber: Faber) -> Iterator[str]:
    yield faber.new_run("123").run_id


def write_workflow(project: Path, document: dict[str, object]) -> Path:
    """Save a workflow definition in the project's workflows folder, named after its id."""
    path = project / ".fractary" / "plugins" / "faber" / "workflows" / f"{document['id']}.json"
    path.write_text(json.dumps(document, indent=2))
    return path


def shell_step(step_id: str, command: str, **extra: object) -> dict[str, object]:
    """A step that appends its id to log.txt in the project, then runs ``command``."""
    return {"id": step_id, "run": f'echo "{step_id}" >> log.txt; {command}', **extra}


def executed_steps(project: Path) -> list[str]:
    """The ids the shell steps of ``shell_step`` wrote, in order (one line per execution)."""
    log = project / "log.txt"
    return log.read_text().split() if log.exists() else []


def event_types(faber: Faber, run: str) -> list[str]:
    """The types of a run's events, in order."""
    return [event.type for event in faber.events(run)]

"""`faber doctor`: a verdict per check, every broken backend named, exit 1 when a check fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from faber_hookspecs import hookimpl
from faber_hookspecs.records import BackendContext
from pydantic import BaseModel, ConfigDict

from faber_host.gateway.plugins import discover_backends
from faber_host.testing import TestProject

FABER = str(Path(sys.executable).with_name("faber"))
S3_INSTALLED = "s3_archive" in discover_backends()  # not in every tox environment


class ExplodesOnStart:
    def __init__(self, config: object, context: BackendContext) -> None:
        raise RuntimeError("cannot reach the license server")


class QuietConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = "quiet"


class Quiet:
    config_model = QuietConfig

    def __init__(self, config: QuietConfig, context: BackendContext) -> None:
        pass

    @hookimpl
    def faber_persist_state(self, run_id: str, state: object) -> None:
        pass


def checks(project: TestProject) -> list[tuple[str, str, str]]:
    return [(c["area"], c["name"], c["verdict"]) for c in project.cli("doctor", "--json").json()["checks"]]


def test_a_healthy_project(faber_project: TestProject) -> None:
    result = faber_project.cli("doctor")
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:6]] == ["ok"] * 6
    assert "config: gateway.json" in lines[2] and "enabled: local_files" in lines[2]
    assert lines[4].split() == ["ok", "backends:", "record", "store", "local_files"], "which store is active"
    assert lines[5].startswith("ok    local_files: runs folder writable")
    assert lines[-1] == "verdict: ready (6 checks passed, 0 with a warning)"


def test_outside_a_project(tmp_path: Path) -> None:
    result = subprocess.run([FABER, "doctor"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL  config: project found  no FABER project in")
    assert "verdict: 1 check(s) failed" in result.stdout and result.stderr == ""


def test_an_invalid_gateway_json(faber_project: TestProject) -> None:
    faber_project.gateway_file.write_text('{"backends": {"local_files": {"enabled": 1.5}}}')
    assert checks(faber_project)[-1] == ("config", "gateway.json", "fail")


def test_every_broken_backend_is_named_and_the_others_still_load(faber_project: TestProject) -> None:
    faber_project.enable("carrier_pigeon", {})  # enabled, installed nowhere
    faber_project.enable("s3_archive", {"bucket": "B"})  # a bucket name S3 would refuse, where it is installed
    faber_project.enable("explodes", backend=ExplodesOnStart)
    faber_project.enable("quiet", backend=Quiet)
    faber_project.enable("picky", {"pathh": "typo"}, backend=Quiet)
    result = faber_project.cli("doctor", "--json")
    assert result.exit_code == 1
    found = {(c["area"], c["name"]): c for c in result.json()["checks"]}
    assert found[("local_files", "loads")]["verdict"] == "ok"
    assert found[("quiet", "loads")]["verdict"] == "ok"
    assert found[("carrier_pigeon", "loads")]["verdict"] == "fail"
    assert "not installed" in found[("carrier_pigeon", "loads")]["detail"]
    assert found[("s3_archive", "loads")]["verdict"] == "fail"
    expected = "backends.s3_archive.config.bucket" if S3_INSTALLED else "pip install faber-backend-s3"
    assert expected in found[("s3_archive", "loads")]["detail"]
    assert "failed to start: RuntimeError: cannot reach the license server" in found[("explodes", "loads")]["detail"]
    assert "backends.picky.config.pathh: unknown key" in found[("picky", "loads")]["detail"]
    assert not any(name == "runs folder writable" for _, name in found), "health checks wait for a clean load"


def test_no_record_store(faber_project: TestProject) -> None:
    faber_project.disable("local_files")  # the rollback switch: event logging is off, said as a warning
    assert ("backends", "record store", "warn") in checks(faber_project)


class SecondStore:
    """A backend that offers a record store of its own (the local files' store, for the test)."""

    def __init__(self, config: object, context: BackendContext) -> None:
        from faber_backend_local_files.plugin import LocalFilesBackend, LocalFilesConfig

        self.store = LocalFilesBackend(LocalFilesConfig(), context).store

    @hookimpl
    def faber_record_store(self) -> object:
        return self.store


def test_two_record_stores(faber_project: TestProject) -> None:
    faber_project.enable("second_store", backend=SecondStore)
    result = faber_project.cli("doctor", "--json")
    assert result.exit_code == 1
    (check,) = [c for c in result.json()["checks"] if c["name"] == "record store"]
    assert check["verdict"] == "fail"
    assert "more than one record store (local_files, second_store): enable exactly one" in check["detail"]
    emit = faber_project.cli("runs", "list")
    assert emit.exit_code != 0 and "enable exactly one" in emit.stderr and "Traceback" not in emit.stderr


def test_an_unwritable_runs_folder(faber_project: TestProject) -> None:
    blocker = faber_project.root / "runs-is-a-file"
    blocker.write_text("")
    faber_project.environ["FABER_RUNS_PATH"] = str(blocker / "runs")
    result = faber_project.cli("doctor", "--json")
    assert result.exit_code == 1
    (check,) = [c for c in result.json()["checks"] if c["name"] == "runs folder writable"]
    assert check["verdict"] == "fail" and str(blocker / "runs") in check["detail"]


def test_an_unset_variable_fails_only_the_backend_that_uses_it(faber_project: TestProject) -> None:
    """s3_archive with ${S3_ENDPOINT_URL} unset: local reads and writes work, with one warning naming
    the backend and the variable; what needs the archive fails with that error; doctor fails it and
    `faber backends` shows it. The record store failing stays fatal."""
    faber_project.environ.pop("S3_ENDPOINT_URL", None)
    faber_project.enable("s3_archive", {"bucket": "b", "endpoint_url": "${S3_ENDPOINT_URL}"})
    unset = "backends.s3_archive.config.endpoint_url: uses ${S3_ENDPOINT_URL}, which is not set"
    created = faber_project.cli("runs", "new", "--work-id", "1")
    assert created.exit_code == 0, created.stderr
    run = created.stdout.strip()
    (warning,) = created.stderr.strip().splitlines()
    assert warning.startswith("faber: warning: backend 's3_archive' is not loaded") and unset in warning
    listed = faber_project.cli("runs", "list")
    assert listed.exit_code == 0 and run in listed.stdout and len(listed.stderr.strip().splitlines()) == 1
    assert faber_project.cli("event", "emit", run, "workflow_start").exit_code == 0
    elsewhere = "acme/widget-service/00000000-0000-4000-8000-000000000000"  # only an archive could hold it
    for needs_the_archive in (("archive", run), ("restore", elsewhere), ("runs", "list", "--archived"), ("cleanup",)):
        result = faber_project.cli(*needs_the_archive)
        assert result.exit_code == 2, (needs_the_archive, result.stdout, result.stderr)
        assert unset in result.stderr.strip().splitlines()[-1], needs_the_archive
        assert result.stderr.strip().splitlines()[-1].startswith("faber: error: ")
    assert ("s3_archive", "loads", "fail") in checks(faber_project)
    backends = faber_project.cli("backends")
    assert unset in backends.stdout
    faber_project.enable("local_files", {"base_path": "${RUNS_HOME}"})
    broken_store = faber_project.cli("runs", "list")
    assert broken_store.exit_code == 2 and "uses ${RUNS_HOME}, which is not set" in broken_store.stderr


def test_doctor_warns_when_a_backend_takes_the_mcp_http_port(faber_project: TestProject) -> None:
    faber_project.enable("event_stream")  # as shipped: not on faber mcp's port
    assert not [c for c in checks(faber_project) if c[1] == "ports"]
    faber_project.enable("event_stream", {"service_url": "http://localhost:8765/v1/events"})
    (clash,) = [c for c in faber_project.cli("doctor", "--json").json()["checks"] if c["name"] == "ports"]
    assert clash["verdict"] == "warn" and "'event_stream'" in clash["detail"] and "(8765)" in clash["detail"]


def test_no_two_shipped_defaults_share_a_port(faber_project: TestProject) -> None:
    from faber_host.gateway.config import MCP_HTTP_PORT

    stream = faber_project.gateway_document()["backends"]["event_stream"]["config"]["service_url"]
    assert f":{MCP_HTTP_PORT}/" not in stream
    help_text = faber_project.cli("mcp", "--help").stdout
    assert str(MCP_HTTP_PORT) in help_text

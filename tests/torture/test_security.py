"""Security: no secret is stored or streamed, no path leads out of the runs folder, sizes are bounded,
and what is written is private to its owner."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import FABER, Cli, assert_one_line_error, clean_environ
from faber_hookspecs import hookimpl
from faber_hookspecs.errors import FaberError, InvalidEvent, InvalidInput

from faber_host.api import Faber
from faber_host.gateway import Gateway
from faber_host.gateway.plugins import discover_backends
from faber_host.project import Project

from .clirun import run_faber
from .kit import RUNS, check_log, record
from .secrets import AWS_ID, CUSTOM_PATTERN, GH, PASSWORD, SECRETS

# Where a caller can put text in an event: every free-text field, a metadata value, key and nested
# value, every artifact field, every error field.
PLACEMENTS: dict[str, Any] = {
    "message": lambda text: {"message": text},
    "metadata value": lambda text: {"metadata": {"note": text}},
    "metadata nested value": lambda text: {"metadata": {"deep": {"list": [1, {"log": text}]}}},
    "metadata key": lambda text: {"metadata": {text: "value"}},
    "secret-named metadata field": lambda text: {"metadata": {"db_password": text.split()[-1]}},
    "artifact name": lambda text: {"artifacts": [{"type": "file", "name": text}]},
    "artifact path": lambda text: {"artifacts": [{"type": "file", "path": f"/tmp/{text}"}]},
    "artifact url": lambda text: {"artifacts": [{"type": "link", "url": f"https://example.com/?q={text}"}]},
    "artifact extra field": lambda text: {"artifacts": [{"type": "log", "notes": text}]},
    "error code": lambda text: {"error": {"code": text, "message": "failed"}},
    "error message": lambda text: {"error": {"code": "E", "message": text}},
    "error stack": lambda text: {"error": {"code": "E", "message": "failed", "stack": f"Traceback\n  {text}\n"}},
    "correlation_id": lambda text: {"correlation_id": text},
    "user": lambda text: {"user": text},
    "source": lambda text: {"source": text},
}


class StreamRecorder:
    """A stream backend (``faber_emit_event``) that keeps the JSON of everything it is sent."""

    config_model = None
    batches: ClassVar[list[str]] = []

    def __init__(self, config: dict[str, Any], context: object) -> None:
        pass

    @hookimpl
    def faber_emit_event(self, event: Any, state: Any) -> None:
        StreamRecorder.batches.append(event.model_dump_json() + state.model_dump_json())


def secret_project(project_dir: Path) -> Faber:
    """The project with a stream backend enabled and one extra redaction pattern in gateway.json."""
    gateway = json.loads((project_dir / ".fractary/plugins/faber/gateway.json").read_text())
    gateway["backends"]["stream_recorder"] = {"enabled": True}
    gateway["redaction"] = {"patterns": [CUSTOM_PATTERN]}
    (project_dir / ".fractary/plugins/faber/gateway.json").write_text(json.dumps(gateway))
    project = Project(project_dir.resolve(), clean_environ())
    available = dict(discover_backends())
    available["stream_recorder"] = EntryPoint("stream_recorder", f"{__name__}:StreamRecorder", "faber.backends")
    return Faber(project, Gateway.open(project, available))


def leaks(root: Path, secrets: list[str]) -> list[str]:
    """Every file under ``root`` (hidden ones too: buffers, pending files) that holds a secret."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)} holds {secret[:12]}..." for secret in secrets if secret.encode() in data]
    return found


def redacted_count(warnings: list[str]) -> int:
    total = 0
    for warning in warnings:
        if warning.startswith("redacted "):
            total += int(warning.split()[1])
    return total


def test_every_kind_of_secret_in_every_event_field_is_redacted(project_dir: Path) -> None:
    StreamRecorder.batches = []
    faber = secret_project(project_dir)
    run_id = faber.new_run("secrets").run_id
    caught = placed = 0
    for planted in SECRETS:
        for where, place in PLACEMENTS.items():
            fields = {"type": "checkpoint", **place(planted.text)}
            source = fields.pop("source", "faber-api")
            result = faber.emit_draft(run_id, fields, source=source)
            placed += 1
            found = redacted_count(result.warnings)
            assert found >= 1, f"{planted.kind} in {where} was not caught"
            caught += found
            stored = result.event.model_dump_json()
            assert planted.secret not in stored, f"{planted.kind} in {where} was stored"
            assert "[REDACTED:" in stored
    everything = [planted.secret for planted in SECRETS]
    assert not leaks(project_dir, everything)
    assert len(StreamRecorder.batches) == placed
    assert not [s for s in everything for batch in StreamRecorder.batches if s in batch], "a secret was streamed"
    log = check_log(project_dir / RUNS / run_id, run_id, full_schema=True)
    assert not log.problems and log.last_id == placed
    record("test_every_kind_of_secret_in_every_event_field_is_redacted", secrets_caught=caught, inputs_tried=placed)


def test_secrets_through_the_cli_the_event_stream_and_run_parameters(project_dir: Path, faber_receiver: Any) -> None:
    """The real program with the Helm event stream enabled: half of the events reach the service (a
    recording HTTP server on 127.0.0.1), the other half wait in the stream's outbox on disk. No secret
    in a request, the outbox, the runs folder or anywhere else in the project."""
    gateway_file = project_dir / ".fractary/plugins/faber/gateway.json"
    gateway = json.loads(gateway_file.read_text())
    gateway["redaction"] = {"patterns": [CUSTOM_PATTERN]}
    gateway["backends"]["event_stream"] = {"enabled": True, "config": {
        "service_url": f"{faber_receiver.url}/v1/events", "api_key_env": None,
        "retry_policy": {"max_retries": 0, "backoff_ms": 0}}}
    gateway_file.write_text(json.dumps(gateway))
    cli = Cli(project_dir)
    run_id = cli.ok("runs", "new", "--work-id", f"fix login ({SECRETS[0].text})", "--param", f"api_key={GH}",
                    "--param", f"note=use password={PASSWORD}", "--target", SECRETS[1].text).strip()
    metadata = json.loads((project_dir / RUNS / run_id / "metadata.json").read_text())
    assert metadata["params"] == {"api_key": "[REDACTED:secret-field]", "note": "use password=[REDACTED:password-pair]"}
    caught = 4
    for index, planted in enumerate(SECRETS):
        if index == len(SECRETS) // 2:
            faber_receiver.fail(500)  # from here on the events wait in the outbox
        data = {"metadata": {"log": planted.text}, "error": {"code": "E", "message": planted.text},
                "artifacts": [{"type": "log", "url": planted.text}]}
        result = cli("event", "emit", run_id, "step_error", "--phase", "build", "--step", "deploy",
                     "--message", planted.text, "--data", json.dumps(data))
        assert result.returncode == 0, result.stderr
        assert "faber: warning: redacted" in result.stderr
        caught += int(result.stderr.split("redacted ")[1].split()[0])
    everything = [planted.secret for planted in SECRETS] + [GH, PASSWORD]
    sent = [request.body for request in faber_receiver.accepted()]
    assert len(sent) >= len(SECRETS) // 2, "the stream sent nothing: the test would prove nothing"
    assert not [s for s in everything for body in sent if s.encode() in body], "a secret was streamed"
    outbox = list((project_dir / ".fractary/plugins/faber/outbox").rglob("*.ndjson"))
    assert outbox and sum(len(path.read_bytes().splitlines()) for path in outbox) >= len(SECRETS) // 2
    assert not leaks(project_dir, everything)
    shown = cli.ok("events", run_id, "--json") + cli.ok("runs", "show", run_id, "--json")
    assert not [p.kind for p in SECRETS if p.secret in shown]
    record("test_secrets_through_the_cli_the_event_stream_and_run_parameters", secrets_caught=caught,
           inputs_tried=len(SECRETS) + 1, stream_requests=len(sent), outbox_files=len(outbox))


# ``faber`` as its console script runs it (``faber_host.cli.main``), telling on stderr whether it ran
# `faber event emit` without typer, as it should; and the typer command alone.
ONE_SHOT_OR_NOT = ("import sys\nfrom faber_host.cli import main\ncode = main(sys.argv[1:])\n"
                   "print('[one-shot]' if 'typer' not in sys.modules else '[full]', file=sys.stderr)\nsys.exit(code)\n")
FULL_CLI = "import sys\nfrom faber_host.cli.runner import run_cli\nsys.exit(run_cli(sys.argv[1:], False))\n"


def everywhere_in_one_event(text: str) -> dict[str, Any]:
    """The ``--data`` of one event that carries ``text`` in every field a caller fills (PLACEMENTS)."""
    return {
        "metadata": {"note": text, "deep": {"list": [1, {"log": text}]}, text: "value",
                     "db_password": text.split()[-1]},
        "artifacts": [{"type": "file", "name": text}, {"type": "file", "path": f"/tmp/{text}"},
                      {"type": "link", "url": f"https://example.com/?q={text}"}, {"type": "log", "notes": text}],
        "error": {"code": text, "message": text, "stack": f"Traceback\n  {text}\n"},
        "correlation_id": text, "user": text, "source": text,
    }


@pytest.mark.parametrize("setup", ["template gateway", "no redaction section", "no gateway.json", "full CLI"])
def test_secrets_emitted_by_faber_event_emit_never_reach_disk(project_dir: Path, setup: str) -> None:
    """Every kind of secret in every field of ``faber event emit`` (``--message`` and ``--data``), from
    the console script (with the gateway.json ``faber init`` writes, one from before redaction was
    configurable, none at all) and through typer: not a byte of any secret in any file of the project."""
    import sys

    gateway_file = project_dir / ".fractary/plugins/faber/gateway.json"
    gateway = json.loads(gateway_file.read_text())
    planted = SECRETS
    if setup in ("template gateway", "full CLI"):
        gateway["redaction"]["patterns"] = [CUSTOM_PATTERN]
        gateway_file.write_text(json.dumps(gateway))
    else:
        planted = [secret for secret in SECRETS if secret.kind != "custom pattern"]  # no gateway.json to add it
        gateway.pop("redaction")
        gateway_file.write_text(json.dumps(gateway))
        if setup == "no gateway.json":
            gateway_file.unlink()
    run_id = Cli(project_dir).ok("runs", "new", "--work-id", "secrets").strip()
    code = FULL_CLI if setup == "full CLI" else ONE_SHOT_OR_NOT
    caught = 0
    for index, secret in enumerate(planted, start=1):
        result = subprocess.run(
            [sys.executable, "-c", code, "event", "emit", run_id, "step_error", "--phase", "build", "--step", "deploy",
             f"--message={secret.text}", "--data", json.dumps(everywhere_in_one_event(secret.text))],
            cwd=project_dir, env=clean_environ(), capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and result.stdout.strip() == str(index), result.stderr
        if setup != "full CLI":
            assert result.stderr.splitlines()[-1] == "[one-shot]", f"{secret.kind}: the console script loaded typer"
        warning = result.stderr.split("faber: warning: redacted ")[1]
        caught += int(warning.split()[0])
        assert int(warning.split()[0]) >= len(PLACEMENTS), f"{secret.kind}: {warning}"
    assert not leaks(project_dir, [secret.secret for secret in planted])
    log = check_log(project_dir / RUNS / run_id, run_id, full_schema=True)
    assert not log.problems and log.last_id == len(planted)
    record(f"test_secrets_emitted_by_faber_event_emit_never_reach_disk[{setup}]", secrets_caught=caught,
           inputs_tried=len(planted))


@pytest.mark.anyio
async def test_secrets_sent_by_an_agent_through_faber_mcp_never_reach_disk(project_dir: Path, tmp_path: Path) -> None:
    """The real `faber mcp` over stdio, driven by the SDK's client as an agent drives it: every kind of
    secret in every field of `emit_event`, and in `start_run`'s parameters and work id. Each answer says
    what was redacted; no byte of a secret in any file of the project, nor in the server's log."""
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client
    from mcp_support import call  # the host's MCP test helpers (tests/ is on the path, as for conftest)

    gateway_file = project_dir / ".fractary/plugins/faber/gateway.json"
    gateway = json.loads(gateway_file.read_text())
    gateway["redaction"]["patterns"] = [CUSTOM_PATTERN]
    gateway_file.write_text(json.dumps(gateway))
    server = StdioServerParameters(command=FABER, args=["mcp"], cwd=project_dir, env=clean_environ())
    caught = 0
    with open(tmp_path / "server.log", "w+") as log:
        async with Client(stdio_client(server, errlog=log)) as client:
            run = (await call(client, "start_run", work_id=f"fix login ({SECRETS[0].text})",
                              params={"api_key": GH, "note": f"use password={PASSWORD}"}))["run_id"]
            for index, secret in enumerate(SECRETS, start=1):
                fields = everywhere_in_one_event(secret.text)
                fields.pop("source")  # the server sets it (faber-mcp)
                answer = await call(client, "emit_event", run=run, type="step_error", phase="build", step="deploy",
                                    message=secret.text, **fields)
                assert answer["event_id"] == index
                (warning,) = [w for w in answer["warnings"] if w.startswith("redacted ")]
                caught += int(warning.split()[1])
                assert int(warning.split()[1]) >= len(PLACEMENTS) - 1, f"{secret.kind}: {warning}"
                assert secret.secret not in json.dumps(answer)
        log.seek(0)
        logged = log.read()
    everything = [secret.secret for secret in SECRETS] + [GH, PASSWORD]
    assert not leaks(project_dir, everything)
    assert not [s for s in everything if s in logged], "a secret in the server's log"
    metadata = json.loads((project_dir / RUNS / run / "metadata.json").read_text())
    assert metadata["params"] == {"api_key": "[REDACTED:secret-field]", "note": "use password=[REDACTED:password-pair]"}
    log_check = check_log(project_dir / RUNS / run, run, full_schema=True)
    assert not log_check.problems and log_check.last_id == len(SECRETS)
    record("test_secrets_sent_by_an_agent_through_faber_mcp_never_reach_disk[asyncio]", secrets_caught=caught,
           inputs_tried=len(SECRETS) + 1)


@pytest.mark.parametrize("field", ["step", "status", "type"])
def test_a_secret_in_an_identifier_is_refused_not_redacted(faber: Faber, run_id: str, field: str) -> None:
    value = {"step": AWS_ID, "status": "password=hunter2", "type": "x-acme.ghp_" + "a1b2" * 9}[field]
    fields = {"type": "step_start", "phase": "build", "step": "compile", field: value}
    with pytest.raises(InvalidEvent) as raised:
        faber.emit_draft(run_id, fields)
    assert value not in str(raised.value)
    assert "looks like it holds a secret" in str(raised.value)
    assert list(faber.events(run_id)) == []


def test_redaction_can_be_tuned_in_gateway_json(project_dir: Path) -> None:
    gateway_file = project_dir / ".fractary/plugins/faber/gateway.json"
    gateway = json.loads(gateway_file.read_text())
    gateway["redaction"] = {"disable": ["aws-access-key-id"], "secret_fields": False}
    gateway_file.write_text(json.dumps(gateway))
    faber = Faber.open(project_dir, clean_environ())
    run_id = faber.new_run("tuned").run_id
    result = faber.emit(run_id, "checkpoint", message=f"id {AWS_ID}", metadata={"token": "plain"})
    assert result.event.message == f"id {AWS_ID}" and result.event.metadata == {"token": "plain"}
    assert faber.emit(run_id, "checkpoint", message=f"password={PASSWORD}").event.message == "password=[REDACTED:password-pair]"

    gateway["redaction"] = {"enabled": False}
    gateway_file.write_text(json.dumps(gateway))
    off = Faber.open(project_dir, clean_environ())
    assert off.emit(run_id, "checkpoint", message=f"password={PASSWORD}").event.message == f"password={PASSWORD}"

    cli = Cli(project_dir)
    for bad in ({"patterns": [{"name": "x", "pattern": "(unclosed"}]}, {"disable": ["no-such-pattern"]},
                {"patterns": [{"name": "Bad Name", "pattern": "x"}]}, {"patterns": [{"name": "empty", "pattern": "a*"}]},
                {"enabled": "yes"}, {"unknown": 1}):
        gateway["redaction"] = bad
        gateway_file.write_text(json.dumps(gateway))
        line = assert_one_line_error(cli("runs", "list"))
        assert "redaction" in line and "gateway.json" in line


# Size limits ----------------------------------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"d": value}
    return value


def test_size_limits_with_clear_errors(faber: Faber, run_id: str, project_dir: Path) -> None:
    # Just under 1 MiB is accepted; over it, refused. (Strings are at most 256 KiB each.)
    chunk = "a" * (250 * 1024)
    faber.emit(run_id, "checkpoint", metadata={f"k{i}": chunk for i in range(4)})
    too_big = {f"k{i}": chunk for i in range(5)}
    tried = 1
    for fields, expected in (
        ({"metadata": too_big}, "more than the limit of 1 MiB"),
        ({"metadata": {"k": "a" * (256 * 1024 + 1)}}, "longer than the limit of 262,144"),
        ({"metadata": nested(40)}, "nested more than 32 levels"),
        ({"metadata": nested(200_000)}, "nested more than 32 levels"),
        ({"metadata": {"n": float("nan")}}, "not a JSON number"),
        ({"metadata": {"n": 10**5000}}, "invalid event"),
        ({"metadata": {"s": "\udcff"}}, "not valid Unicode"),
        ({"metadata": {"o": object()}}, "is not a JSON value"),
        ({"metadata": {1: "x"}}, "keys must be strings"),
    ):
        with pytest.raises(InvalidEvent) as raised:
            faber.emit_draft(run_id, {"type": "checkpoint", **fields})
        assert expected in str(raised.value) and "\n" not in str(raised.value)
        tried += 1
    assert [event.event_id for event in faber.events(run_id)] == [1]
    with pytest.raises(InvalidInput, match="nested more than 32 levels"):
        faber.new_run("deep", params={"p": nested(50)})

    # Through the real program: an event too large for a command line arrives on stdin or from a file.
    big = project_dir / "big.json"
    big.write_text(json.dumps({"metadata": too_big}))
    cli = Cli(project_dir)
    for args, stdin in ((["--data", f"@{big}"], None), (["--data", "-"], big.read_text()),
                        (["--data", "[" * 100_000], None), (["--data", "@/no/such/file"], None)):
        result = cli("event", "emit", run_id, "checkpoint", *args, input=stdin)
        line = assert_one_line_error(result)
        assert "limit" in line or "nested" in line or "cannot read" in line
        tried += 1
    small = project_dir / "small.json"
    small.write_text(json.dumps({"metadata": {"k": chunk}}))
    assert cli.ok("event", "emit", run_id, "checkpoint", "--data", f"@{small}").strip() == "2"

    gateway_file = project_dir / ".fractary/plugins/faber/gateway.json"
    gateway = json.loads(gateway_file.read_text())
    gateway["limits"] = {"max_event_bytes": 4096, "max_depth": 6, "max_string_length": 1000}
    gateway_file.write_text(json.dumps(gateway))
    line = assert_one_line_error(cli("event", "emit", run_id, "checkpoint", "--message", "m" * 1001))
    assert "1,000" in line
    line = assert_one_line_error(cli("event", "emit", run_id, "checkpoint", "--data", json.dumps({"metadata": nested(6)})))
    assert "nested more than 6" in line
    gateway["limits"] = {"max_event_bytes": 10}
    gateway_file.write_text(json.dumps(gateway))
    assert "limits.max_event_bytes" in assert_one_line_error(cli("runs", "list"))
    record("test_size_limits_with_clear_errors", inputs_tried=tried + 3)


# Paths ------------------------------------------------------------------------------------------------


def files_outside(root: Path, runs: Path) -> set[str]:
    return {str(p) for p in root.rglob("*") if runs not in p.parents and p != runs}


PATHS = ["..", "../..", "../../../etc", "acme/../../x", "a/b", "/etc", "..\\..", "acme\x00x", "%2e%2e", ".", "~", "a/../b"]
"""Values that would lead out of, or around, the runs folder if they ever became part of a path."""
BAD_SLUGS = ["ACME", "acme/", "ac\tme", "a" * 65, "-acme", "acme.", "ac me"]
"""Values an org or project slug must refuse (folder names that differ only by case or spacing)."""


def test_path_traversal_is_refused_everywhere(tmp_path: Path, project_dir: Path, faber: Faber, run_id: str) -> None:
    runs = project_dir / RUNS
    before = files_outside(tmp_path, runs)
    uuid = run_id.split("/")[-1]
    tried = 0
    failures = []
    for value in PATHS + BAD_SLUGS:
        commands = [
            ["events", f"{value}/widget-service/{uuid}"],
            ["events", f"acme/{value}/{uuid}"],
            ["events", f"acme/widget-service/{value}"],
            ["event", "emit", f"{value}/widget-service/{uuid}", "checkpoint"],
            ["runs", "new", "--work-id", "1", "--org", value],
            ["runs", "new", "--work-id", "1", "--project", value],
            ["runs", "list", "--org", value],
        ]
        if value in PATHS:
            commands += [
                ["event", "emit", run_id, f"x-acme.{value}"],
                ["event", "emit", run_id, value],
                ["event", "emit", run_id, "phase_start", "--phase", value],
                ["event", "emit", run_id, "step_start", "--phase", "build", "--step", value],
                ["event", "emit", run_id, "checkpoint", "--status", value],
            ]
        for args in commands:
            outcome = run_faber(project_dir, *args)
            tried += 1
            if outcome.code != 2 or outcome.problems():
                failures.append(f"faber {args}: exit {outcome.code}, {outcome.problems()} {outcome.stderr.strip()[:200]}")
        calls = [
            lambda v=value: faber.emit(f"{v}/widget-service/{uuid}", "checkpoint"),
            lambda v=value: faber.new_run("1", org=v),
            lambda v=value: faber.new_run("1", project=v),
            lambda v=value: faber.list_runs(org=v),
        ]
        if value in PATHS:
            calls += [
                lambda v=value: faber.emit(run_id, f"x-acme.{v}"),
                lambda v=value: faber.emit(run_id, "step_start", phase="build", step=v),
                lambda v=value: faber.emit(run_id, "phase_start", phase=v),
            ]
        for call in calls:
            with pytest.raises(FaberError):
                call()
            tried += 1
    assert not failures, "\n".join(failures[:20])
    cli = Cli(project_dir)  # a sample through the real program
    for args in (["events", f"../../x/{uuid}"], ["event", "emit", run_id, "step_start", "--phase", "build", "--step", "../x"],
                 ["runs", "new", "--work-id", "1", "--org", "../.."]):
        assert_one_line_error(cli(*args))
        tried += 1
    config = project_dir / ".fractary/plugins/faber/config.json"
    document = json.loads(config.read_text())
    document["org"] = "../../outside"
    config.write_text(json.dumps(document))
    assert "org" in assert_one_line_error(cli("runs", "new", "--work-id", "1"))
    assert files_outside(tmp_path, runs) == before, "something was written outside the runs folder"
    assert [p.name for p in (runs / "acme").iterdir()] == ["widget-service"]
    assert len([p for p in (runs / "acme" / "widget-service").iterdir() if p.name != ".staging"]) == 1
    record("test_path_traversal_is_refused_everywhere", inputs_tried=tried + 1)


def test_symlinks_out_of_the_runs_folder_are_refused(tmp_path: Path, project_dir: Path, faber: Faber) -> None:
    runs = project_dir / RUNS
    outside = tmp_path / "outside"
    outside.mkdir()
    cli = Cli(project_dir)

    def outside_snapshot() -> dict[str, bytes]:
        return {str(p): p.read_bytes() for p in outside.rglob("*") if p.is_file()}

    # A run folder that is a symlink to a (valid) run kept outside.
    victim = faber.new_run("victim").run_id
    faber.emit(victim, "checkpoint")
    (runs / victim).rename(outside / "run")
    (runs / victim).symlink_to(outside / "run")
    # An org folder that is a symlink.
    other = faber.new_run("other", org="other").run_id
    (runs / "other").rename(outside / "org")
    (runs / "other").symlink_to(outside / "org")
    # An events folder that is a symlink.
    linked_events = faber.new_run("events").run_id
    faber.emit(linked_events, "checkpoint")
    (runs / linked_events / "events").rename(outside / "events")
    (runs / linked_events / "events").symlink_to(outside / "events")
    before = outside_snapshot()
    for run in (victim, other, linked_events):
        for args in (["events", run], ["runs", "show", run], ["event", "emit", run, "checkpoint"],
                     ["runs", "reconstruct", run, "--write"]):
            result = cli(*args)
            line = assert_one_line_error(result, code=result.returncode if result.returncode in (1, 2) else 1)
            assert "outside the runs folder" in line or "symbolic link" in line, (args, line)
    assert outside_snapshot() == before, "a write went through a symlink"

    # Files inside a genuine run that are symlinks: never followed, never written through.
    run = faber.new_run("files").run_id
    for _ in range(3):
        faber.emit(run, "checkpoint")
    folder = runs / run
    secret = outside / "secret.txt"
    secret.write_text("outside data\n")
    planted = ("state.json", ".state.json.swap0", ".state.json.swap1", "events/.next-id", "events/.pending")
    for name in planted:
        target = folder / name
        if target.exists() or target.is_symlink():
            target.unlink()
        target.symlink_to(secret)
    assert cli.ok("event", "emit", run, "checkpoint").strip() == "4"
    assert cli.ok("event", "emit", run, "checkpoint").strip() == "5"
    assert cli.ok("event", "emit", run, "checkpoint").strip() == "6"
    assert secret.read_text() == "outside data\n", "a write went through a symlink"
    assert not [name for name in planted if (folder / name).is_symlink()], "a planted link is still there"
    assert json.loads(cli.ok("runs", "show", run, "--json"))["state"]["last_event_id"] == 6

    (folder / "events" / "002-checkpoint.json").unlink()
    (folder / "events" / "002-checkpoint.json").symlink_to(secret)
    line = assert_one_line_error(cli("events", run), code=1)
    assert "002-checkpoint.json" in line and "symbolic link" in line
    line = assert_one_line_error(cli("runs", "reconstruct", run), code=1)
    assert "002-checkpoint.json" in line and "symbolic link" in line
    shown = json.loads(cli.ok("runs", "show", run, "--json"))
    assert shown["state"]["last_event_id"] == 6  # state.json is current: the log need not be read
    assert cli.ok("event", "emit", run, "checkpoint").strip() == "7"
    (folder / "metadata.json").unlink()
    (folder / "metadata.json").symlink_to(secret)
    assert "metadata.json" in assert_one_line_error(cli("runs", "show", run), code=1)
    (folder / "events" / ".lock").unlink()
    (folder / "events" / ".lock").symlink_to(secret)
    assert "lock" in assert_one_line_error(cli("event", "emit", run, "checkpoint"), code=1)
    assert secret.read_text() == "outside data\n"
    assert outside_snapshot()[str(secret)] == b"outside data\n"


# Modes ------------------------------------------------------------------------------------------------


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in [root, *root.rglob("*")]}


@pytest.mark.parametrize("configured", [None, ("0640", "0750")], ids=["default", "configured"])
def test_runs_are_private_to_their_owner(project_dir: Path, configured: tuple[str, str] | None) -> None:
    old_umask = os.umask(0o022)  # a usual umask: the modes must not depend on it being strict
    try:
        if configured:
            gateway_file = project_dir / ".fractary/plugins/faber/gateway.json"
            gateway = json.loads(gateway_file.read_text())
            gateway["backends"]["local_files"]["config"].update(file_mode=configured[0], dir_mode=configured[1])
            gateway_file.write_text(json.dumps(gateway))
        file_mode, dir_mode = (0o600, 0o700) if configured is None else (0o640, 0o750)
        cli = Cli(project_dir)
        run_id = cli.ok("runs", "new", "--work-id", "1", "--org", "fresh-org").strip()
        for _ in range(3):
            cli.ok("event", "emit", run_id, "checkpoint")
        subprocess.run([FABER, "event", "emit", run_id, "checkpoint"], cwd=project_dir, env=clean_environ(), check=True,
                       capture_output=True)
        found = modes(project_dir / RUNS / "fresh-org")
        assert len(found) >= 12
        wrong = {name: oct(mode) for name, mode in found.items()
                 if mode != (dir_mode if (project_dir / RUNS / "fresh-org" / name).is_dir() else file_mode)}
        assert not wrong, wrong
    finally:
        os.umask(old_umask)

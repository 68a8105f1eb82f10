"""Every door into a run's record, with the same hostile inputs: each door must give the same refusal
(the same reason, word for word) or store the same redaction (no byte of the secret in any file).

The doors: the Python API, ``faber event emit`` from the console script (no typer) and through typer, the MCP tools (the
SDK's in-memory client), ``faber runs new|rerun --param``, ``faber migrate`` of an old state.json, and
``faber restore`` of an archive altered in the bucket. The inputs: a text holding a secret of every
built-in redaction pattern, a secret-named field, a string past the limit, nesting 100 and 5,000 deep, and values that
are not plain JSON. A new door or a new input is one line in DOORS or INPUTS.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import FIXTURES, clean_environ, shell_step, write_workflow
from faber_backend_local_files.bundle import digest_entry, event_file_bytes
from faber_backend_local_files.run_folder import event_file_name
from faber_hookspecs.errors import FaberError
from mcp import Client
from mcp_types import TextContent

from faber_host.api import Faber
from faber_host.mcp.server import build_server
from faber_host.safety.policy import InputPolicy
from faber_host.safety.redaction import BUILTIN_NAMES, SECRET_FIELD_KIND, Findings
from faber_host.testing import AWS_TEST_ENVIRONMENT, S3Server

RUNS = Path(".fractary/plugins/faber/runs")
GATEWAY = Path(".fractary/plugins/faber/gateway.json")
ARGUMENT_MAX = 100_000  # a command-line argument holds at most 128 KiB (Linux): larger values go in a file


# The hostile inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """What a careless or hostile caller sends: ``value`` goes in each door's free-form place (an
    event's metadata and message, a run parameter, the old state file); ``event`` instead names event
    fields outright (event doors only). No byte of ``secrets`` may reach a file, and each of ``kinds`` must
    be named in a stored redaction; ``refusal`` is the reason every door gives (the text after the last
    ``": "`` of its one-line error)."""

    name: str
    value: Any = None
    event: dict[str, Any] | None = None
    secrets: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    refusal: str = ""


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"d": value}
    return value


def depth_of(value: Any) -> int:
    depth = 0
    while isinstance(value, dict) and value:
        value = next(iter(value.values()))
        depth += 1
    return depth


# Made-up credentials, assembled at run time so that this file trips no secret scanner: one per
# built-in pattern (test_every_pattern_has_an_input insists), and the value of a secret-named field.
_AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
_KEY_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" + "q" * 40
_SECRETS: dict[str, tuple[str, str]] = {  # pattern: (text sent, the part that must not be stored)
    "aws-access-key-id": ("uploading with AKIA" + "IOSFODNN7EXAMPLE", "AKIA" + "IOSFODNN7EXAMPLE"),
    "aws-secret-access-key": (f"aws_secret_access_key={_AWS_SECRET}", _AWS_SECRET),
    "github-token": ("pushed with ghp_" + "R8x2" * 9, "ghp_" + "R8x2" * 9),
    "gitlab-token": ("GITLAB glpat-" + "Zx7Yw6Vu5Ts4Rq3Po2Nm", "glpat-" + "Zx7Yw6Vu5Ts4Rq3Po2Nm"),
    "slack-token": ("posting as xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKl",
                    "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKl"),
    "slack-webhook": ("notify https://hooks.slack.com/services/" + "T0000/B0000/" + "XXXXXXXXXXXXXXXXXXXXXXXX",
                      "XXXXXXXXXXXXXXXXXXXXXXXX"),
    "private-key": (f"-----BEGIN {'PRIVATE'} KEY-----\n{_KEY_BODY}\n-----END {'PRIVATE'} KEY-----", _KEY_BODY),
    "authorization-header": ("sent Authorization: Basic " + "dXNlcjpodW50ZXIy" + "c2VjcmV0", "dXNlcjpodW50ZXIyc2VjcmV0"),
    "bearer-token": ("curl with bearer " + "b3Ar3r" + "T0k3n" * 5, "b3Ar3r" + "T0k3n" * 5),
    "password-pair": ("login failed with password=" + "hunter2-Correct-Horse", "hunter2-Correct-Horse"),
    "url-credentials": ("postgres://admin:" + "s3cr3t-db-pass" + "@db:5432/app", "s3cr3t-db-pass"),
    "stripe-key": ("charge via sk_" + "live_4eC39HqLyjWDarjtT1zdp7dc", "sk_" + "live_4eC39HqLyjWDarjtT1zdp7dc"),
    "google-api-key": ("maps AIza" + "SyD-7x9Q2w3E4r5T6y7U8i9O0pAsDfGhJkL", "AIza" + "SyD-7x9Q2w3E4r5T6y7U8i9O0pAsDfGhJkL"),
    "npm-token": ("publish npm_" + "a1B2c3D4e5F6" * 3, "npm_" + "a1B2c3D4e5F6" * 3),
    "pypi-token": ("upload pypi-AgEIcHlwaS5vcmc" + "Q2xpZW50U2VjcmV0" * 4, "pypi-AgEIcHlwaS5vcmc" + "Q2xpZW50U2VjcmV0" * 4),
    "jwt": ("session eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFU",
            "eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
    "azure-storage-key": ("AccountName=a;AccountKey=" + "Zm9vYmFy" * 10 + "QUJDRE==;", "Zm9vYmFy" * 10 + "QUJDRE=="),
    **{kind: (f"{label} {secret}", secret) for kind, label, secret in [
        ("anthropic-api-key", "ANTHROPIC_KEY", "sk-ant-api03-" + "Qx7_wP2-" * 12 + "AbCdEfGhIjKlmAA"),
        ("openai-api-key", "calling", "sk-proj-" + "Tz4q" * 15 + "T3BlbkFJ" + "Uy5r" * 15),
        ("openrouter-api-key", "router", "sk-or-v1-" + "7c1e" * 16),
        ("huggingface-token", "hub", "hf_" + "QwErTyUiOp" * 3 + "AsDf"),
        ("groq-api-key", "groq", "gsk_" + "Gq7Lm2Np" * 6 + "Zx9W"),
        ("xai-api-key", "grok", "xai-" + "Xa1Yb2Zc3D" * 8),
        ("perplexity-api-key", "search", "pplx-" + "Pq3Rs4Tu5V" * 4 + "Wx6Yz7Ab"),
        ("azure-client-secret", "entra", "Ab1" + "8Q~" + "Cd3_Ef4.Gh5~Ij6-" * 2),
        ("google-oauth-secret", "oauth", "GOCSPX-" + "Go7Au1Th2S" * 2 + "eCrEt3Xy"),
        ("digitalocean-token", "droplet", "dop_v1_" + "4f8a2c9e1b7d3f60" * 4),
        ("vault-token", "vault", "hvs." + "CAESIJ" + "vT9kLm2Np4Qr" * 8),
        ("terraform-token", "tfc", "Tf8Cl0Ud2Ap4I6" + ".atlasv1." + "Tk8Nn" * 13),
        ("databricks-token", "workspace", "dapi" + "0d1a2b3c4d5e6f70" * 2),
        ("heroku-api-key", "heroku", "HRKU-AA" + "Hk5Rv9Uq2Lm7" * 4 + "Zx3Wv8Ty1A"),
        ("pulumi-token", "stack", "pul-" + "9a8b7c6d5e" * 4),
        ("doppler-token", "doppler", "dp.pt." + "Dp4Pl3Er2T" * 4 + "Ok1"),
        ("sentry-token", "sentry", "sntryu_" + "5e9f1a3b7c2d4e6f" * 4),
        ("grafana-token", "grafana", "glsa_" + "Gr4Fa9Na2Sv" * 2 + "Gr4Fa9Na2S_0a1b2c3d"),
        ("sendgrid-api-key", "mail", "SG." + "Sg7Nd5Gr3Id1Ke9Yz2Ab4C" + "." + "Xy8Wv6Ut4Sr2Qp0On9Ml7Kj5Ih3Gf1Ed8Cb6Az4Yx2W"),
        ("twilio-api-key", "sms", "SK" + "3f9a7c1e5b8d2f4a" * 2),
        ("shopify-token", "shop", "shpat_" + "a1b2c3d4e5f60718" * 2),
        ("atlassian-api-token", "jira", "ATATT3x" + "FfGF0At1As2Si3An" * 12),
        ("linear-api-key", "linear", "lin_api_" + "Ln4Ea7Rk" * 5),
        ("discord-webhook", "notify", "https://discord.com/api/webhooks/112233/" + "Dw4Hk9" * 6),
        ("teams-webhook", "notify", "https://contoso.webhook.office.com/webhookb2/" + "ab12cd34@ef56/IncomingWebhook/" + "7e8f" * 8),
        ("telegram-bot-token", "bot", "5432167890:A" + "Tg3Bo7Tk9" * 3 + "Xy2Wv8Z"),
        ("rubygems-token", "gem push", "rubygems_" + "0b1c2d3e4f5a6b7c" * 3),
        ("docker-hub-token", "docker login", "dckr_pat_" + "Dk3Hb7Pt9" * 3 + "Xy"),
        ("artifactory-token", "jfrog", "AKCp" + "Jf8Rg2Ar7Ti5Fa3Ct" * 3 + "Zx9Wv8Ut7Sr6Qp5On4"),
    ]},
}
_FIELD_SECRET = "Pl4in-" + "Field-Value-77"

STRING_LIMIT = "a string of 300,000 characters is longer than the limit of 262,144 (limits.max_string_length in gateway.json)"
DEPTH_LIMIT = "nested more than 32 levels deep (limits.max_depth in gateway.json)"

INPUTS: list[Hostile] = [
    # One text holding a secret of every kind: each door must redact them all (test_redaction proves
    # each pattern on its own; this proves that no door skips or weakens the screening).
    Hostile("a secret of every kind", " | ".join(text for text, _ in _SECRETS.values()),
            secrets=tuple(secret for _, secret in _SECRETS.values()), kinds=tuple(_SECRETS)),
    Hostile(f"secret: {SECRET_FIELD_KIND}", {"db_password": _FIELD_SECRET}, secrets=(_FIELD_SECRET,),
            kinds=(SECRET_FIELD_KIND,)),
    Hostile("a string of 300,000 characters", "x" * 300_000, refusal=STRING_LIMIT),
    Hostile("nesting 100 deep", nested(100), refusal=DEPTH_LIMIT),
    Hostile("nesting 5,000 deep", nested(5000), refusal=DEPTH_LIMIT),
    Hostile("NaN", float("nan"), refusal="nan is not a JSON number"),
    Hostile("a number of 5,000 digits", 10**5000, refusal=f"a number has more than {sys.get_int_max_str_digits():,} digits"),
    Hostile("a string for an integer", event={"duration_ms": "soon"},
            refusal="Input should be a valid integer, unable to parse string as an integer"),
    Hostile("a list for an object", event={"metadata": ["not", "an", "object"]}, refusal="Input should be a valid dictionary"),
]


def event_fields(hostile: Hostile) -> dict[str, Any]:
    """The fields of a checkpoint event carrying ``hostile``."""
    if hostile.event is not None:
        return {"type": "checkpoint", **hostile.event}
    text = {"message": hostile.value} if isinstance(hostile.value, str) else {}
    return {"type": "checkpoint", "metadata": {"note": hostile.value}, **text}


@contextmanager
def unbounded_json() -> Iterator[None]:
    """Let the standard library write what the hostile inputs hold (deep nesting, long numbers)."""
    recursion, digits = sys.getrecursionlimit(), sys.get_int_max_str_digits()
    sys.setrecursionlimit(max(recursion, 30_000))
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.setrecursionlimit(recursion)
        sys.set_int_max_str_digits(digits)


def json_text(value: Any, **options: Any) -> str:
    with unbounded_json():
        return json.dumps(value, ensure_ascii=False, **options)


# The doors -------------------------------------------------------------------------------------------


class Project:
    """The test's project, and what a door needs from around it (the S3 server, a place outside)."""

    def __init__(self, root: Path, outside: Path, request: pytest.FixtureRequest) -> None:
        self.root = root
        self.outside = outside
        self.request = request
        self.environ = clean_environ()
        self.bucket: tuple[Any, str] | None = None

    def faber(self) -> Faber:
        return Faber.open(self.root, self.environ)

    def cli(self, *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
        """``faber ARGS`` as a subprocess; with ``code``, that Python program in place of the command."""
        command = [sys.executable, "-c", code] if code else [str(Path(sys.executable).with_name("faber"))]
        return subprocess.run([*command, *args], cwd=self.root, env=self.environ, capture_output=True, text=True,
                              timeout=120)

    def with_s3(self) -> tuple[Any, str]:
        """Archive to a fresh bucket of the suite's S3 server (moto, on 127.0.0.1)."""
        server: S3Server = self.request.getfixturevalue("faber_s3_server")
        monkeypatch: pytest.MonkeyPatch = self.request.getfixturevalue("monkeypatch")
        for name, value in AWS_TEST_ENVIRONMENT.items():
            monkeypatch.setenv(name, value)
        bucket = server.create_bucket()
        gateway = json.loads((self.root / GATEWAY).read_text())
        gateway["backends"]["s3_archive"] = {"enabled": True, "config": {
            "bucket": bucket, "endpoint_url": server.url, "region": "us-east-1", "prefix": "doors/"}}
        (self.root / GATEWAY).write_text(json.dumps(gateway))
        self.environ = clean_environ(**AWS_TEST_ENVIRONMENT)
        self.bucket = server.client(), bucket
        return self.bucket

    def objects(self) -> dict[str, bytes]:
        """Every object in the bucket, if the door used one."""
        if self.bucket is None:
            return {}
        s3, bucket = self.bucket
        keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                for item in page.get("Contents", [])]
        return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


Outcome = str | None
"""What a door answered: its one-line refusal, or None when it stored what it was given."""


def _one_line(result: subprocess.CompletedProcess[str]) -> Outcome:
    if result.returncode == 0:
        return None
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("faber: error: ") and "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (1, 2) and "internal error" not in lines[0], result.stderr
    return lines[0].removeprefix("faber: error: ")


def _raised(action: Callable[[], object]) -> Outcome:
    try:
        action()
    except FaberError as problem:
        assert "\n" not in str(problem)
        return str(problem)
    return None


def _data_option(project: Project, fields: dict[str, Any]) -> list[str]:
    text = json_text(fields)
    if len(text) < ARGUMENT_MAX:
        return ["--data", text]
    path = project.outside / "data.json"
    path.write_text(text)
    return ["--data", f"@{path}"]


# The console script runs `faber event emit` without building the typer application; the typer command
# hands its arguments to the same function (emit_command.run).
CONSOLE_SCRIPT = ("import sys\nfrom faber_host.cli import main\ncode = main(sys.argv[1:])\n"
                  "print('[typer]' if 'typer' in sys.modules else '[no typer]', file=sys.stderr)\nsys.exit(code)\n")
FULL_CLI = "import sys\nfrom faber_host.cli.runner import run_cli\nsys.exit(run_cli(sys.argv[1:], False))\n"


def api_emit(project: Project, hostile: Hostile, run_id: str) -> Outcome:
    return _raised(lambda: project.faber().emit_draft(run_id, event_fields(hostile)))


def console_emit(project: Project, hostile: Hostile, run_id: str) -> Outcome:
    result = project.cli("event", "emit", run_id, "checkpoint", *_data_option(project, event_fields(hostile)),
                         code=CONSOLE_SCRIPT)
    marker = result.stderr.splitlines()[-1]
    result.stderr = "\n".join(result.stderr.splitlines()[:-1])
    assert marker == "[no typer]", "the console script built the typer application for an emit"
    return _one_line(result)


def typer_emit(project: Project, hostile: Hostile, run_id: str) -> Outcome:
    return _one_line(project.cli("event", "emit", run_id, "checkpoint", *_data_option(project, event_fields(hostile)),
                                 code=FULL_CLI))


def _mcp(project: Project, tool: str, arguments: dict[str, Any]) -> Outcome:
    async def call() -> Outcome:
        async with Client(build_server(project.faber())) as client:
            result = await client.call_tool(tool, arguments)
        if not result.is_error:
            return None
        (block,) = result.content
        assert isinstance(block, TextContent) and "\n" not in block.text and "Traceback" not in block.text, block
        return block.text

    return anyio.run(call)


def mcp_emit(project: Project, hostile: Hostile, run_id: str) -> Outcome:
    return _mcp(project, "emit_event", {"run": run_id, **event_fields(hostile)})


def api_new_run(project: Project, hostile: Hostile, run_id: str) -> Outcome:
    return _raised(lambda: project.faber().new_run("doors", params={"note": hostile.value}))


def cli_new_run(project: Project, hostile: Hostile, run_id: str) -> Outcome:
    return _one_line(project.cli("runs", "new", "--work-id", "doors", "--param", f"note={hostile.value}"))


def cli_run(project: Project, hostile: Hostile, run_id: str) -> Outcome:
    write_workflow(project.root, {"id": "doors", "autonomy": {"level": "autonomous"},
                                  "phases": {"build": {"steps": [shell_step("noop", "true")]}}})
    return _one_line(project.cli("run", "doors", "--work-id", "doors", "--param", f"note={hostile.value}"))


def cli_rerun(project: Project, hostile: Hostile, run_id: str) -> Outcome:
    return _one_line(project.cli("runs", "rerun", run_id, "--param", f"note={hostile.value}"))


def mcp_start_run(project: Project, hostile: Hostile, run_id: str) -> Outcome:
    return _mcp(project, "start_run", {"work_id": "doors", "params": {"note": hostile.value}})


def mcp_rerun(project: Project, hostile: Hostile, run_id: str) -> Outcome:
    return _mcp(project, "rerun_run", {"run": run_id, "params": {"note": hostile.value}})


def migrate(project: Project, hostile: Hostile, run_id: str) -> Outcome:
    """``faber migrate`` of an old state.json holding the input (kept outside the project); once
    migrated, the run is consolidated, archived to S3 and written as an HTML report, to search them all."""
    project.with_s3()
    old = json.loads((FIXTURES / "reference-config" / "config__state.example.json").read_text())
    old["metadata"]["note"] = hostile.value
    if isinstance(hostile.value, str):
        old["errors"] = [{"phase": "frame", "code": "E1", "message": hostile.value}]
    source = project.outside / "state.json"
    source.write_text(json_text(old))
    refused = _one_line(project.cli("migrate", "--file", str(source)))
    if refused is None:
        faber = project.faber()
        (migrated,) = [run.run_id for run in faber.list_runs() if run.run_id != run_id]
        faber.archive_run(migrated, force=True)  # consolidated first: the bundle stays in the run's folder
        (project.root / "report.html").write_text(faber.report(migrated))
    return refused


def restore(project: Project, hostile: Hostile, run_id: str) -> Outcome:
    """``faber restore`` of an archived run whose bundle was altered in the bucket, consistently (the
    manifest rewritten to match), so that only the screening of what it holds can refuse it."""
    s3, bucket = project.with_s3()
    faber = project.faber()
    faber.emit(run_id, "workflow_start")
    faber.emit(run_id, "checkpoint", message="to be replaced")
    faber.archive_run(run_id, cleanup=True, force=True)
    keys = {key.rsplit("/", 1)[1]: key for key in project.objects()}
    lines = s3.get_object(Bucket=bucket, Key=keys["events.jsonl"])["Body"].read().splitlines()
    events = [json.loads(line) for line in lines]
    events[1] = {**events[1], **event_fields(hostile)}
    jsonl = "".join(json_text(event, separators=(",", ":")) + "\n" for event in events).encode()
    digest = hashlib.sha256()
    with unbounded_json():
        for event in events:
            digest_entry(digest, event_file_name(event["event_id"], event["type"]), event_file_bytes(event))
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=keys["manifest.json"])["Body"].read())
    manifest["event_files_sha256"] = digest.hexdigest()
    for entry in manifest["files"]:
        if entry["name"] == "events.jsonl":
            entry.update(size=len(jsonl), sha256=hashlib.sha256(jsonl).hexdigest())
    s3.put_object(Bucket=bucket, Key=keys["events.jsonl"], Body=jsonl)
    s3.put_object(Bucket=bucket, Key=keys["manifest.json"], Body=json.dumps(manifest, indent=2).encode())
    refused = _one_line(project.cli("restore", run_id, "--trust-archive"))
    assert refused is not None, "an altered archive was restored"
    assert not (project.root / RUNS / run_id / "events").exists(), "the refused archive left events behind"
    return refused


def _argument(hostile: Hostile) -> bool:
    return isinstance(hostile.value, str) and len(hostile.value) < ARGUMENT_MAX


def _sent_by_the_mcp_client(hostile: Hostile) -> bool:
    # The SDK's client encodes NaN as null and refuses to encode values nested beyond its own limit:
    # such values never leave it, so they never reach a tool through this door.
    value = hostile.value if hostile.event is None else hostile.event
    return not (isinstance(value, float) and value != value) and depth_of(value) <= 100


def _any_value(hostile: Hostile) -> bool:
    return hostile.event is None


@dataclass(frozen=True)
class Door:
    name: str
    enter: Callable[[Project, Hostile, str], Outcome]
    carries: Callable[[Hostile], bool] = lambda hostile: True
    redacts: bool = True  # False: a door that must refuse rather than redact (it cannot change what it brings in)


DOORS: list[Door] = [
    Door("Faber.emit_draft", api_emit),
    Door("faber event emit (console script)", console_emit),
    Door("faber event emit (typer)", typer_emit),
    Door("MCP emit_event", mcp_emit, _sent_by_the_mcp_client),
    Door("Faber.new_run params", api_new_run, _any_value),
    Door("faber runs new --param", cli_new_run, _argument),  # a --param value is a string on a command line
    Door("faber run --param", cli_run, _argument),
    Door("faber runs rerun --param", cli_rerun, _argument),
    Door("MCP start_run params", mcp_start_run, lambda h: _any_value(h) and _sent_by_the_mcp_client(h)),
    Door("MCP rerun_run params", mcp_rerun, lambda h: _any_value(h) and _sent_by_the_mcp_client(h)),
    Door("faber migrate", migrate, _any_value),
    Door("faber restore (altered archive)", restore, redacts=False),
]

CASES = [pytest.param(door, hostile, id=f"{door.name} <- {hostile.name}")
         for door in DOORS for hostile in INPUTS if door.carries(hostile)]


@pytest.fixture
def project(project_dir: Path, tmp_path: Path, request: pytest.FixtureRequest) -> Project:
    outside = tmp_path / "outside"
    outside.mkdir()
    return Project(project_dir, outside, request)


def stored(root: Path) -> dict[str, bytes]:
    """Every file of the project's runs, hidden ones included."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / RUNS).rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("door", "hostile"), CASES)
def test_every_door_screens_the_same(project: Project, door: Door, hostile: Hostile) -> None:
    run_id = project.faber().new_run("doors").run_id
    before = stored(project.root)
    outcome = door.enter(project, hostile, run_id)
    if hostile.secrets and door.redacts:
        assert outcome is None, f"{door.name} refused a secret it should have redacted: {outcome}"
        files = {str(p): p.read_bytes() for p in project.root.rglob("*") if p.is_file()}
        files.update(project.objects())
        leaks = [(name, secret) for name, data in files.items() for secret in hostile.secrets if secret.encode() in data]
        assert not leaks, f"{door.name} stored secrets: {leaks}"
        new = b"".join(data for name, data in stored(project.root).items() if name not in before)
        missed = [kind for kind in hostile.kinds if f"[REDACTED:{kind}]".encode() not in new]
        assert not missed, f"{door.name} stored no redaction of {missed}"
    elif hostile.secrets:
        assert outcome is not None and "holds what looks like a secret" in outcome, outcome
    else:
        assert outcome is not None, f"{door.name} accepted {hostile.name}"
        assert outcome.rsplit(": ", 1)[-1] == hostile.refusal, outcome
        if door.redacts:
            assert stored(project.root) == before, f"{door.name} stored something it refused"


def test_every_pattern_has_an_input() -> None:
    """A new redaction pattern needs an example here, and each example is caught by its own pattern."""
    assert set(_SECRETS) == BUILTIN_NAMES
    redactor = InputPolicy.default().redactor
    assert redactor is not None
    for kind, (text, secret) in _SECRETS.items():
        findings = Findings()
        redacted = redactor.redact_text(text, findings)
        assert kind in findings.kinds and secret not in redacted, kind


def test_every_door_is_driven() -> None:
    """Every door meets every input it can carry, and every input meets the event doors."""
    assert {door.name for door, _ in (case.values for case in CASES)} == {door.name for door in DOORS}
    for door in DOORS[:3]:
        assert all(door.carries(hostile) for hostile in INPUTS), door.name


def test_screening_what_was_stored_changes_nothing() -> None:
    """A restore refuses a bundle that the screening would change, so the screening must leave what
    it stored as it is: each secret in each place, screened twice, is screened once."""
    policy = InputPolicy.default()
    values = [text for text, _ in _SECRETS.values()] + [hostile.value for hostile in INPUTS if hostile.secrets]
    for value in values:
        text = value if isinstance(value, str) else json.dumps(value)
        places: list[dict[str, Any]] = [
            {"message": text}, {"metadata": {"note": value}}, {"metadata": {text: "value"}},
            {"metadata": {"deep": [{text: {"db_password": text}}]}}, {"artifacts": [{"type": "file", "name": text}]},
            {"error": {"code": "E", "message": text}}, {"correlation_id": text, "user": text},
        ]
        for place in places:
            once, _ = policy.screen_event({"type": "checkpoint", **place})
            assert policy.screen_event(once)[0] == once, (text[:80], place)
            document = {"run_id": "acme/w/" + "0" * 8 + "-0000-4000-8000-" + "0" * 12, "params": place}
            stored_metadata, _ = policy.screen_metadata(document)
            assert policy.screen_metadata(stored_metadata)[0] == stored_metadata, (text[:80], place)


def test_a_bundle_the_host_wrote_restores(project: Project) -> None:
    """The restore's screening refuses no archive the host wrote: redacted secrets come back as they were."""
    project.with_s3()
    faber = project.faber()
    run_id = faber.new_run("doors", params={"note": _SECRETS["github-token"][0]}).run_id
    secret_inputs = [hostile for hostile in INPUTS if hostile.secrets]
    for hostile in secret_inputs:
        faber.emit_draft(run_id, event_fields(hostile))
    faber.archive_run(run_id, cleanup=True, force=True)
    assert not (project.root / RUNS / run_id / "events").exists()
    assert _one_line(project.cli("restore", run_id)) is None
    restored = project.faber().events(run_id)
    assert sum(1 for event in restored if "[REDACTED:" in json.dumps(event.to_json())) == len(secret_inputs)

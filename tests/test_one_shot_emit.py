"""`faber event emit`'s one-shot path gives exactly what the full typer CLI gives.

Every case runs twice, on two identical copies of a project: once through ``faber_host.cli.main``
(which takes the one-shot path when it can) and once through the typer CLI alone (``runner.run_cli``).
Exit codes, stdout, stderr and every file under the runs folder must be the same, timestamps aside.
Valid inputs must take the one-shot path (typer never imported); the rest may fall back.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import clean_environ

from faber_host.api import Faber
from faber_host.init import initialize

RUNS = Path(".fractary/plugins/faber/runs")
GATEWAY = Path(".fractary/plugins/faber/gateway.json")
MAIN = (
    "import sys\nfrom faber_host.cli import main\ncode = main(sys.argv[1:])\nsys.stdout.flush()\n"
    "print('[typer loaded]' if 'typer' in sys.modules else '[one-shot]', file=sys.stderr)\nsys.exit(code)\n"
)
FULL = "import sys\nfrom faber_host.cli.runner import run_cli\nsys.exit(run_cli(sys.argv[1:], False))\n"
TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A project with two runs (the second holds a few events); copied afresh for every case."""
    root = tmp_path_factory.mktemp("one-shot") / "widget"
    root.mkdir()
    initialize(root, "acme", "widget", clean_environ())
    faber = Faber.open(root, clean_environ())
    first, second = faber.new_run("1").run_id, faber.new_run("2").run_id
    faber.emit(second, "workflow_start")
    faber.emit(second, "step_start", phase="build", step="compile")
    return root, first, second


Setup = Callable[[Path, str], None]


def _run(code: str, root: Path, cwd: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def _files(root: Path) -> dict[str, str]:
    runs = root / RUNS
    return {str(path.relative_to(runs)): TIMESTAMP.sub("<time>", path.read_bytes().decode("utf-8", "replace"))
            for path in sorted(runs.rglob("*")) if path.is_file()}


def both_ways(tmp_path: Path, template: tuple[Path, str, str], args: list[str], *, setup: Setup | None = None,
              env: dict[str, str] | None = None, cwd: str = "project") -> tuple[subprocess.CompletedProcess[str], bool]:
    """Run ``faber args`` through main and through typer alone on two copies; assert they agree and
    return main's result and whether it took the one-shot path."""
    source, first, _ = template
    outcomes = []
    for side, code in (("main", MAIN), ("full", FULL)):
        root = tmp_path / side / "widget"
        shutil.copytree(source, root, symlinks=True)
        if setup:
            setup(root, first)
        where = {"project": root, "outside": tmp_path / side, "deep": root / RUNS}[cwd]
        text_args = [arg.replace("{root}", str(root)) for arg in args]
        environ = clean_environ(**{k: v.replace("{root}", str(root)) for k, v in (env or {}).items()})
        result = _run(code, root, where, text_args, environ)
        outcomes.append((result, _files(root), str(tmp_path / side)))
    (main, main_files, main_side), (full, full_files, full_side) = outcomes
    marker = main.stderr.splitlines()[-1]
    main_stderr = "".join(main.stderr.splitlines(keepends=True)[:-1]).replace(main_side, "<side>")
    assert (main.returncode, TIMESTAMP.sub("<time>", main.stdout), main_stderr) == (
        full.returncode, TIMESTAMP.sub("<time>", full.stdout), full.stderr.replace(full_side, "<side>"),
    ), args
    assert main_files == full_files, args
    assert "Traceback" not in main.stderr
    return main, marker == "[one-shot]"


def _gateway(document: object) -> Setup:
    def write(root: Path, _run_id: str) -> None:
        (root / GATEWAY).write_text(document if isinstance(document, str) else json.dumps(document))
    return write


VALID: dict[str, tuple[list[str], dict[str, object]]] = {
    "checkpoint": (["checkpoint"], {}),
    "step options": (["step_start", "--phase", "build", "--step", "compile", "--status", "started",
                      "--message", "go"], {}),
    "equals forms": (["step_complete", "--phase=build", "--step=compile", "--duration-ms=15", "--message="], {}),
    "json output": (["workflow_start", "--json", "--message", "héllo 🚀\nsecond line"], {}),
    "data with nested objects": ([
        "step_error", "--phase", "evaluate", "--step", "review",
        "--data", json.dumps({"error": {"recoverable": True, "message": "3 failed", "code": "E_TEST"},
                              "artifacts": [{"url": "https://x/1", "type": "pr", "extra": {"n": 1.5}}],
                              "metadata": {"big": 2**70, "ratio": 1e-7, "list": [1, "two", False], "ünï": "☃"},
                              "correlation_id": "c-1", "retry_attempt": 2, "user": "agent-7"}),
        "--json"], {}),
    "options over data": (["checkpoint", "--data", '{"message": "from data", "status": "x"}', "--message", "opt"], {}),
    "vendor type": (["x-acme.deploy_start", "--message", "deploying"], {}),
    "empty data": (["checkpoint", "--data", '{"metadata": {}, "artifacts": []}'], {}),
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_emits_take_the_one_shot_path_and_match(tmp_path: Path, template: tuple[Path, str, str],
                                                      name: str) -> None:
    tail, _ = VALID[name]
    _, first, _ = template
    result, one_shot = both_ways(tmp_path, template, ["event", "emit", first, *tail])
    assert result.returncode == 0, result.stderr
    assert one_shot, f"{name}: the valid emit did not take the one-shot path"


# Made-up credentials, assembled at run time so this file trips no secret scanner.
GITHUB_TOKEN = "ghp_" + "R8x2" * 9
PASSWORD = "hunter2-" + "Correct-Horse"
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
ACME = "ACME-" + "7731-0042-9911"
PLANTED = (GITHUB_TOKEN, PASSWORD, AWS_ID, ACME)
ACME_PATTERN = {"name": "acme-ticket", "pattern": "ACME-[0-9]{4}-[0-9]{4}-[0-9]{4}", "description": "tickets"}
LOCAL_ONLY = {"local_files": {"enabled": True}}
ALL_OVER = json.dumps({
    "metadata": {"log": f"push with {GITHUB_TOKEN}", "db_password": PASSWORD, f"key {AWS_ID}": 1,
                 "deep": [{"ticket": f"see {ACME}"}]},
    "artifacts": [{"type": "log", "url": f"https://ci/?password={PASSWORD}", "notes": AWS_ID}],
    "error": {"code": "E", "message": f"denied for {GITHUB_TOKEN}", "stack": f"at login(password={PASSWORD})"},
    "correlation_id": f"c-{AWS_ID}", "user": f"agent {GITHUB_TOKEN}",
})

SCREENED: dict[str, tuple[list[str], Setup | None, tuple[str, ...]]] = {
    # name: (arguments after the run, gateway, secrets that must not be stored)
    "secret in the message": (["checkpoint", "--message", f"login with password={PASSWORD}"], None, (PASSWORD,)),
    "secrets in every data field": (["step_error", "--phase", "build", "--step", "deploy", "--data", ALL_OVER,
                                     "--json"], _gateway({"backends": LOCAL_ONLY,
                                                          "redaction": {"patterns": [ACME_PATTERN]}}), PLANTED),
    "no redaction section (an older gateway.json)": (["checkpoint", "--message", GITHUB_TOKEN, "--data", ALL_OVER],
                                                     _gateway({"backends": LOCAL_ONLY}), PLANTED[:3]),
    "a built-in pattern turned off": (["checkpoint", "--message", f"{GITHUB_TOKEN} {AWS_ID}"],
                                      _gateway({"backends": LOCAL_ONLY, "redaction": {"disable": ["github-token"]}}),
                                      (AWS_ID,)),
    "redaction turned off": (["checkpoint", "--message", f"password={PASSWORD}"],
                             _gateway({"backends": LOCAL_ONLY, "redaction": {"enabled": False, "secret_fields": False,
                                                                              "patterns": [ACME_PATTERN]}}), ()),
    "limits set and met": (["checkpoint", "--message", "m" * 300, "--data", '{"metadata": {"a": {"b": 1}}}'],
                           _gateway({"backends": LOCAL_ONLY, "limits": {"max_string_length": 300, "max_depth": 4,
                                                                        "max_event_bytes": 1024}}), ()),
}


@pytest.mark.parametrize("name", sorted(SCREENED))
def test_the_one_shot_path_screens_events_as_the_full_cli_does(tmp_path: Path, template: tuple[Path, str, str],
                                                               name: str) -> None:
    """Redaction and size limits (InputPolicy.screen_event) apply on the one-shot path too: the same
    event stored, the same warning, and no planted secret in any file on either path."""
    tail, setup, secrets = SCREENED[name]
    _, first, _ = template
    result, one_shot = both_ways(tmp_path, template, ["event", "emit", first, *tail], setup=setup)
    assert result.returncode == 0 and one_shot, result.stderr
    assert ("faber: warning: redacted" in result.stderr) == bool(secrets), result.stderr
    for side in ("main", "full"):
        stored = b"".join(path.read_bytes() for path in (tmp_path / side).rglob("*") if path.is_file())
        assert not [secret for secret in secrets if secret.encode() in stored], (side, name)
        assert (b"[REDACTED:" in stored) == bool(secrets)


NAMING = {
    "uuid prefix": lambda run: ["event", "emit", run.split("/")[2][:8], "checkpoint"],
    "bare uuid": lambda run: ["event", "emit", run.split("/")[2], "checkpoint"],
    "org/project/prefix": lambda run: ["event", "emit", run[:-27],
                                       "checkpoint"],
    "padded id": lambda run: ["event", "emit", f"  {run} ", "checkpoint"],
    "root option": lambda run: ["--root", "{root}", "event", "emit", run, "checkpoint"],
    "root equals": lambda run: ["--root={root}", "event", "emit", run, "checkpoint"],
}


@pytest.mark.parametrize("name", sorted(NAMING))
def test_ways_of_naming_runs_and_projects_match(tmp_path: Path, template: tuple[Path, str, str], name: str) -> None:
    _, first, _ = template
    cwd = "outside" if "root" in name else "deep"
    result, one_shot = both_ways(tmp_path, template, NAMING[name](first), cwd=cwd)
    assert result.returncode == 0 and one_shot, result.stderr


def test_faber_root_variable_and_sync_off_gateway_match(tmp_path: Path, template: tuple[Path, str, str]) -> None:
    _, first, _ = template
    setup = _gateway({"backends": {"local_files": {"enabled": True, "config": {"sync_writes": False,
                                                                              "file_mode": "640"}}},
                      "logging": {"level": "debug", "format": "text"}})
    result, one_shot = both_ways(tmp_path, template, ["event", "emit", first, "checkpoint"], setup=setup,
                                 env={"FABER_ROOT": "{root}"}, cwd="outside")
    assert result.returncode == 0 and one_shot


def test_missing_gateway_means_the_defaults(tmp_path: Path, template: tuple[Path, str, str]) -> None:
    _, first, _ = template
    result, one_shot = both_ways(tmp_path, template, ["event", "emit", first, "checkpoint"],
                                 setup=lambda root, _: (root / GATEWAY).unlink())
    assert result.returncode == 0 and one_shot


def _damage_counter(root: Path, run: str) -> None:
    (root / RUNS / run / "events" / ".next-id").write_text("garbage")


def _leave_pending(root: Path, run: str) -> None:
    (root / RUNS / run / "events" / ".pending").write_text('{"event_id": 1, "type": "check')


@pytest.mark.parametrize("setup", [_damage_counter, _leave_pending], ids=["damaged counter", "torn pending"])
def test_repairs_on_the_way_match(tmp_path: Path, template: tuple[Path, str, str], setup: Setup) -> None:
    _, first, _ = template
    result, one_shot = both_ways(tmp_path, template, ["event", "emit", first, "checkpoint"], setup=setup)
    assert result.returncode == 0 and one_shot


def _escape_run_folder(root: Path, run: str) -> None:
    folder = root / RUNS / run
    outside = root.parent / "elsewhere"
    shutil.move(folder, outside)
    folder.symlink_to(outside)


def _twin_run(root: Path, run: str) -> None:
    org, project, uuid = run.split("/")
    twin = uuid[:8] + "-0000-4000-8000-000000000000"
    shutil.copytree(root / RUNS / run, root / RUNS / org / project / twin)


BAD_DATA = ["{", "[1]", '{"metadata": []}', '{"unknown": 1}', '{"metadata": {"x": NaN}}', '{"duration_ms": 5.0}',
            '{"error": {"code": "E"}}', '{"user": null}', '{"retry_attempt": true}', '{"message": "\\ud800"}',
            '{"artifacts": [{"name": "no type"}]}', '{"event_id": 9}', '{"metadata": {"n": null}}']

INVALID: dict[str, tuple[list[str], Setup | None]] = {
    "bad run id": (["event", "emit", "not/a/run", "checkpoint"], None),
    "short prefix": (["event", "emit", "abc", "checkpoint"], None),
    "upper-case prefix": (["event", "emit", "{PREFIX}", "checkpoint"], None),
    "unknown run": (["event", "emit", "acme/widget/00000000-0000-4000-8000-000000000000", "checkpoint"], None),
    "unknown type": (["event", "emit", "{run}", "bogus"], None),
    "missing step": (["event", "emit", "{run}", "step_start", "--phase", "build"], None),
    "bad phase": (["event", "emit", "{run}", "phase_start", "--phase", "deploy"], None),
    "negative duration": (["event", "emit", "{run}", "checkpoint", "--duration-ms", "-5"], None),
    "text duration": (["event", "emit", "{run}", "checkpoint", "--duration-ms", "soon"], None),
    "repeated option": (["event", "emit", "{run}", "checkpoint", "--message", "a", "--message", "b"], None),
    "extra argument": (["event", "emit", "{run}", "checkpoint", "more"], None),
    "help": (["event", "emit", "--help"], None),
    "unknown option": (["event", "emit", "{run}", "checkpoint", "--colour", "red"], None),
    "broken gateway": (["event", "emit", "{run}", "checkpoint"], _gateway("{")),
    "coerced gateway": (["event", "emit", "{run}", "checkpoint"],
                        _gateway({"backends": {"local_files": {"enabled": "yes"}}})),
    "variable in gateway": (["event", "emit", "{run}", "checkpoint"],
                            _gateway({"backends": {"local_files": {"enabled": True,
                                                                   "config": {"base_path": "${NOT_SET_ANYWHERE}"}}}})),
    "unknown gateway key": (["event", "emit", "{run}", "checkpoint"], _gateway({"backend": {}})),
    "bad file mode": (["event", "emit", "{run}", "checkpoint"],
                      _gateway({"backends": {"local_files": {"enabled": True, "config": {"file_mode": "999"}}}})),
    "ambiguous prefix": (["event", "emit", "{prefix}", "checkpoint"], _twin_run),
    "secret in a step": (["event", "emit", "{run}", "step_start", "--phase", "build", "--step", GITHUB_TOKEN], None),
    "string over the limit": (["event", "emit", "{run}", "checkpoint", "--message", "m" * 301],
                              _gateway({"backends": LOCAL_ONLY, "limits": {"max_string_length": 300}})),
    "event over the limit": (["event", "emit", "{run}", "checkpoint", "--data",
                              json.dumps({"metadata": {f"k{i}": "v" * 200 for i in range(6)}})],
                             _gateway({"backends": LOCAL_ONLY, "limits": {"max_event_bytes": 1024}})),
    "nested too deeply": (["event", "emit", "{run}", "checkpoint", "--data",
                           json.dumps({"metadata": {"a": {"b": {"c": {"d": 1}}}}})],
                          _gateway({"backends": LOCAL_ONLY, "limits": {"max_depth": 4}})),
    **{f"bad redaction config {index}": (["event", "emit", "{run}", "checkpoint"],
                                         _gateway({"backends": LOCAL_ONLY, **section}))
       for index, section in enumerate([
           {"redaction": {"patterns": [{"name": "broken", "pattern": "("}]}},
           {"redaction": {"patterns": [{"name": "Upper", "pattern": "x+"}]}},
           {"redaction": {"patterns": [{"name": "empty", "pattern": "x*"}]}},
           {"redaction": {"disable": ["no-such-pattern"]}},
           {"redaction": {"enabled": False, "patterns": [{"name": "broken", "pattern": "("}]}},
           {"redaction": {"enabled": False, "disable": ["no-such-pattern"]}},
           {"redaction": {"enabled": "yes"}},
           {"redaction": {"description": 5}},
           {"redaction": {"patterns": [{"name": "acme", "pattern": "x+", "description": 5}]}},
           {"redaction": {"patterns": [{"name": "acme", "pattern": "x+", "flags": "i"}]}},
           {"redaction": None},
           {"redaction": {"colour": "red"}},
           {"limits": {"max_depth": 2}},
           {"limits": {"max_depth": True}},
           {"limits": {"max_event_bytes": 4096.0}},
           {"limits": {"max_lines": 5}},
       ])},
    "run folder escapes": (["event", "emit", "{run}", "checkpoint"], _escape_run_folder),
    **{f"bad data {index}": (["event", "emit", "{run}", "checkpoint", "--data", data], None)
       for index, data in enumerate(BAD_DATA)},
}


ACCEPTED_ANYWAY = {
    "help",  # prints the help
    "repeated option",  # click keeps the last value
    "coerced gateway",  # pydantic reads "yes" as true
    "bad data 4", "bad data 5", "bad data 7", "bad data 8", "bad data 12",  # pydantic coerces or drops these
}
"""Inputs the one-shot path leaves to the full CLI although the full CLI accepts them."""


@pytest.mark.parametrize("name", sorted(INVALID))
def test_mistakes_get_the_same_answer_either_way(tmp_path: Path, template: tuple[Path, str, str], name: str) -> None:
    args, setup = INVALID[name]
    _, first, _ = template
    prefix = first.split("/")[2][:8]
    args = [a.replace("{run}", first).replace("{prefix}", prefix).replace("{PREFIX}", prefix.upper()) for a in args]
    result, _ = both_ways(tmp_path, template, args, setup=setup)
    if name not in ACCEPTED_ANYWAY:
        assert result.returncode != 0, (name, result.stdout)


def test_no_project_here(tmp_path: Path, template: tuple[Path, str, str]) -> None:
    _, first, _ = template
    result, _ = both_ways(tmp_path, template, ["event", "emit", first, "checkpoint"], cwd="outside")
    assert result.returncode == 2


def test_the_one_shot_path_loads_no_heavy_module(template: tuple[Path, str, str], tmp_path: Path) -> None:
    source, first, _ = template
    root = tmp_path / "widget"
    shutil.copytree(source, root)
    probe = ("import sys\nfrom faber_host.cli import main\nassert main(sys.argv[1:]) == 0\n"
             "heavy = {'typer', 'pydantic', 'pluggy', 'importlib.metadata', 'typing', 'jsonschema', 'pathlib'}\n"
             "print(sorted(heavy & set(sys.modules)))\n")
    env = clean_environ()
    env.pop("USER", None)  # getpass must not be imported either
    result = subprocess.run([sys.executable, "-c", probe, "event", "emit", first, "checkpoint"], cwd=root,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
    assert os.path.exists(root / RUNS / first / "events" / "001-checkpoint.json")

"""`faber event emit`: the options of the reference's emit-event.sh, the refusals of ambiguous calls, and
the one command behind both ways in (the console script, which skips typer, and the typer command)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Cli, assert_one_line_error, clean_environ

from faber_host.api import Faber

TYPER_ONLY = "import sys\nfrom faber_host.cli.runner import run_cli\nsys.exit(run_cli(sys.argv[1:], False))\n"
CONSOLE = ("import sys\nfrom faber_host.cli import main\ncode = main(sys.argv[1:])\nsys.stdout.flush()\n"
           "heavy = sorted({'typer', 'faber_host.api', 'faber_hookspecs.archive', 'faber_host.views'} & set(sys.modules))\n"
           "print('loaded:', heavy, file=sys.stderr)\nsys.exit(code)\n")
TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z")


def events_of(project_dir: Path, run: str) -> list[dict[str, object]]:
    return [event.to_json() for event in Faber.open(project_dir, clean_environ()).events(run)]


def test_a_call_written_for_emit_event_sh_works(cli: Cli, faber: Faber, project_dir: Path) -> None:
    run = faber.new_run("7").run_id
    cli.ok("event", "emit", "--run-id", run, "--type", "workflow_start", "--message", "go")
    cli.ok("event", "emit", "--run-id", run, "--type", "step_start", "--phase", "build", "--step", "compile",
           "--status", "started", "--message", "compiling")
    cli.ok("event", "emit", "--run-id", run, "--type", "step_error", "--phase", "build", "--step", "compile",
           "--status", "failed", "--message", "3 failed", "--duration-ms", "0",
           "--metadata", '{"attempt": 2}', "--artifacts", '[{"type": "file", "name": "log.txt"}]',
           "--error", '{"code": "E_TEST", "message": "3 tests failed"}')
    cli.ok("event", "emit", "--run-id", run, "--type", "decision_point", "--phase", "", "--step", "",
           "--status", "", "--message", "empty values are left out, as the script does")
    events = events_of(project_dir, run)
    assert [event["type"] for event in events] == ["workflow_start", "step_start", "step_error", "decision_point"]
    error = events[2]
    assert (error["metadata"], error["artifacts"], error["error"], error["duration_ms"]) == (
        {"attempt": 2}, [{"type": "file", "name": "log.txt"}], {"code": "E_TEST", "message": "3 tests failed"}, 0)
    assert {"phase", "step", "status"}.isdisjoint(events[3])
    # faber's own form, and both at once when they agree
    assert cli.ok("event", "emit", run, "checkpoint", "--run-id", run, "--type", "checkpoint").strip() == "5"
    # a field given both in --data and by its option, the same way, is not ambiguous
    cli.ok("event", "emit", run, "checkpoint", "--data", '{"metadata": {"a": 1}}', "--metadata", '{"a": 1}')


@pytest.mark.parametrize(("args", "expected"), [
    (["{run}", "checkpoint", "--run-id", "{other}"], "the RUN argument"),
    (["{run}", "checkpoint", "--type", "workflow_start"], "the TYPE argument 'checkpoint' and --type"),
    (["--run-id", "{run}"], "missing the TYPE argument (or --type)"),
    (["--type", "checkpoint"], "missing the RUN argument (or --run-id)"),
    (["{run}", "checkpoint", "extra"], "unexpected argument 'extra'"),
    (["{run}", "checkpoint", "--message", "a", "--message", "b"], "--message is given twice"),
    (["{run}", "checkpoint", "--base-path", "x"], "no such option: --base-path"),
    (["{run}", "checkpoint", "--json=yes"], "--json takes no value"),
    (["{run}", "checkpoint", "--phase"], "--phase needs a value (PHASE)"),
    (["{run}", "checkpoint", "--metadata", "[1]"], "--metadata must be an object in JSON"),
    (["{run}", "checkpoint", "--artifacts", '{"type": "file"}'], "--artifacts must be an array in JSON"),
    (["{run}", "checkpoint", "--error", "{"], "--error is not valid JSON"),
    (["{run}", "checkpoint", "--duration-ms", "-5"], "--duration-ms '-5' must be a whole number"),
    (["{run}", "checkpoint", "--data", '{"metadata": {"a": 1}}', "--metadata", '{"a": 2}'],
     "'metadata' is given both in --data and by --metadata, differently"),
    (["{run}", "checkpoint", "--data", '{"message": "x"}', "--message", "y"], "'message' is given both in --data"),
    (["{run}", "checkpoint", "--data", '{"type": "workflow_start"}'], "'type' is given both in --data and by TYPE"),
    (["{run}", "not_a_type"], "unknown event type 'not_a_type'"),
])
def test_ambiguous_or_wrong_calls_get_one_line_and_exit_2(cli: Cli, faber: Faber, project_dir: Path, args: list[str],
                                                          expected: str) -> None:
    run, other = faber.new_run("1").run_id, faber.new_run("2").run_id
    result = cli("event", "emit", *[arg.replace("{run}", run).replace("{other}", other) for arg in args])
    line = assert_one_line_error(result, 2)
    assert expected in line, line
    assert events_of(project_dir, run) == [] and events_of(project_dir, other) == []


CASES = [
    ["event", "emit", "{run}", "step_start", "--phase", "build", "--step", "compile", "--json"],
    ["--root", "{root}", "event", "emit", "--run-id", "{run}", "--type", "checkpoint", "--message", "héllo"],
    ["event", "emit", "{run}", "step_start", "--phase", "build"],
    ["event", "emit", "{run}", "checkpoint", "--colour", "red"],
    ["event", "emit", "--help"],
    ["event", "emit", "{run}", "workflow_complete"],
]


@pytest.mark.parametrize("args", CASES, ids=lambda args: " ".join(args[:6]))
def test_the_console_script_and_typer_run_the_same_command(faber: Faber, project_dir: Path, args: list[str]) -> None:
    """The console script skips typer (and the API facade, the archive models and the views); the typer
    command hands its arguments to the same function: same output, same exit code, same events."""
    outcomes, stored = [], []
    for code in (CONSOLE, TYPER_ONLY):
        run = faber.new_run("1").run_id
        texts = [arg.replace("{run}", run).replace("{root}", str(project_dir)) for arg in args]
        result = subprocess.run([sys.executable, "-c", code, *texts], cwd=project_dir, env=clean_environ(),
                                capture_output=True, text=True, timeout=120)
        stderr = result.stderr.replace(run, "<run>").splitlines()
        if code == CONSOLE:  # (the step after a workflow_complete reads the archive policies)
            assert stderr.pop() == ("loaded: ['faber_hookspecs.archive']" if "workflow_complete" in args else "loaded: []")
        outcomes.append((result.returncode, TIMESTAMP.sub("<time>", result.stdout.replace(run, "<run>")), stderr))
        stored.append(TIMESTAMP.sub("<time>", json.dumps(events_of(project_dir, run)).replace(run, "<run>")))
    assert outcomes[0] == outcomes[1]
    assert stored[0] == stored[1]
    assert "Traceback" not in "".join(outcomes[0][2])
    assert (outcomes[0][0] == 0 and "--help" not in args) == (stored[0] != "[]")


def test_help_lists_every_option_and_event_help_lists_the_command(cli: Cli) -> None:
    from faber_host.cli.emit_command import OPTIONS

    text = cli.ok("event", "emit", "--help")
    assert all(flag in text for flag, *_ in OPTIONS)
    assert "emit" in cli.ok("event", "--help")
    assert cli.ok("--debug", "event", "emit", "-h") == text

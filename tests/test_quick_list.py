"""`faber runs list`'s quick path gives exactly what the full typer CLI gives.

Every case runs twice, on two identical copies of a project: once through ``faber_host.cli.main`` (which
takes the quick path when it can) and once through the typer CLI alone (``runner.run_cli``), with the
clock fixed. Exit codes, stdout and stderr must be the same. The plain table must take the quick path
(typer never imported); the rest may fall back.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FABER, clean_environ, write_workflow

from faber_host.api import Faber
from faber_host.init import initialize

RUNS = Path(".fractary/plugins/faber/runs")
GATEWAY = Path(".fractary/plugins/faber/gateway.json")
REFERENCE = Path(__file__).parent / "fixtures" / "reference-runs" / "runs"
CLOCK = ("import faber_host.views.times as times\nfrom datetime import UTC, datetime\n"
         "times.utc_now = lambda: datetime(2026, 11, 27, 9, 30, 15, 250000, tzinfo=UTC)\n")
MAIN = CLOCK + (
    "import sys\nfrom faber_host.cli import main\ncode = main(sys.argv[1:])\nsys.stdout.flush()\n"
    "print('[typer loaded]' if 'typer' in sys.modules else '[quick]', file=sys.stderr)\nsys.exit(code)\n"
)
FULL = CLOCK + "import sys\nfrom faber_host.cli.runner import run_cli\nsys.exit(run_cli(sys.argv[1:], False))\n"

Setup = Callable[[Path], None]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with runs in several states and projects, and the FABER reference's runs."""
    root = tmp_path_factory.mktemp("quick-list") / "widget"
    root.mkdir()
    initialize(root, "acme", "widget", clean_environ())
    faber = Faber.open(root, clean_environ())
    faber.new_run("1")
    write_workflow(root, {"id": "release"})
    second = faber.new_run("2", workflow_id="release").run_id
    faber.emit(second, "workflow_start")
    faber.emit(second, "step_start", phase="build", step="compile")
    third = faber.new_run("3", project="gadget").run_id
    faber.emit(third, "workflow_start")
    faber.emit(third, "step_error", phase="build", step="compile", error={"message": "boom", "code": "E1"})
    faber.emit(third, "workflow_complete", status="failed")
    fourth = faber.new_run("tab\there", org="beta").run_id
    faber.emit(fourth, "workflow_start")
    faber.emit(fourth, "workflow_complete")
    shutil.copytree(REFERENCE, root / RUNS, dirs_exist_ok=True)
    return root


def both_ways(tmp_path: Path, template: Path, args: list[str], *, setup: Setup | None = None,
              env: dict[str, str] | None = None, cwd: str = "project") -> tuple[subprocess.CompletedProcess[str], bool]:
    """Run ``faber args`` through main and through typer alone on two copies; assert they agree and
    return main's result and whether it took the quick path."""
    outcomes = []
    for side, code in (("main", MAIN), ("full", FULL)):
        root = tmp_path / side / "widget"
        shutil.copytree(template, root, symlinks=True)
        if setup:
            setup(root)
        where = {"project": root, "outside": tmp_path / side, "deep": root / RUNS}[cwd]
        text_args = [arg.replace("{root}", str(root)) for arg in args]
        environ = clean_environ(**{k: v.replace("{root}", str(root)) for k, v in (env or {}).items()})
        result = subprocess.run([sys.executable, "-c", code, *text_args], cwd=where, env=environ,
                                capture_output=True, text=True, timeout=120)
        outcomes.append((result, str(tmp_path / side)))
    (main, main_side), (full, full_side) = outcomes
    marker = main.stderr.splitlines()[-1]
    main_stderr = "".join(main.stderr.splitlines(keepends=True)[:-1]).replace(main_side, "<side>")
    assert (main.returncode, main.stdout.replace(main_side, "<side>"), main_stderr) == (
        full.returncode, full.stdout.replace(full_side, "<side>"), full.stderr.replace(full_side, "<side>"),
    ), args
    assert "Traceback" not in main.stderr
    return main, marker == "[quick]"


QUICK: dict[str, list[str]] = {
    "everything": [],
    "status completed": ["--status", "completed"],
    "status in progress": ["--status=in_progress"],
    "status pending": ["--status", "pending"],
    "work id": ["--work-id", "2"],
    "workflow": ["--workflow", "default"],
    "workflow nobody ran": ["--workflow=nope"],
    "work id with a tab": ["--work-id", "tab\there"],
    "org": ["--org", "acme"],
    "org and project": ["--org", "acme", "--project", "widget-service"],
    "project alone": ["--project=gadget"],
    "unknown org": ["--org", "nobody"],
    "limit": ["--limit", "1"],
    "limit equals, large": ["--limit=500"],
    "everything at once": ["--status", "completed", "--org", "beta", "--project", "widget", "--limit", "3"],
}


@pytest.mark.parametrize("name", sorted(QUICK))
def test_plain_lists_take_the_quick_path_and_match(tmp_path: Path, template: Path, name: str) -> None:
    result, quick = both_ways(tmp_path, template, ["runs", "list", *QUICK[name]])
    assert result.returncode == 0, result.stderr
    assert quick, f"{name}: the plain list did not take the quick path"


@pytest.mark.parametrize("cwd, args", [
    ("outside", ["--root", "{root}", "runs", "list"]),
    ("outside", ["--root={root}", "runs", "list", "--limit", "2"]),
    ("deep", ["runs", "list"]),
])
def test_ways_of_naming_the_project_match(tmp_path: Path, template: Path, cwd: str, args: list[str]) -> None:
    _, quick = both_ways(tmp_path, template, args, cwd=cwd)
    assert quick


FALLBACK: dict[str, list[str]] = {
    "json": ["--json"],
    "archived": ["--archived"],
    "help": ["--help"],
    "unknown option": ["--colour"],
    "positional": ["extra"],
    "repeated status": ["--status", "completed", "--status", "failed"],
    "limit zero": ["--limit", "0"],
    "limit not a number": ["--limit", "two"],
    "limit negative": ["--limit", "-1"],
    "limit with a sign": ["--limit", "+2"],
    "invalid org": ["--org", "Not A Slug"],
    "empty project": ["--project", ""],
    "missing value": ["--status"],
    "value like an option": ["--work-id", "--json"],
    "debug": ["--debug"],
    "status nobody can have": ["--status", "weird"],  # refused by the full CLI, in its words
    "since an age": ["--since", "3650d"],
    "until a date": ["--until", "2100-01-01"],
    "since and until, an empty window": ["--since", "2100-01-01", "--until", "2100-01-02"],
    "since that is no time": ["--since", "yesterday"],
}


def test_an_unknown_status_is_refused_not_listed(tmp_path: Path, template: Path) -> None:
    """Through the console script in a pipe (the quick path's door) as through the full CLI."""
    result, quick = both_ways(tmp_path, template, ["runs", "list", "--status", "bogus"])
    assert not quick
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines()[:-1] == [
        "faber: error: unknown status 'bogus': use pending, in_progress, paused, completed, failed, cancelled"
    ]


@pytest.mark.parametrize("name", sorted(FALLBACK))
def test_everything_else_matches_too(tmp_path: Path, template: Path, name: str) -> None:
    both_ways(tmp_path, template, ["runs", "list", *FALLBACK[name]])


def _state_of_first(root: Path) -> Path:
    return next(path for path in sorted((root / RUNS / "acme" / "widget").glob("*/state.json")))


def _write_state(change: Callable[[dict[str, object]], None]) -> Setup:
    def setup(root: Path) -> None:
        path = _state_of_first(root)
        state = json.loads(path.read_text())
        change(state)
        path.write_text(json.dumps(state))
    return setup


SETUPS: dict[str, tuple[Setup, bool]] = {
    # (what is done to the project, whether the quick path must still be taken)
    "truncated state.json": (lambda root: _state_of_first(root).write_text('{"run_id": '), True),
    "state.json missing": (lambda root: _state_of_first(root).unlink(), True),
    "state.json not an object": (lambda root: _state_of_first(root).write_text("[1, 2]"), True),
    "a status the model refuses": (_write_state(lambda s: s.update(status="exploded")), False),
    "a work id that is a number": (_write_state(lambda s: s.update(work_id=7)), False),
    "a phase the model refuses": (_write_state(lambda s: s["phases"].update(deploy={})), False),
    "a timestamp that does not parse": (_write_state(lambda s: s.update(updated_at="yesterday")), False),
    "an extra field": (_write_state(lambda s: s.update(note="kept")), True),
    "a private-looking extra field": (_write_state(lambda s: s.update(_secret=1)), False),
    "no runs at all": (lambda root: shutil.rmtree(root / RUNS), True),
    "empty runs folder": (lambda root: [shutil.rmtree(p) for p in (root / RUNS).iterdir()], True),
    "stray folders": (lambda root: (root / RUNS / "acme" / "widget" / "not-a-uuid").mkdir(), True),
    "folders that are not an org or a project": (lambda root: _copy_first_under(root, "Not-A-Slug", "widget"), True),
    "a project folder that is not a slug": (lambda root: _copy_first_under(root, "acme", "-widget"), True),
    # What the table's parser (orjson) reads otherwise than the json module: the same table regardless.
    "an integer beyond 64 bits": (_write_state(lambda s: s.update(artifacts={"a": {"size": 2**70}})), True),
    "a last event id beyond 64 bits": (_write_state(lambda s: s.update(last_event_id=2**70)), True),  # rebuilt
    "NaN in an extra field": (_write_state(lambda s: s.update(ratio=float("nan"))), True),
    "a lone surrogate in a work id": (_write_state(lambda s: s.update(work_id="half \ud800 a pair")), True),
    "a byte-order mark": (lambda root: _prefix_state(root, b"\xef\xbb\xbf"), True),
    "archived and cleaned up": (lambda root: _archive_first(root), True),
    "another backend enabled": (lambda root: _gateway(root, {"s3": {"enabled": True}}), False),
    "local files disabled": (lambda root: _gateway(root, {"local_files": {"enabled": False}}), False),
    "a variable in gateway.json": (lambda root: _gateway(root, {"local_files": {
        "enabled": True, "config": {"base_path": "${RUNS:-.fractary/plugins/faber/runs}"}}}), False),
    "gateway.json broken": (lambda root: (root / GATEWAY).write_text("{"), False),
}


def _copy_first_under(root: Path, org: str, project: str) -> None:
    """A copy of a run folder under an org and project folder that no run id can name."""
    shutil.copytree(_state_of_first(root).parent, root / RUNS / org / project / _state_of_first(root).parent.name)


def _prefix_state(root: Path, prefix: bytes) -> None:
    path = _state_of_first(root)
    path.write_bytes(prefix + path.read_bytes())


def _gateway(root: Path, backends: dict[str, object]) -> None:
    document = json.loads((root / GATEWAY).read_text())
    document["backends"].update(backends)
    (root / GATEWAY).write_text(json.dumps(document))


def _archive_first(root: Path) -> None:
    """A run archived and cleaned up here: its events gone, its manifest and a stale state.json kept."""
    folder = _state_of_first(root).parent
    shutil.rmtree(folder / "events")
    (folder / "archive").mkdir()
    (folder / "archive" / "manifest.json").write_text("{}")
    state = json.loads((folder / "state.json").read_text())
    state["reducer_version"] = 0
    (folder / "state.json").write_text(json.dumps(state))


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_damaged_and_unusual_projects_match(tmp_path: Path, template: Path, name: str) -> None:
    setup, must_be_quick = SETUPS[name]
    _, quick = both_ways(tmp_path, template, ["runs", "list"], setup=setup)
    if must_be_quick:
        assert quick, f"{name}: did not take the quick path"
    else:
        assert not quick, f"{name}: took the quick path"


@pytest.mark.parametrize("env, quick_expected", [
    ({"FORCE_COLOR": "1"}, False),  # a terminal's table is coloured: the full CLI draws it
    ({"TTY_COMPATIBLE": "0"}, True),
    ({"FABER_RUNS_PATH": "{root}/.fractary/plugins/faber/runs/acme"}, True),
    ({"FABER_ROOT": "{root}"}, True),
])
def test_environment_matches(tmp_path: Path, template: Path, env: dict[str, str], quick_expected: bool) -> None:
    _, quick = both_ways(tmp_path, template, ["runs", "list"], env=env, cwd="outside" if "FABER_ROOT" in env else
                         "project")
    assert quick == quick_expected


def test_a_concurrent_writer_never_shows_a_torn_state(tmp_path: Path, template: Path) -> None:
    """Events stored while the quick path lists: every run is listed, every time, with no error."""
    root = tmp_path / "busy"
    shutil.copytree(template, root)
    faber = Faber.open(root, clean_environ())
    run = faber.new_run("busy").run_id
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys\nfrom faber_host.api import Faber\nfaber = Faber.open(sys.argv[1], {})\n"
        "for n in range(400):\n    faber.emit(sys.argv[2], 'checkpoint', message=str(n))\n"), str(root), run])
    try:
        for _ in range(5):
            result = subprocess.run([sys.executable, "-c", MAIN, "runs", "list"], cwd=root, env=clean_environ(),
                                    capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stderr
            assert result.stderr.splitlines() == ["[quick]"]
            assert len(result.stdout.splitlines()) == 1 + 7
            assert run in result.stdout
    finally:
        writer.wait(timeout=120)


def test_plain_state_knows_every_field_of_the_state_models() -> None:
    """plain_state's rules name exactly RunState's fields: a field added to the model must be added there."""
    from faber_hookspecs.plain_state import RUN_STATE_RULES, plain_state
    from faber_hookspecs.state import RunState

    assert set(RUN_STATE_RULES) == set(RunState.model_fields)
    for path in REFERENCE.rglob("state.json"):
        state = json.loads(path.read_text())
        assert plain_state(state)
        model = RunState.model_validate(state)
        assert {key: getattr(model, key) for key in ("run_id", "status", "work_id", "workflow_id", "created_at",
                "started_at", "updated_at", "completed_at")} == {key: state.get(key, getattr(model, key))
                                                                 for key in ("run_id", "status", "work_id",
                                                                             "workflow_id", "created_at",
                                                                             "started_at", "updated_at",
                                                                             "completed_at")}


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_the_console_script_prints_what_the_full_cli_prints(tmp_path: Path, template: Path, encoding: str) -> None:
    """The installed ``faber`` (entry_point, which ends the process at once after a quick listing) prints
    the whole table, as the full CLI does; when stdout cannot carry a work id (PYTHONIOENCODING=ascii)
    both show it as a JSON escape, and JSON output stays valid JSON."""
    root = tmp_path / "widget"
    shutil.copytree(template, root, symlinks=True)
    Faber.open(root, clean_environ()).new_run("café-🚀-42")
    env = clean_environ(PYTHONIOENCODING=encoding)
    script = subprocess.run([FABER, "runs", "list"], cwd=root, env=env, capture_output=True, text=True,
                            errors="replace", timeout=120)
    full_cli = "import sys\nfrom faber_host.cli.runner import run_cli\nsys.exit(run_cli(sys.argv[1:], False))\n"
    full = subprocess.run([sys.executable, "-c", full_cli, "runs", "list"], cwd=root, env=env, capture_output=True,
                          text=True, errors="replace", timeout=120)
    assert (script.returncode, _clockless(script.stdout), script.stderr) == (
        full.returncode, _clockless(full.stdout), full.stderr)
    shown = "café-🚀-42" if encoding == "utf-8" else "caf\\u00e9-\\ud83d\\ude80-42"
    assert script.returncode == 0 and shown in script.stdout and not script.stderr
    assert len(script.stdout.splitlines()) == 1 + len(list((root / RUNS).glob("*/*/*/state.json")))
    listed = subprocess.run([FABER, "runs", "list", "--json"], cwd=root, env=env, capture_output=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    if encoding == "ascii":
        assert listed.stdout.isascii()
    assert "café-🚀-42" in {run["work_id"] for run in json.loads(listed.stdout)}


def _clockless(table: str) -> list[str]:
    """The table's lines without the columns that move with the clock (a running run's DURATION and
    every UPDATED), which two processes a moment apart may print differently."""
    lines = table.splitlines()
    cut = lines[0].index("DURATION") if lines else 0
    return [line[:cut] for line in lines]


def _checkpoint_behind(root: Path) -> None:
    """The run of work id 2 with state.json as its state before any event: a checkpoint the log has
    moved past (as a long run's is between two rewrites), whose status says pending."""
    from faber_hookspecs.reducer import initial_state_for

    for metadata_file in (root / RUNS).glob("acme/widget/*/metadata.json"):
        metadata = json.loads(metadata_file.read_text())
        if metadata["work_id"] == "2":
            (metadata_file.parent / "state.json").write_text(json.dumps(initial_state_for(metadata)))
            return
    raise AssertionError("no run of work id 2")


def test_a_checkpoint_behind_the_log_is_brought_forward(tmp_path: Path, template: Path) -> None:
    result, quick = both_ways(tmp_path, template, ["runs", "list", "--work-id", "2"], setup=_checkpoint_behind)
    assert quick
    (row,) = result.stdout.splitlines()[1:]
    assert " in_progress " in f" {row} " and " pending " not in f" {row} ", row

"""No value from outside a workflow file ever becomes shell syntax (docs/run-id-system.md).

A placeholder in a step's ``run`` command refers to the environment variable holding its value. Here
hostile values (quotes, ``$(...)``, backticks, newlines, here-document delimiters, attacks without a
space) go through every quoting context of the shell, nested in one another, in a real /bin/sh:
nothing but the intended printf runs (a canary file is never created) and the value arrives byte for
byte. Contexts where a variable cannot stand for the value are refused with the file and JSON path.
Then the attack of issue 15 through the real CLI with the shipped example workflow, and through an
MCP agent's re-run that a person resumes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FABER, REPO, Cli, assert_one_line_error, clean_environ, write_workflow
from faber_hookspecs.errors import ConfigError
from faber_hookspecs.workflow import ResolvedStep
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp_support import call

from faber_host.api import Faber
from faber_host.mcp.server import build_server
from faber_host.workflows.placeholders import fill_step, shell_command

CANARY = "CANARY"
ATTACKS = [
    "$(touch CANARY)", "`touch CANARY`", "';touch CANARY;'", '";touch CANARY;"', "\ntouch CANARY\n",
    "$(touch${IFS}CANARY)", ";touch${IFS}CANARY", "|touch${IFS}CANARY", "&&touch${IFS}CANARY", "\\", "'", '"', "`",
    "$", "${IFS}", "$((1+1))", "E1", "\nE1\ntouch CANARY\n", ")", "}", "{v}", "*", "~", "-n", "--", "\t", "\\n",
    "%s", "#", "\\$(touch CANARY)", "\"$(touch CANARY)\"", "'$(touch CANARY)'", " ", "\n",
]
values = st.lists(
    st.sampled_from(ATTACKS) | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=6),
    min_size=1, max_size=5,
).map("".join)

# A command that prints the value, and what it prints: (template, expected(value)).
Printer = tuple[str, Callable[[str], str]]
LEAVES: list[Printer] = [
    ("printf %s {v}", lambda v: v),
    ('printf %s "{v}"', lambda v: v),
    ('printf %s "<{v}>"', lambda v: f"<{v}>"),
    ("printf %s x{v}y", lambda v: f"x{v}y"),
    ('v={v}; printf %s "$v"', lambda v: v),
    ('for w in {v}; do printf %s "$w"; done', lambda v: v),
    ('case {v} in {v}) printf %s "[{v}]";; *) printf mismatch;; esac', lambda v: f"[{v}]"),
    ('test {v} = "{v}" && printf same', lambda v: "same"),
    ("printf %s {v} # {v} '", lambda v: v),
    ("cat <<E{depth}\n{v}\nE{depth}", lambda v: v + "\n"),
    ("cat <<-E{depth}\n\t<{v}>\n\tE{depth}", lambda v: f"<{v}>\n"),
]
# Ways to nest a printer in another context: (template around CMD, expected(inner output)).
WRAPPERS: list[tuple[str, Callable[[str], str]]] = [
    ('printf %s "$( CMD\nprintf .)"', lambda out: out + "."),  # "$( (" : "$((" would be arithmetic
    ('x=$( CMD\nprintf .); printf %s "${x%.}"', lambda out: out),
    ('printf %s "`CMD\nprintf .`"', lambda out: out + "."),
    ("x=`CMD\nprintf .`; printf %s \"$x\"", lambda out: out + "."),
    ("{ CMD\n}", lambda out: out),
    ("( CMD\n)", lambda out: out),
    ("if true; then CMD\nfi", lambda out: out),
    ("{ CMD\n} | cat", lambda out: out),
    ("f() { CMD\n}; f", lambda out: out),
    ("cat <<E{depth}\n$( CMD\nprintf .)\nE{depth}", lambda out: out + ".\n"),
]


@st.composite
def printers(draw: st.DrawFn, depth: int = 0) -> Printer:
    """A leaf printer, wrapped in up to three contexts (backticks never inside backticks: nesting
    them needs escapes that would be the template's own, not a placeholder's, concern)."""
    template, expected = draw(st.sampled_from(LEAVES))
    template = template.replace("{depth}", str(depth))
    for level in range(draw(st.integers(0, 3))):
        wrapper, outer = draw(st.sampled_from(WRAPPERS))
        if "`" in wrapper and "`" in template:
            continue
        template = wrapper.replace("{depth}", str(depth + level + 1)).replace("CMD", template)
        expected = (lambda inner, wrap: lambda v: wrap(inner(v)))(expected, outer)
    return template, expected


def run_step(template: str, value: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Fill the step as a run does, then run it as the shell executor does: ``/bin/sh -c`` with the
    FABER_PARAM_<NAME> variables in its environment."""
    step = ResolvedStep(phase="build", id="print", run=template, source="wf", file="wf.json",
                        json_path="$.phases.build.steps[0]")
    command = fill_step(step, {"v": value}).run
    assert command is not None and "{v}" not in command
    environ = {"PATH": os.environ["PATH"], "FABER_PARAM_V": value}
    return subprocess.run(["/bin/sh", "-c", command], cwd=cwd, env=environ, capture_output=True, timeout=30)


@settings(max_examples=300, deadline=None)
@given(printer=printers(), value=values)
def test_hostile_values_never_become_shell_syntax_in_any_context(printer: Printer, value: str) -> None:
    template, expected = printer
    with tempfile.TemporaryDirectory() as folder:
        result = run_step(template, value, Path(folder))
        assert os.listdir(folder) == [], f"the step ran something else: {os.listdir(folder)} ({template!r})"
    assert result.stderr == b"", (template, result.stderr)
    assert result.stdout == expected(value).encode(), (template, value)


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("echo '{v}'", "inside single quotes"),
        ("echo 'a'\"b\"'{v} c'", "inside single quotes"),
        ("sh -c 'echo {v}'", "inside single quotes"),
        ('echo "$(echo \'{v}\')"', "inside single quotes"),
        ("cat <<'EOF'\n{v}\nEOF", "inside a quoted here-document"),
        ('cat <<"EOF"\n{v}\nEOF', "inside a quoted here-document"),
        ("cat <<\\EOF\n{v}\nEOF", "inside a quoted here-document"),
        ("cat <<-'EOF'\n\t{v}\n\tEOF", "inside a quoted here-document"),
        ("echo $(( {v} + 1 ))", "inside $((...))"),
        ("echo $(( $(echo {v}) + 1 ))", "inside $((...))"),
        ("echo ${HOME:-{v}}", "inside ${...}"),
        ("echo \\{v}", "right after a backslash"),
        ('echo "\\{v}"', "right after a backslash"),
        ("cat <<{v}\nx\n{v}", "in a here-document's delimiter"),
    ],
)
def test_a_placeholder_where_a_variable_cannot_stand_for_it_is_refused(template: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        shell_command(template, {"v"}, "wf.json: $.phases.build.steps[0].run")
    assert str(caught.value).startswith(f"wf.json: $.phases.build.steps[0].run: {{v}} is {why}")
    if "quote" in why:  # the fix: let the quoted program read the variable itself
        assert "${FABER_PARAM_V}" in str(caught.value)


def test_the_cli_refuses_such_a_workflow_with_one_line_and_creates_no_run(cli: Cli, project_dir: Path) -> None:
    write_workflow(project_dir, {"id": "quoted", "phases": {"build": {"steps": [
        {"id": "hello", "run": "echo 'hello {name}'"}]}}})
    line = assert_one_line_error(cli("run", "quoted", "--work-id", "1", "--param", "name=x"), 2)
    assert line.startswith("faber: error: .fractary/plugins/faber/workflows/quoted.json: "
                           "$.phases.build.steps[0].run: {name} is inside single quotes")
    assert cli.json("runs", "list", "--json") == []


def shipped_widget_release(project_dir: Path) -> None:
    """The example workflow as `make demo` uses it, with a module its build step compiles."""
    shutil.copy(REPO / "contrib/workflows/widget-release.json", project_dir / ".fractary/plugins/faber/workflows")
    (project_dir / "src").mkdir()
    (project_dir / "src/widgets.py").write_text("print('ok')\n")


ISSUE_WORK_ID = "$(touch PWNED)"


def test_the_issues_attack_through_the_cli_prints_the_work_id_and_runs_nothing(cli: Cli, project_dir: Path) -> None:
    shipped_widget_release(project_dir)
    result = cli("run", "widget-release", "--work-id", ISSUE_WORK_ID, "--param", "version=1.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list(project_dir.rglob("PWNED"))
    assert f"work item {ISSUE_WORK_ID}: paginate the widget listing" in result.stdout
    spec = project_dir / f"specs/WORK-{ISSUE_WORK_ID}.md"
    assert spec.read_text() == f"# Work {ISSUE_WORK_ID}: paginate widgets (release 1.0)\n"
    assert (project_dir / "dist/widgets-1.0.tgz").is_file()


@pytest.mark.anyio
async def test_a_work_id_an_agent_plants_with_rerun_run_stays_data_when_a_person_resumes(
    faber: Faber, project_dir: Path
) -> None:
    shipped_widget_release(project_dir)
    attack = "it's \"$(touch PWNED)\"`touch PWNED`;touch${IFS}PWNED"
    async with Client(build_server(faber)) as client:
        started = await call(client, "start_run", work_id="W-1", workflow_id="widget-release",
                             params={"version": "$(touch PWNED)"})
        rerun = await call(client, "rerun_run", run=started["run_id"], work_id=attack)
        context = await call(client, "resume_context", run=rerun["new_run_id"])
    assert context["next_step"]["run"] == 'echo "work item ${FABER_WORK_ID}: paginate the widget listing"'
    result = subprocess.run([FABER, "run", "--resume", rerun["new_run_id"]], cwd=project_dir, env=clean_environ(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list(project_dir.rglob("PWNED"))
    assert f"work item {attack}: paginate the widget listing" in result.stdout
    assert (project_dir / "dist/widgets-$(touch PWNED).tgz").is_file()


SPACELESS = {"work_id": "|touch${IFS}PWNED", "a": "$(touch${IFS}PWNED)", "b": ";touch${IFS}PWNED",
             "c": "`touch${IFS}PWNED`", "d": "'\";touch${IFS}PWNED;#", "e": "&&touch${IFS}PWNED\\"}


def test_spaceless_shell_syntax_through_the_api_stays_data_in_every_field(faber: Faber, project_dir: Path) -> None:
    """Values with shell syntax and no space (a quoting rule keyed on blanks would pass them), as a work
    id and as parameters, in a step's run command run by the real shell executor, in its prompt and
    arguments."""
    write_workflow(project_dir, {"id": "doors", "autonomy": {"level": "autonomous"}, "phases": {"build": {"steps": [
        {"id": "print", "run": 'printf "%s|" {work_id} "{a}" x{b}y "<{c}>" {d} {e} > out.txt'},
    ]}}})
    params = {name: value for name, value in SPACELESS.items() if name != "work_id"}
    outcome = faber.run_workflow("doors", SPACELESS["work_id"], params=params)
    assert outcome.status == "completed", outcome.message
    assert not list(project_dir.rglob("PWNED"))
    expected = [SPACELESS["work_id"], params["a"], f"x{params['b']}y", f"<{params['c']}>", params["d"], params["e"]]
    assert (project_dir / "out.txt").read_text() == "|".join(expected) + "|"
    step = ResolvedStep(phase="build", id="ask", prompt="fix {work_id} with {a}", arguments={"x": ["{b}"]},
                        source="wf", file="wf.json", json_path="$.phases.build.steps[0]")
    filled = fill_step(step, SPACELESS)
    assert filled.prompt == f"fix {SPACELESS['work_id']} with {params['a']}" and filled.arguments == {"x": [params["b"]]}


# Shell syntax without a space, through every door that sets a placeholder's value: a run's parameters (the
# API, `faber run --param`, MCP's start_run), a re-run's changes, and the work id. A quoting rule keyed on
# blanks, or on a few characters, would let one of them through.
NO_SPACE = {"semi": ";touch${IFS}PWNED", "subst": "$(touch${IFS}PWNED)", "id": "$(id)", "tick": "`touch${IFS}PWNED`",
            "pipe": "|touch${IFS}PWNED", "both": "&&touch${IFS}PWNED", "line": "\ntouch${IFS}PWNED\n", "glob": "*",
            "quote": "'\";touch${IFS}PWNED;#"}
DOORS_RUN = "printf '%s|' {work_id} " + " ".join(f"{{{name}}}" for name in NO_SPACE) + " > out.txt"


def doors_workflow(project_dir: Path) -> None:
    write_workflow(project_dir, {"id": "doors", "autonomy": {"level": "autonomous"},
                                 "phases": {"build": {"steps": [{"id": "print", "run": DOORS_RUN}]}}})
    (project_dir / "a-file-the-glob-would-find").write_text("")


def assert_printed_as_data(project_dir: Path, work_id: str, params: dict[str, str]) -> None:
    assert not list(project_dir.rglob("PWNED"))
    printed = (project_dir / "out.txt").read_text()
    assert printed == "|".join([work_id, *(params[name] for name in NO_SPACE)]) + "|"


def test_no_space_shell_syntax_stays_data_through_run_params_and_rerun_changes(faber: Faber, project_dir: Path) -> None:
    doors_workflow(project_dir)
    first = faber.run_workflow("doors", ";touch${IFS}PWNED", params=NO_SPACE)
    assert first.status == "completed", first.message
    assert_printed_as_data(project_dir, ";touch${IFS}PWNED", NO_SPACE)
    changed = dict(zip(NO_SPACE, reversed(NO_SPACE.values()), strict=True))
    again = faber.rerun_workflow(first.run_id, params=changed, work_id="`touch${IFS}PWNED`")
    assert again.status == "completed", again.message
    assert_printed_as_data(project_dir, "`touch${IFS}PWNED`", changed)


@pytest.mark.anyio
async def test_no_space_shell_syntax_stays_data_through_mcp_start_run(faber: Faber, project_dir: Path) -> None:
    doors_workflow(project_dir)
    async with Client(build_server(faber)) as client:
        started = await call(client, "start_run", work_id="$(id)", workflow_id="doors", params=NO_SPACE)
        context = await call(client, "resume_context", run=started["run_id"])
    references = " ".join(f'"${{FABER_PARAM_{name.upper()}}}"' for name in NO_SPACE)
    assert context["next_step"]["run"] == f"printf '%s|' \"${{FABER_WORK_ID}}\" {references} > out.txt"
    outcome = faber.resume_workflow(started["run_id"])
    assert outcome.status == "completed", outcome.message
    assert_printed_as_data(project_dir, "$(id)", NO_SPACE)


def test_no_space_shell_syntax_stays_data_through_the_cli_param(cli: Cli, project_dir: Path) -> None:
    doors_workflow(project_dir)
    params = [argument for name, value in NO_SPACE.items() for argument in ("--param", f"{name}={value}")]
    result = cli("run", "doors", "--work-id", "|touch${IFS}PWNED", *params)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_printed_as_data(project_dir, "|touch${IFS}PWNED", NO_SPACE)

"""The CLI reads well: every command's help without type placeholders for flags or prose cut in the
middle of a phrase, and shell completion that knows the commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from faber_host.cli.app import app, build_command

FABER = str(Path(sys.executable).with_name("faber"))


def all_commands() -> list[list[str]]:
    """Every command path, ``[]`` for ``faber`` itself."""
    paths: list[list[str]] = []

    def walk(command: typer.main.TyperGroup, path: list[str]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def help_of(path: list[str], columns: int = 100) -> str:
    result = subprocess.run([FABER, *path, "--help"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}, check=True)
    return result.stdout


@pytest.mark.parametrize("path", all_commands(), ids=lambda path: " ".join(["faber", *path]))
def test_help_shows_no_type_placeholder_for_flags_and_options(path: list[str]) -> None:
    shown = help_of(path)
    options = [line for line in shown.splitlines() if line.lstrip("│ ").startswith("-")]
    assert options and not [line for line in options if re.search(r" <[a-z\[\]]+> ", line)], shown


def test_prose_is_reflowed_and_usage_blocks_keep_their_lines() -> None:
    wide = help_of(["run"], columns=200)
    assert ("Exit codes: 0 completed, 1 failed, 2 bad usage, 3 paused (an approval or an agent step), 4 approval "
            "denied, 130/143 cancelled (Ctrl-C/SIGTERM; the run can be resumed).") in wide, "one paragraph, one line"
    usage = [line.strip() for line in wide.splitlines() if line.strip().startswith("faber run ")]
    assert [line.split("  ")[0] for line in usage] == [
        "faber run WORKFLOW --work-id W [--param k=v]...", "faber run --resume RUN [--step phase:step]",
        "faber run --rerun RUN [--param k=v]...",
    ], "the usage lines stay lines"
    options = help_of(["runs", "list"])
    assert "--work-id           WORK_ID" in options and "--json  " in options


def test_every_command_builds_with_tidy_help() -> None:
    command = build_command()
    assert all(param.metavar is not None for param in command.params), "placeholders are chosen, not typed"


def test_shell_completion(tmp_path: Path) -> None:
    # typer detects the shell from the process tree; the variable makes it take the shell named instead
    # (CI's process tree need not hold a shell it knows).
    script = subprocess.run([FABER, "--show-completion", "bash"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert script.returncode == 0 and "_FABER_COMPLETE=complete_bash" in script.stdout
    assert "complete -o default -F _faber_completion faber" in script.stdout

    def complete(words: str) -> list[str]:
        env = {**os.environ, "_FABER_COMPLETE": "complete_bash", "COMP_WORDS": words,
               "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
        done = subprocess.run([FABER], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("faber ru") == ["run", "runs"]
    assert complete("faber runs li") == ["list"]
    assert "--work-id" in complete("faber runs list --wo")
    assert complete("faber event em") == ["emit"], "completion is the typer CLI's, even for emit"

"""Run the `faber` command inside the test process: the same code as the executable (``main``) minus
the interpreter start-up, so thousands of hostile inputs fit in a few seconds. A sample of each test's
inputs also goes through the real executable (see the tests).

The click command typer builds from the application is built once and reused: building it inspects
every command's signature and took two thirds of each in-process call (about 60 ms), and it is the
same tree every time (a real process builds it once too)."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from unittest.mock import patch

from faber_host.cli import app as cli_app
from faber_host.cli import main

_build_command = cache(cli_app.build_command)


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    def problems(self) -> list[str]:
        """What breaks the error policy: a traceback, an internal error, more than one error line, an
        error without a non-zero exit, or a code other than 0, 1 and 2."""
        found = []
        if "Traceback" in self.stderr:
            found.append("a traceback")
        if "internal error" in self.stderr:
            found.append(f"an internal error: {self.stderr.strip()[:300]}")
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("faber: error: ")]
        others = [line for line in lines if not line.startswith(("faber: error: ", "faber: warning: "))]
        if self.code not in (0, 1, 2):
            found.append(f"exit code {self.code}")
        if self.code != 0 and len(errors) != 1:
            found.append(f"{len(errors)} error lines for exit code {self.code}: {self.stderr[:300]!r}")
        if self.code == 0 and errors:
            found.append("an error line with exit code 0")
        if others:
            found.append(f"stray stderr lines: {others[:2]}")
        return found


def run_faber(root: Path, *args: str) -> Outcome:
    """``faber --root ROOT ARGS...`` in this process; never raises."""
    out, err = io.StringIO(), io.StringIO()
    saved = os.environ.pop("FABER_RUNS_PATH", None)
    try:
        with redirect_stdout(out), redirect_stderr(err), patch.object(cli_app, "build_command", _build_command):
            code = main(["--root", str(root), *args])
    finally:
        if saved is not None:
            os.environ["FABER_RUNS_PATH"] = saved
    return Outcome(code, out.getvalue(), err.getvalue())

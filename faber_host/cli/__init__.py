"""The ``faber`` command.

``main`` runs the typer application and turns every error into one line on stderr and an exit code:
0 success, 1 a failure at run time, 2 bad usage or invalid input. A traceback is shown only with
``--debug`` (or FABER_DEBUG=1). ``faber event emit``, which agents run at every step, is run without
building the typer application: the typer command of the same name calls the same ``emit_command.run``.
"""

from __future__ import annotations

import os
import sys

from .output import escape_what_the_terminal_cannot_show


def main(argv: list[str] | None = None) -> int:
    """Run ``faber`` with ``argv`` (default: the process's arguments); return the exit code."""
    args = sys.argv[1:] if argv is None else argv
    escape_what_the_terminal_cannot_show()
    debug = "--debug" in args or os.environ.get("FABER_DEBUG") == "1"
    emit = _emit_arguments(args)
    if emit is not None and "_FABER_COMPLETE" not in os.environ:  # (that asks click for shell completions)
        from . import emit_command
        from .output import exit_code_for

        root, rest = emit
        try:
            emit_command.run(rest, root)
            sys.stdout.flush()  # a reader that went away shows here, under the same policy
        except BaseException as problem:
            return exit_code_for(problem, debug)
        return 0
    from .runner import run_cli

    return run_cli(args, debug)


def _emit_arguments(args: list[str]) -> tuple[str | None, list[str]] | None:
    """``(--root value, the command's arguments)`` for ``faber [--root DIR] [--debug] event emit ...``
    (the global options as typer reads them); None for any other command."""
    root = None
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--debug":
            index += 1
        elif token == "--root" and index + 1 < len(args):
            root, index = args[index + 1], index + 2
        elif token.startswith("--root="):
            root, index = token.removeprefix("--root="), index + 1
        else:
            break
    if args[index:index + 2] != ["event", "emit"]:
        return None
    return root, args[index + 2:]


def entry_point() -> None:
    """The console script: exit with ``main``'s code."""
    sys.exit(main())

"""The ``faber`` command.

``main`` runs the typer application and turns every error into one line on stderr and an exit code:
0 success, 1 a failure at run time, 2 bad usage or invalid input. A traceback is shown only with
``--debug`` (or FABER_DEBUG=1).
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
    # (_FABER_COMPLETE asks click for shell completions instead of running the command.)
    if "emit" in args and not debug and "_FABER_COMPLETE" not in os.environ:
        from .one_shot_emit import try_emit  # the step-by-step command, without loading typer

        code = try_emit(args, os.environ)
        if code is not None:
            return code
    if "list" in args and not debug and "_FABER_COMPLETE" not in os.environ:
        from .quick_list import try_list  # the plain table of many runs, without loading typer

        code = try_list(args, os.environ)
        if code is not None:
            return code
    from .runner import run_cli

    return run_cli(args, debug)


def entry_point() -> None:
    """The console script: exit with ``main``'s code."""
    code = main()
    quick_list = sys.modules.get("faber_host.cli.quick_list")
    if quick_list is not None and quick_list.KEPT:
        # A quick listing printed (and flushed) its table and holds nothing else to close: exit now
        # rather than have the interpreter free its thousands of states one by one on the way out.
        os._exit(code)
    sys.exit(code)

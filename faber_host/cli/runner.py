"""Run the typer application with faber's error policy: one clear line, the right exit code."""

from __future__ import annotations

import os
import sys

import typer
from faber_hookspecs.errors import FaberError

from .output import escape_what_the_terminal_cannot_show, fail, note


def run_cli(args: list[str], debug: bool) -> int:
    """Parse ``args``, run the command, and map every outcome to an exit code."""
    from .app import build_command

    escape_what_the_terminal_cannot_show()  # (main did, unless run_cli is called directly)
    command = build_command()
    try:
        result = command.main(args=args, prog_name="faber", standalone_mode=False)
        sys.stdout.flush()  # a reader that went away shows here, under this policy, not at the exit's flush
    except FaberError as problem:
        if debug:
            raise
        if problem.exit_code == 0:  # a no-op that is no error (an emit while event logging is off)
            note(str(problem))
            return 0
        return fail(str(problem), problem.exit_code)
    except typer.TyperException as problem:  # typer's own (vendored click) usage errors
        context = getattr(problem, "ctx", None)
        if type(problem).__name__ == "NoArgsIsHelpError":
            # `faber` or `faber runs` alone: the help is the answer, and it is not an error.
            print(context.get_help() if context else "")
            return 0
        where = context.command_path if context else "faber"
        return fail(f"{problem.format_message()} (see `{where} --help`)", problem.exit_code)
    except typer.Abort:
        return fail("interrupted", 130)
    except KeyboardInterrupt as problem:  # Ctrl-C, or SIGTERM during `faber run` (RunCancelled)
        return fail("interrupted", getattr(problem, "exit_code", 130))
    except SystemExit:
        # typer turns "the reader of our output went away" (EPIPE) into exit 1, after wrapping stdout to
        # silence it; like a BrokenPipeError below, that is not an error of ours.
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":
            return 0
        raise
    except BrokenPipeError:
        # The reader of our output went away (``faber events RUN | head``): not an error of ours. What
        # is still buffered has nowhere to go: stdout points at /dev/null, so the interpreter's last
        # flush cannot fail (exit 120) either (the recipe of Python's signal documentation).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
    except Exception as problem:  # the last line of defence: still one line, unless debugging
        if debug:
            raise
        return fail(
            f"internal error: {type(problem).__name__}: {problem} (run again with --debug for the details)",
            1,
        )
    return result if isinstance(result, int) else 0

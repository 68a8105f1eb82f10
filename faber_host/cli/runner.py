"""Run the typer application with faber's error policy: one clear line, the right exit code."""

from __future__ import annotations

import sys

import typer

from .output import escape_what_the_terminal_cannot_show, exit_code_for, fail


def run_cli(args: list[str], debug: bool) -> int:
    """Parse ``args``, run the command, and map every outcome to an exit code."""
    from .app import build_command

    escape_what_the_terminal_cannot_show()  # (main did, unless run_cli is called directly)
    command = build_command()
    try:
        result = command.main(args=args, prog_name="faber", standalone_mode=False)
        sys.stdout.flush()  # a reader that went away shows here, under this policy, not at the exit's flush
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
    except SystemExit:
        # typer turns "the reader of our output went away" (EPIPE) into exit 1, after wrapping stdout to
        # silence it; like a BrokenPipeError, that is not an error of ours.
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":
            return 0
        raise
    except BaseException as problem:
        return exit_code_for(problem, debug)
    return result if isinstance(result, int) else 0

"""How the CLI writes: JSON for scripts, aligned plain text for people, one line per error."""

from __future__ import annotations

import sys

from faber_hookspecs.wire import indented_json

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (`faber event emit` avoids it)
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any


def escape_what_the_terminal_cannot_show() -> None:
    """Have stdout write a character its encoding cannot carry (PYTHONIOENCODING=ascii, a Latin-1
    locale) as a JSON escape, ``caf\\u00e9``, instead of failing the whole command on a work id:
    still valid JSON in JSON output (such a character only ever stands inside a string) and readable
    in a table. Streams that already replace or escape (UTF-8 mode's surrogateescape) are left alone."""
    import codecs

    codecs.register_error("faber-json-escape", _json_escape)
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="faber-json-escape")


def _json_escape(problem: UnicodeError) -> tuple[str, int]:
    if not isinstance(problem, UnicodeEncodeError):
        raise problem
    escaped = []
    for char in problem.object[problem.start : problem.end]:
        code = ord(char)
        if code > 0xFFFF:  # beyond the first plane: a UTF-16 surrogate pair, as JSON writes it
            code -= 0x10000
            escaped.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            escaped.append(f"\\u{code:04x}")
    return "".join(escaped), problem.end


def fail(message: str, code: int) -> int:
    """Print ``faber: error: <message>`` on stderr (one line) and return ``code``."""
    print(f"faber: error: {_one_line(message)}", file=sys.stderr)
    return code


def exit_code_for(problem: BaseException, debug: bool) -> int:
    """The CLI's answer to an exception a command raised: one line on stderr and its exit code (a
    FaberError's own, 130 for Ctrl-C, 1 for anything unexpected), or the traceback with ``debug``.
    A reader of our output that went away is not an error of ours: 0."""
    from faber_hookspecs.errors import FaberError

    if isinstance(problem, KeyboardInterrupt):  # Ctrl-C, or SIGTERM during `faber run` (RunCancelled)
        return fail("interrupted", getattr(problem, "exit_code", 130))
    if isinstance(problem, BrokenPipeError):
        # (``faber events RUN | head``.) What is still buffered has nowhere to go: stdout points at
        # /dev/null, so the interpreter's last flush cannot fail (exit 120) either (the recipe of
        # Python's signal documentation).
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
    if isinstance(problem, FaberError) and problem.exit_code == 0:
        note(str(problem))  # a no-op that is no error (an emit while event logging is off)
        return 0
    if debug or not isinstance(problem, Exception):
        raise problem
    if isinstance(problem, FaberError):
        return fail(str(problem), problem.exit_code)
    # The last line of defence: still one line.
    return fail(f"internal error: {type(problem).__name__}: {problem} (run again with --debug for the details)", 1)


def warn(message: str) -> None:
    """Print ``faber: warning: <message>`` on stderr."""
    print(f"faber: warning: {_one_line(message)}", file=sys.stderr)


def note(message: str) -> None:
    """Print ``faber: <message>`` on stderr: what a command did besides its answer on stdout."""
    print(f"faber: {_one_line(message)}", file=sys.stderr)


def print_json(document: Any) -> None:
    """A JSON document, indented."""
    print(indented_json(document))


def print_json_line(document: Any) -> None:
    """A JSON document on one line (JSON Lines)."""
    import json

    print(json.dumps(document, ensure_ascii=False, separators=(",", ":")))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Columns aligned to their widest cell; None shows as '-'."""
    sys.stdout.write("\n".join(table_lines(headers, ([_cell(value) for value in row] for row in rows))) + "\n")


def table_lines(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """The lines of a table of one-line strings (None or '' shown as '-'): written for speed, as
    ``faber runs list`` prints 10,000 rows."""
    cells = [["-" if value is None or value == "" else value for value in row] for row in rows]
    widths = [max(len(header), max(map(len, column), default=0)) for header, column in
              zip(headers, zip(*cells, strict=True) if cells else [()] * len(headers), strict=True)]
    line = "  ".join(f"{{:<{width}}}" for width in widths).format  # one call a row, not a ljust a cell
    return [line(*headers).rstrip()] + [line(*row).rstrip() for row in cells]


def _cell(value: Any) -> str:
    return "-" if value is None or value == "" else _one_line(str(value))


def _one_line(text: str) -> str:
    return " ".join(text.split())

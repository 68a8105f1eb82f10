"""What the CLI draws for people: is stdout a terminal, rich consoles, long tables, files they asked for.

Kept apart from ``output.py`` (JSON and one-line errors, on every command's path) so that nothing here
is imported by commands that do not draw.
"""

from __future__ import annotations

import os
import sys

from faber_hookspecs.errors import StorageError

from .output import table_lines

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the quick runs list avoids it)
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path
    from typing import Any

    from rich.console import Console


def stdout_is_terminal() -> bool:
    """True when stdout is a person's terminal (or FORCE_COLOR / TTY_COMPATIBLE=1 say to act as if),
    decided without importing rich, so pipes pay nothing for it."""
    if os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE") == "1":
        return True
    if os.environ.get("TTY_COMPATIBLE") == "0":
        return False
    return sys.stdout.isatty()


def terminal_console() -> Console:
    """A rich console on stdout, for a terminal (rich honours NO_COLOR and TERM=dumb)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, force_terminal=True)


def print_long_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``output.print_table`` for rows of one-line strings (the 10,000 of ``faber runs list``)."""
    sys.stdout.write("\n".join(table_lines(headers, rows)) + "\n")


STATUS_COLOURS = {"completed": "32", "failed": "1;31", "in_progress": "36", "paused": "34", "cancelled": "35",
                  "pending": "90"}
"""ANSI colours of run statuses, for the long lists drawn without rich (which is slow on 10,000 rows)."""


def print_coloured_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], colour_column: str) -> None:
    """``print_table`` for a terminal: a dim header and the ``colour_column`` cells in their status
    colour (none with NO_COLOR set)."""
    lines = table_lines(headers, rows)
    if os.environ.get("NO_COLOR"):
        sys.stdout.write("\n".join(lines) + "\n")
        return
    # The status column starts where its header does; its cell is the word there.
    start = lines[0].index(colour_column)
    coloured = [f"\x1b[1;2m{lines[0]}\x1b[0m"]
    for line in lines[1:]:
        status = line[start:].split(" ", 1)[0]
        colour = STATUS_COLOURS.get(status)
        coloured.append(f"{line[:start]}\x1b[{colour}m{status}\x1b[0m{line[start + len(status):]}" if colour else line)
    sys.stdout.write("\n".join(coloured) + "\n")


def write_text_file(path: Path, text: str) -> None:
    """Write a file the user named, whole or not at all (a temporary file renamed into place)."""
    import tempfile
    from pathlib import Path

    folder = path.parent if str(path.parent) else Path(".")
    try:
        if path.is_dir():
            raise StorageError(f"{path} is a folder; give a file name, such as {path / 'report.html'}")
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except FileNotFoundError:
        raise StorageError(f"cannot write {path}: the folder {folder} does not exist") from None
    except OSError as problem:
        raise StorageError(f"cannot write {path}: {problem.strerror or problem}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as problem:
        os.unlink(temporary)
        raise StorageError(f"cannot write {path}: {problem.strerror or problem}") from None

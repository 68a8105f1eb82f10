"""How the CLI writes: JSON for scripts, aligned plain text for people, one line per error."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def fail(message: str, code: int) -> int:
    """Print ``faber: error: <message>`` on stderr (one line) and return ``code``."""
    print(f"faber: error: {_one_line(message)}", file=sys.stderr)
    return code


def warn(message: str) -> None:
    """Print ``faber: warning: <message>`` on stderr."""
    print(f"faber: warning: {_one_line(message)}", file=sys.stderr)


def print_json(document: Any) -> None:
    """A JSON document, indented."""
    print(json.dumps(document, indent=2, ensure_ascii=False))


def print_json_line(document: Any) -> None:
    """A JSON document on one line (JSON Lines)."""
    print(json.dumps(document, ensure_ascii=False, separators=(",", ":")))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Columns aligned to their widest cell; None shows as '-'."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(header)] + [len(row[index]) for row in cells]) for index, header in enumerate(headers)]
    print("  ".join(header.ljust(width) for header, width in zip(headers, widths)).rstrip())
    for row in cells:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())


def _cell(value: Any) -> str:
    return "-" if value is None or value == "" else _one_line(str(value))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def terminal_console() -> Console:
    """A rich console on stdout: ``is_terminal`` says whether to draw for a person (rich honours
    NO_COLOR, FORCE_COLOR and TERM=dumb)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def write_text_file(path: Path, text: str) -> None:
    """Write a file the user named, whole or not at all (a temporary file renamed into place)."""
    import os
    import tempfile

    from faber_hookspecs.errors import StorageError

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

"""How the CLI writes: JSON for scripts, aligned plain text for people, one line per error."""

from __future__ import annotations

import sys

from faber_hookspecs.wire import indented_json

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the one-shot emit avoids it)
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any


def fail(message: str, code: int) -> int:
    """Print ``faber: error: <message>`` on stderr (one line) and return ``code``."""
    print(f"faber: error: {_one_line(message)}", file=sys.stderr)
    return code


def warn(message: str) -> None:
    """Print ``faber: warning: <message>`` on stderr."""
    print(f"faber: warning: {_one_line(message)}", file=sys.stderr)


def print_json(document: Any) -> None:
    """A JSON document, indented."""
    print(indented_json(document))


def print_json_line(document: Any) -> None:
    """A JSON document on one line (JSON Lines)."""
    import json

    print(json.dumps(document, ensure_ascii=False, separators=(",", ":")))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Columns aligned to their widest cell; None shows as '-'."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(header)] + [len(row[index]) for row in cells]) for index, header in enumerate(headers)]
    print("  ".join(header.ljust(width) for header, width in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    return "-" if value is None or value == "" else _one_line(str(value))


def _one_line(text: str) -> str:
    return " ".join(text.split())

"""What every command needs from the global options: the project and its gateway."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from faber_hookspecs.errors import InvalidInput

from .output import note, warn

if TYPE_CHECKING:
    from ..api import Faber

RunArgument = Annotated[str, typer.Argument(help="The run: org/project/uuid, a uuid, or a unique uuid prefix.")]


def open_faber(ctx: typer.Context) -> Faber:
    """The project named by --root (or FABER_ROOT, or found upwards), with its backends loaded."""
    from ..api import Faber  # when a command runs: building the CLI imports every command module

    root = (ctx.find_root().obj or {}).get("root")
    faber = Faber.open(root)
    for message in faber.gateway.warnings:
        warn(message)
    faber.notify = note  # a run restored before a write: one line on stderr
    return faber


def parse_params(values: list[str] | None) -> dict[str, str]:
    """``--param key=value`` options as a dict (a repeated key keeps its last value)."""
    params: dict[str, str] = {}
    for item in values or []:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise InvalidInput(f"--param {item[:64]!r} must look like key=value")
        params[key.strip()] = value
    return params

"""What every command needs from the global options: the project and its gateway."""

from __future__ import annotations

import json
from typing import Any

import typer
from faber_hookspecs.errors import InvalidInput

from ..api import Faber


def open_faber(ctx: typer.Context) -> Faber:
    """The project named by --root (or FABER_ROOT, or found upwards), with its backends loaded."""
    root = (ctx.find_root().obj or {}).get("root")
    return Faber.open(root)


def parse_params(values: list[str] | None) -> dict[str, str]:
    """``--param key=value`` options as a dict (a repeated key keeps its last value)."""
    params: dict[str, str] = {}
    for item in values or []:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise InvalidInput(f"--param {item[:64]!r} must look like key=value")
        params[key.strip()] = value
    return params


def parse_json_object(text: str, option: str) -> dict[str, Any]:
    """A JSON object given on the command line, or one clear error."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as problem:
        raise InvalidInput(f"{option} is not valid JSON: {problem.msg} (at character {problem.pos})") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{option} must be a JSON object, like '{{\"metadata\": {{\"key\": \"value\"}}}}'")
    return value

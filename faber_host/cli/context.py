"""What every command needs from the global options: the project and its gateway."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from faber_hookspecs.errors import InvalidInput

from ..api import Faber
from ..safety.limits import Limits
from .output import note, warn


def open_faber(ctx: typer.Context) -> Faber:
    """The project named by --root (or FABER_ROOT, or found upwards), with its backends loaded."""
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


MAX_JSON_INPUT = 64 * 1024 * 1024
"""The most ``--data @FILE`` or ``--data -`` reads: the largest event any configuration allows."""


def read_json_option(value: str, option: str, limits: Limits) -> dict[str, Any]:
    """A JSON object given as ``--data '{...}'``, ``--data @FILE`` or ``--data -`` (standard input):
    a command line holds at most 128 KiB per argument, an event up to 1 MiB by default. Nesting too
    deep to parse is refused as ``limits`` refuse it in an event."""
    if value == "-":
        text = sys.stdin.buffer.read(MAX_JSON_INPUT + 1)
        source = "standard input"
    elif value.startswith("@"):
        path = value[1:]
        try:
            with open(path, "rb") as handle:
                text = handle.read(MAX_JSON_INPUT + 1)
        except OSError as problem:
            raise InvalidInput(f"{option} {value[:200]}: cannot read the file: {problem.strerror or problem}") from None
        source = path
    else:
        return parse_json_object(value, option, limits)
    if len(text) > MAX_JSON_INPUT:
        raise InvalidInput(f"{option}: {source} holds more than {MAX_JSON_INPUT // (1024 * 1024)} MiB")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as problem:
        raise InvalidInput(f"{option}: {source} is not UTF-8 text (byte {problem.start})") from None
    return parse_json_object(decoded, option, limits)


def parse_json_object(text: str, option: str, limits: Limits) -> dict[str, Any]:
    """A JSON object given on the command line, or one clear error."""
    try:
        value = limits.parse(text, "event")
    except json.JSONDecodeError as problem:
        raise InvalidInput(f"{option} is not valid JSON: {problem.msg} (at character {problem.pos})") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{option} must be a JSON object, like '{{\"metadata\": {{\"key\": \"value\"}}}}'")
    return value

"""What the CLI's quick paths (the one-shot ``event emit``, the quick ``runs list``) share, without
typer or pydantic: the leading ``--root`` option as typer reads it, and a gateway.json that enables
``local_files`` alone and that ``GatewayConfig`` reads exactly as it stands. Anything else is the full
CLI's to read (and to word the errors of)."""

from __future__ import annotations

import os

from faber_hookspecs.wire import loads

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (it costs these paths milliseconds)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

_OCTAL = frozenset("01234567")


def leading_root(args: list[str]) -> tuple[str | None, int] | None:
    """``(--root value or None, index of the command)`` for arguments that may start with ``--root``;
    None for a value the full CLI must judge (empty, or starting with ``-`` or ``~``)."""
    root = None
    index = 0
    if args[:1] == ["--root"] and len(args) > 1:
        root, index = args[1], 2
    elif args[:1] and args[0].startswith("--root="):
        root, index = args[0][len("--root="):], 1
    if root is not None and (not root or root.startswith(("-", "~"))):
        return None
    return root, index


def local_files_settings(path: str, environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The ``local_files`` config of a gateway.json that enables that backend alone and that
    ``GatewayConfig`` reads as it stands; None for anything else (a missing file means the defaults)."""
    sections = gateway_sections(path, environ)
    if sections is None:
        return None
    config, redaction, limits = sections
    if redaction is not None or limits is not None:
        # GatewayConfig refuses what InputPolicy refuses (names, bounds, patterns that do not compile),
        # so every command fails on a broken section: ask the same question, and leave the answer's
        # wording to the full CLI.
        from ..safety.policy import InputPolicy

        try:
            InputPolicy.from_settings(redaction, limits)
        except Exception:
            return None
    return config


def local_store(settings: Mapping[str, Any], root: str, environ: Mapping[str, str], *, one_shot: bool = False) -> Any:
    """The record store ``local_files_settings``/``gateway_sections`` describe, as the backend makes it."""
    from faber_backend_local_files.store import DEFAULT_BASE_PATH, LocalRunStore, runs_path

    return LocalRunStore(
        runs_path(settings.get("base_path", DEFAULT_BASE_PATH), root, environ),
        sync=settings.get("sync_writes", True),
        file_mode=int(settings.get("file_mode", "0600"), 8),
        dir_mode=int(settings.get("dir_mode", "0700"), 8),
        one_shot=one_shot,
    )


def gateway_sections(path: str, environ: Mapping[str, str]) -> tuple[dict[str, Any], Any, Any] | None:
    """The ``local_files`` config, the ``redaction`` section and the ``limits`` section (None when
    absent) of a gateway.json that enables that backend alone and that ``GatewayConfig`` reads as it
    stands; None for anything else (a missing file means the defaults)."""
    if not os.path.exists(path):
        return {}, None, None
    try:
        with open(path, "rb") as handle:
            document = loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or not _plain_gateway(document):
        return None
    backends = document.get("backends", {"local_files": {"enabled": True}})
    enabled = [name for name, settings in backends.items() if settings.get("enabled", False)]
    if enabled != ["local_files"]:
        return None
    # ${VAR} is expanded everywhere: it must change nothing this path reads, and fail nowhere. In a
    # disabled backend's config only a failure matters (${NAME} without a default, NAME unset).
    disabled = [settings.get("config", {}) for name, settings in backends.items() if name != "local_files"]
    outside = {**document, "backends": {"local_files": backends["local_files"]}}
    if _has_variable(outside) or any(_expansion_may_fail(config, environ) for config in disabled):
        return None
    config: dict[str, Any] = backends["local_files"].get("config", {})
    checks = {"base_path": lambda v: type(v) is str, "sync_writes": lambda v: type(v) is bool,
              "file_mode": _is_mode, "dir_mode": _is_mode}
    if not all(key in checks and checks[key](value) for key, value in config.items()):
        return None
    return config, document.get("redaction"), document.get("limits")


def _plain_gateway(document: dict[str, Any]) -> bool:
    """True when every key and value of gateway.json is one ``GatewayConfig`` takes as it is."""
    def optional_text(value: object) -> bool:
        return value is None or type(value) is str

    def section(value: object, rules: dict[str, Any]) -> bool:
        return type(value) is dict and all(key in rules and rules[key](item) for key, item in value.items())

    def count(value: object) -> bool:
        return type(value) is int and value >= 0

    def backend(value: object) -> bool:
        return section(value, {"enabled": lambda v: type(v) is bool, "description": optional_text,
                               "config": lambda v: type(v) is dict})

    def flag(value: object) -> bool:
        return type(value) is bool

    def texts(value: object) -> bool:
        return type(value) is list and all(type(item) is str for item in value)

    def pattern(value: object) -> bool:
        return section(value, {"name": lambda v: type(v) is str, "pattern": lambda v: type(v) is str,
                               "description": optional_text})

    # The redaction and limits models are strict (no coercion); InputPolicy.from_settings then checks
    # what the types leave open (names, ranges, that patterns compile) and raises where they fail.
    redaction = {"enabled": flag, "description": optional_text, "secret_fields": flag, "disable": texts,
                 "patterns": lambda v: type(v) is list and all(pattern(item) for item in v)}
    limit = {name: count for name in ("max_event_bytes", "max_depth", "max_string_length")}

    rules = {
        "$schema": optional_text,
        "version": lambda v: type(v) is str,
        "description": optional_text,
        "backends": lambda v: type(v) is dict and all(backend(item) for item in v.values()),
        "event_retention": lambda v: section(v, {"local_days": count, "archive_days": count}),
        "mcp_server": lambda v: section(v, {"transport": lambda t: t in ("stdio", "http"),
                                            "name": lambda t: type(t) is str, "version": lambda t: type(t) is str}),
        "logging": lambda v: section(v, {"level": lambda t: t in ("debug", "info", "warning", "error"),
                                         "format": lambda t: t in ("json", "text")}),
        "redaction": lambda v: section(v, redaction),
        "limits": lambda v: section(v, limit),
    }
    return section(document, rules)


def _is_mode(value: object) -> bool:
    """LocalFilesConfig's pattern for file_mode and dir_mode: ``0?[0-7]{3}``."""
    if type(value) is not str:
        return False
    digits = value[1:] if len(value) == 4 and value[0] == "0" else value
    return len(digits) == 3 and _OCTAL.issuperset(digits)


def _has_variable(value: object) -> bool:
    """True when some string value holds ``${``: the full CLI expands those from the environment."""
    if type(value) is str:
        return "${" in value
    if type(value) is dict:
        return any(_has_variable(item) for item in value.values())
    if type(value) is list:
        return any(_has_variable(item) for item in value)
    return False


def _expansion_may_fail(value: object, environ: Mapping[str, str]) -> bool:
    """True when expanding ``value`` as gateway/config.py does could raise: a ``${NAME}`` without a
    ``:-default`` whose variable is unset or empty."""
    if type(value) is dict:
        return any(_expansion_may_fail(item, environ) for item in value.values())
    if type(value) is list:
        return any(_expansion_may_fail(item, environ) for item in value)
    if type(value) is not str:
        return False
    start = value.find("${")
    while start != -1:
        end = start + 2
        while end < len(value) and value[end].isascii() and (value[end].isalnum() or value[end] == "_"):
            end += 1
        name = value[start + 2:end]
        if name and not name[0].isdigit() and value[end:end + 1] == "}" and not environ.get(name):
            return True
        start = value.find("${", start + 2)
    return False

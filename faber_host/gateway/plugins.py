"""Discover backends through entry points and build the plugin manager from gateway.json.

Nothing happens at import time. ``make_plugin_manager`` creates a fresh ``PluginManager`` (one per
Gateway, so tests never share one), adds the hook specifications, loads each *enabled* backend's entry
point on its own (a broken backend is reported by its distribution name and does not hide the others'
errors), validates its config, registers it under its entry point name, and finally calls
``check_pending()`` so a misspelled hook fails loudly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy
from faber_hookspecs.errors import BackendError, ConfigError
from faber_hookspecs.markers import ENTRY_POINT_GROUP, PROJECT_NAME
from faber_hookspecs.records import BackendContext
from faber_hookspecs.specs import FaberSpec
from pydantic import BaseModel, ValidationError

from .config import GatewayConfig, describe_validation_error

KNOWN_DISTRIBUTIONS = {
    "local_files": "faber-backend-local-files",
    "s3_archive": "faber-backend-s3",
    "event_stream": "faber-backend-helm",
}
"""The distributions of this repository's backends, to name what to install."""


@dataclass
class BackendInfo:
    """What ``faber backends`` shows about one backend."""

    name: str
    distribution: str | None
    version: str | None
    enabled: bool
    installed: bool
    hooks: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "enabled": self.enabled,
            "installed": self.installed,
            "hooks": self.hooks,
            "error": self.error,
        }


def discover_backends(group: str = ENTRY_POINT_GROUP) -> dict[str, EntryPoint]:
    """Every installed backend entry point, by name."""
    found: dict[str, EntryPoint] = {}
    for entry_point in entry_points(group=group):
        found.setdefault(entry_point.name, entry_point)
    return found


def make_plugin_manager(
    config: GatewayConfig,
    context: BackendContext,
    available: Mapping[str, EntryPoint] | None = None,
) -> tuple[pluggy.PluginManager, list[BackendInfo]]:
    """A ready plugin manager with every enabled backend registered, and a report of all backends."""
    available = discover_backends() if available is None else available
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(FaberSpec)
    report: list[BackendInfo] = []
    for name, settings in config.backends.items():
        if not settings.enabled:
            continue
        entry_point = available.get(name)
        if entry_point is None:
            distribution = KNOWN_DISTRIBUTIONS.get(name)
            hint = f"pip install {distribution}" if distribution else (
                f"install the distribution that provides the entry point {name!r} in the group {ENTRY_POINT_GROUP!r}"
            )
            raise BackendError(
                f"backend {name!r} is enabled in {context.config_file} but not installed: {hint} "
                "(or disable it there)"
            )
        plugin = _create_backend(name, entry_point, settings.config, context)
        manager.register(plugin, name=name)
        report.append(_info(name, entry_point, enabled=True, hooks=_hook_names(manager, plugin)))
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as problem:
        raise BackendError(f"backend {problem.plugin!r} implements an unknown hook: {problem}") from None
    for name, entry_point in sorted(available.items()):
        if name not in {info.name for info in report}:
            report.append(_info(name, entry_point, enabled=False, hooks=[]))
    return manager, report


def register_builtins(manager: pluggy.PluginManager) -> list[BackendInfo]:
    """Register the host's own plugins, datasette style: ordinary hook implementations marked
    ``trylast`` so an installed backend that implements the same hook is asked first. Today: the
    ``shell`` step executor."""
    from ..runner.shell import ShellExecutor

    plugin = ShellExecutor()
    manager.register(plugin, name=ShellExecutor.name)
    return [BackendInfo(name=ShellExecutor.name, distribution="faber-host", version=None, enabled=True,
                        installed=True, hooks=_hook_names(manager, plugin))]


def describe_backend(name: str, entry_point: EntryPoint) -> BackendInfo:
    """Import a backend without enabling it, to show which hooks it implements."""
    info = _info(name, entry_point, enabled=False, hooks=[])
    try:
        factory = entry_point.load()
    except Exception as problem:  # any import failure of third-party code is reported, not raised
        info.error = f"failed to import: {type(problem).__name__}: {problem}"
        return info
    info.hooks = sorted(
        attribute for attribute in dir(factory)
        if attribute.startswith("faber_") and hasattr(getattr(factory, attribute), f"{PROJECT_NAME}_impl")
    )
    return info


def _create_backend(name: str, entry_point: EntryPoint, raw_config: dict[str, Any], context: BackendContext) -> object:
    where = _distribution_label(entry_point)
    try:
        factory = entry_point.load()
    except Exception as problem:  # a broken third-party backend must be named, whatever it raised
        raise BackendError(
            f"backend {name!r} ({where}) failed to import: {type(problem).__name__}: {problem}; "
            "reinstall it or disable it in gateway.json"
        ) from None
    config_model = getattr(factory, "config_model", None)
    config: Any = raw_config
    if isinstance(config_model, type) and issubclass(config_model, BaseModel):
        try:
            config = config_model.model_validate(raw_config)
        except ValidationError as problem:
            where_in_file = f"backends.{name}.config"
            raise ConfigError(describe_validation_error(problem, context.config_file, where_in_file)) from None
    try:
        return factory(config, context)
    except (ConfigError, BackendError):
        raise
    except Exception as problem:  # the backend's own start-up failure, named
        raise BackendError(f"backend {name!r} ({where}) failed to start: {type(problem).__name__}: {problem}") from None


def _hook_names(manager: pluggy.PluginManager, plugin: object) -> list[str]:
    return sorted(caller.name for caller in manager.get_hookcallers(plugin) or [])


def _info(name: str, entry_point: EntryPoint, *, enabled: bool, hooks: list[str]) -> BackendInfo:
    dist = entry_point.dist
    return BackendInfo(
        name=name,
        distribution=dist.name if dist else None,
        version=dist.version if dist else None,
        enabled=enabled,
        installed=True,
        hooks=hooks,
    )


def _distribution_label(entry_point: EntryPoint) -> str:
    dist = entry_point.dist
    return f"{dist.name} {dist.version}" if dist else entry_point.value

"""Discover backends through entry points and build the plugin manager from gateway.json.

Nothing happens at import time. ``load_backends`` creates a fresh ``PluginManager`` (one per
Gateway, so tests never share one), adds the hook specifications, loads each *enabled* backend's entry
point on its own (a broken backend is reported by its distribution name and does not hide the others'
errors), validates its config, registers it under its entry point name, and calls ``check_pending()``
so a misspelled hook fails loudly. It is the one place backends are loaded: the gateway, ``faber
doctor`` and ``faber backends`` all read its report.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib.metadata import Distribution, EntryPoint, PackageNotFoundError, entry_points, version
from typing import Any

import pluggy
from faber_hookspecs.errors import BackendError, ConfigError, FaberError
from faber_hookspecs.markers import ENTRY_POINT_GROUP, PROJECT_NAME
from faber_hookspecs.records import BackendContext
from faber_hookspecs.specs import FaberSpec
from pydantic import BaseModel, ValidationError

from .config import GatewayConfig, describe_validation_error, expand_variables

KNOWN_DISTRIBUTIONS = {
    "local_files": "faber-backend-local-files",
    "s3_archive": "faber-backend-s3",
    "event_stream": "faber-backend-helm",
}
"""The distributions of this repository's backends, to name what to install."""


@dataclass
class BackendInfo:
    """What ``faber backends`` shows about one backend. The name and version of its distribution are
    read when asked for: each read parses the distribution's METADATA, and an emit never asks."""

    name: str
    enabled: bool
    installed: bool
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    entry_point: str | None = None
    dist: Distribution | None = field(default=None, repr=False, compare=False)
    known_as: str | None = None
    """The distribution's name without ``dist``: what to install, or the host's own for a built-in."""

    @property
    def distribution(self) -> str | None:
        return self.dist.name if self.dist else self.known_as

    @property
    def version(self) -> str | None:
        if self.dist:
            return self.dist.version
        return _version(self.known_as) if self.installed and self.known_as else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "enabled": self.enabled,
            "installed": self.installed,
            "entry_point": self.entry_point,
            "hooks": self.hooks,
            "error": self.error,
        }


_EXTRA_BACKENDS: ContextVar[Mapping[str, EntryPoint] | None] = ContextVar("faber_extra_backends", default=None)


def discover_backends(group: str = ENTRY_POINT_GROUP) -> dict[str, EntryPoint]:
    """Every installed backend entry point, by name (and those added by ``extra_backends``)."""
    found: dict[str, EntryPoint] = {}
    for entry_point in entry_points(group=group):
        found.setdefault(entry_point.name, entry_point)
    if group == ENTRY_POINT_GROUP:
        found.update(_EXTRA_BACKENDS.get() or {})
    return found


@contextmanager
def extra_backends(backends: Mapping[str, EntryPoint]) -> Iterator[None]:
    """Within the block, discover ``backends`` as if they were installed. The testing kit uses it to
    run the CLI with a backend class that has no distribution yet."""
    token = _EXTRA_BACKENDS.set({**(_EXTRA_BACKENDS.get() or {}), **backends})
    try:
        yield
    finally:
        _EXTRA_BACKENDS.reset(token)


@dataclass
class LoadedBackends:
    """A plugin manager with every enabled backend that loaded, and the report of every backend: the
    enabled ones in gateway.json's order (with ``error`` when one could not be used), the host's
    built-ins, then the installed ones that are not enabled. ``faber doctor``, ``faber backends`` and
    every gateway read this one report."""

    manager: pluggy.PluginManager
    report: list[BackendInfo]
    failures: list[FaberError] = field(default_factory=list)

    def raise_first_failure(self) -> None:
        """A gateway needs every enabled backend: the first that could not load is the error."""
        if self.failures:
            raise self.failures[0]


def load_backends(
    config: GatewayConfig,
    context: BackendContext,
    available: Mapping[str, EntryPoint] | None = None,
    *,
    describe_disabled: bool = False,
) -> LoadedBackends:
    """Load each enabled backend on its own (a broken one is reported by name and never hides the
    others), register the host's built-ins, and check every hook name. ``describe_disabled`` imports
    the installed backends that are not enabled too, to list their hooks (``faber backends``); every
    other command leaves them unimported."""
    available = discover_backends() if available is None else available
    manager = new_plugin_manager()
    loaded = LoadedBackends(manager, [])
    for name in config.enabled_backends():
        entry_point = available.get(name)
        try:
            settings = expand_variables(config.backends[name].config, context.environ, context.config_file,
                                        f"backends.{name}.config")
            plugin = load_backend(name, settings, context, available)
            register_backend(manager, name, plugin)
            check_hooks(manager)
        except FaberError as problem:
            if manager.get_plugin(name) is not None:
                manager.unregister(name=name)
            loaded.failures.append(problem)
            info = _info(name, entry_point, enabled=True, hooks=[]) if entry_point else _not_installed(name, True)
            info.error = str(problem)
            loaded.report.append(info)
            continue
        assert entry_point is not None
        loaded.report.append(_info(name, entry_point, enabled=True, hooks=_hook_names(manager, plugin)))
    loaded.report += register_builtins(manager)
    enabled = set(config.enabled_backends())
    for name in sorted((set(available) | {n for n in config.backends if n not in enabled}) - enabled):
        entry_point = available.get(name)
        if entry_point is None:
            loaded.report.append(_not_installed(name, False))
        else:
            loaded.report.append(describe_backend(name, entry_point) if describe_disabled
                                 else _info(name, entry_point, enabled=False, hooks=[]))
    return loaded


def new_plugin_manager() -> pluggy.PluginManager:
    """An empty plugin manager that knows the faber hook specifications."""
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(FaberSpec)
    return manager


def load_backend(
    name: str, raw_config: dict[str, Any], context: BackendContext, available: Mapping[str, EntryPoint]
) -> object:
    """Import backend ``name``, validate its config and create it; a clear error says why it could not."""
    entry_point = available.get(name)
    if entry_point is None:
        distribution = KNOWN_DISTRIBUTIONS.get(name)
        hint = f"pip install {distribution}" if distribution else (
            f"install the distribution that provides the entry point {name!r} in the group {ENTRY_POINT_GROUP!r}"
        )
        raise BackendError(
            f"backend {name!r} is enabled in {context.config_file} but not installed: {hint} (or disable it there)"
        )
    return _create_backend(name, entry_point, raw_config, context)


def register_backend(manager: pluggy.PluginManager, name: str, plugin: object) -> None:
    """Register a created backend under its entry point name; a hook with wrong arguments is named."""
    try:
        manager.register(plugin, name=name)
    except pluggy.PluginValidationError as problem:
        raise BackendError(f"backend {name!r} does not fit the faber hooks: {problem}") from None


def check_hooks(manager: pluggy.PluginManager) -> None:
    """Fail loudly when a registered backend implements a hook that does not exist (a typo)."""
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as problem:
        name = manager.get_name(problem.plugin) or repr(problem.plugin)
        raise BackendError(f"backend {name!r} implements an unknown hook: {problem}") from None


def register_builtins(manager: pluggy.PluginManager) -> list[BackendInfo]:
    """Register the host's own plugins, datasette style: ordinary hook implementations marked
    ``trylast`` so an installed backend that implements the same hook is asked first. Today: the
    ``shell`` step executor."""
    from ..runner.shell import ShellExecutor

    plugin = ShellExecutor()
    manager.register(plugin, name=ShellExecutor.name)
    return [BackendInfo(name=ShellExecutor.name, known_as="faber-host", enabled=True, installed=True,
                        hooks=_hook_names(manager, plugin))]


def describe_backend(name: str, entry_point: EntryPoint) -> BackendInfo:
    """Import a backend without creating it, to show which hooks it implements."""
    info = _info(name, entry_point, enabled=False, hooks=[])
    try:
        factory = entry_point.load()
    except Exception as problem:  # any import failure of third-party code is reported, not raised
        info.error = f"failed to import: {type(problem).__name__}: {problem}"
        return info
    info.hooks = implemented_hooks(factory)
    return info


def implemented_hooks(factory: object) -> list[str]:
    """The names of the faber hooks a backend class (or module) implements."""
    return sorted(
        attribute for attribute in dir(factory)
        if attribute.startswith("faber_") and hasattr(getattr(factory, attribute), f"{PROJECT_NAME}_impl")
    )


def _create_backend(name: str, entry_point: EntryPoint, raw_config: dict[str, Any], context: BackendContext) -> object:
    try:
        factory = entry_point.load()
    except Exception as problem:  # a broken third-party backend must be named, whatever it raised
        raise BackendError(
            f"backend {name!r} ({_distribution_label(entry_point)}) failed to import: "
            f"{type(problem).__name__}: {problem}; reinstall it or disable it in gateway.json"
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
        where = _distribution_label(entry_point)
        raise BackendError(f"backend {name!r} ({where}) failed to start: {type(problem).__name__}: {problem}") from None


def _hook_names(manager: pluggy.PluginManager, plugin: object) -> list[str]:
    return sorted(caller.name for caller in manager.get_hookcallers(plugin) or [])


def _info(name: str, entry_point: EntryPoint, *, enabled: bool, hooks: list[str]) -> BackendInfo:
    return BackendInfo(name=name, enabled=enabled, installed=True, hooks=hooks, entry_point=entry_point.value,
                       dist=entry_point.dist)


def _not_installed(name: str, enabled: bool) -> BackendInfo:
    distribution = KNOWN_DISTRIBUTIONS.get(name)
    hint = f"pip install {distribution}" if distribution else "install the distribution that provides it"
    return BackendInfo(name=name, known_as=distribution, enabled=enabled, installed=False,
                       error=f"enabled but not installed: {hint}" if enabled else None)


def _version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def _distribution_label(entry_point: EntryPoint) -> str:
    dist = entry_point.dist
    return f"{dist.name} {dist.version}" if dist else entry_point.value

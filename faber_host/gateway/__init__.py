"""The Gateway: a project's enabled backends behind one plugin manager.

``Gateway.open(project)`` reads gateway.json, loads the enabled backends and checks them. ``ask`` calls
a firstresult hook and insists on an answer; ``broadcast`` calls every implementation of a broadcast
hook on its own, so one failing backend is reported as a warning and never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import EntryPoint
from typing import Any

import pluggy
from faber_hookspecs.errors import BackendError, FaberError
from faber_hookspecs.records import BackendContext

from ..project import Project
from ..safety.policy import InputPolicy
from .config import GatewayConfig, load_gateway_config
from .plugins import BackendInfo, make_plugin_manager, register_builtins


@dataclass(frozen=True)
class Lazy:
    """A hook argument worked out only if some implementation takes it (a long run's state model)."""

    value: Callable[[], Any]


@dataclass(frozen=True)
class HookOutcome:
    """One backend's answer to a broadcast hook, or the error it raised."""

    backend: str
    result: Any
    error: str | None


class Gateway:
    """The plugin manager of one project, with the report of every discovered backend."""

    def __init__(
        self, project: Project, config: GatewayConfig, manager: pluggy.PluginManager, backends: list[BackendInfo]
    ) -> None:
        self.project = project
        self.config = config
        self.manager = manager
        self.backends = backends

    @classmethod
    def open(cls, project: Project, available: Mapping[str, EntryPoint] | None = None) -> Gateway:
        """Load gateway.json and every enabled backend. ``available`` replaces entry-point discovery
        (tests use it to plug in a backend that is not installed)."""
        config = load_gateway_config(project.gateway_file, project.environ)
        context = BackendContext(
            root=project.root,
            faber_dir=project.faber_dir,
            config_file=project.gateway_file,
            environ=project.environ,
        )
        manager, backends = make_plugin_manager(config, context, available)
        backends += register_builtins(manager)
        if not manager.hook.faber_store_event.get_hookimpls():
            raise BackendError(
                f"no record store is enabled in {project.gateway_file}: enable local_files "
                '("backends": {"local_files": {"enabled": true}})'
            )
        return cls(project, config, manager, backends)

    @cached_property
    def input_policy(self) -> InputPolicy:
        """The limits and secret redaction every event and run goes through before any hook sees it."""
        return self.config.input_policy(str(self.project.gateway_file))

    @property
    def hook(self) -> Any:
        return self.manager.hook

    def ask(self, hook_name: str, **kwargs: Any) -> Any:
        """Call a firstresult hook; a None answer means no backend can do it, which is an error."""
        answer = getattr(self.manager.hook, hook_name)(**kwargs)
        if answer is None:
            raise BackendError(f"no enabled backend implements {hook_name}")
        return answer

    def has_listeners(self, hook_name: str) -> bool:
        """True when some backend implements the (broadcast) hook."""
        return bool(getattr(self.manager.hook, hook_name).get_hookimpls())

    def collect_outcomes(self, hook_name: str, **kwargs: Any) -> list[HookOutcome]:
        """Call every implementation of a broadcast hook in isolation and keep each one's answer or
        error (None answers are dropped): for hooks whose results matter, like receipts."""
        outcomes = []
        for implementation in getattr(self.manager.hook, hook_name).get_hookimpls():
            try:
                result = implementation.function(**{name: kwargs[name] for name in implementation.argnames})
            except FaberError as problem:
                outcomes.append(HookOutcome(implementation.plugin_name, None, str(problem)))
            except Exception as problem:  # a backend's own bug is reported as its failure, by name
                outcomes.append(HookOutcome(implementation.plugin_name, None, f"{type(problem).__name__}: {problem}"))
            else:
                if result is not None:
                    outcomes.append(HookOutcome(implementation.plugin_name, result, None))
        return outcomes

    def broadcast(self, hook_name: str, *, besides: Collection[str] = (), **kwargs: Any) -> list[str]:
        """Call every implementation of a broadcast hook (but ``besides``') in isolation; return a
        warning per failure."""
        _, failures = self.collect(hook_name, besides=besides, **kwargs)
        return [warning for _, warning in failures]

    def collect(
        self, hook_name: str, *, only: str | None = None, besides: Collection[str] = (), **kwargs: Any
    ) -> tuple[list[tuple[str, Any]], list[tuple[str, str]]]:
        """Call every implementation of a broadcast hook (or only backend ``only``'s, or all but
        ``besides``') in isolation; a ``Lazy`` argument is worked out for the first that takes it.

        Returns each backend's answer that is not None, as ``(backend name, answer)`` in call order,
        and ``(backend name, warning)`` for each backend that failed."""
        answers: list[tuple[str, Any]] = []
        failures: list[tuple[str, str]] = []
        for implementation in getattr(self.manager.hook, hook_name).get_hookimpls():
            name = implementation.plugin_name
            if (only is not None and name != only) or name in besides:
                continue
            try:
                for arg in implementation.argnames:
                    if isinstance(kwargs[arg], Lazy):
                        kwargs[arg] = kwargs[arg].value()
                answer = implementation.function(**{arg: kwargs[arg] for arg in implementation.argnames})
            except FaberError as problem:
                failures.append((name, f"backend {name!r} ({hook_name}): {problem}"))
            except Exception as problem:  # a sink's own bug must not fail the caller's emit
                failures.append((name, f"backend {name!r} ({hook_name}) failed: {type(problem).__name__}: {problem}"))
            else:
                if answer is not None:
                    answers.append((name, answer))
        return answers, failures

    def enabled(self) -> list[str]:
        """The backends enabled in gateway.json, in its order (the host's built-ins aside)."""
        return self.config.enabled_backends()

__all__ = ["BackendInfo", "Gateway", "GatewayConfig", "HookOutcome", "Lazy"]

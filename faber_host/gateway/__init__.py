"""The Gateway: a project's enabled backends behind one plugin manager, and its record store.

``Gateway.open(project)`` reads gateway.json, loads the enabled backends, checks them and asks for
the record store (``gateway.store``, exactly one). Every other hook has a typed method here, so no
hook is called by a string name anywhere else. Broadcast hooks call each implementation on its own:
one failing backend is reported as a warning (or an outcome) and never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy
from faber_hookspecs.errors import BackendError, ConfigError, FaberError, ResumeVetoed
from faber_hookspecs.records import BackendContext
from faber_hookspecs.store import RecordStore

from ..project import Project
from ..safety.policy import InputPolicy
from .config import GatewayConfig, load_gateway_config
from .logging_off import OffStore, logging_disabled
from .plugins import BackendInfo, load_backends

if TYPE_CHECKING:  # (the archive models are not imported by an emit)
    from faber_hookspecs.archive import ArchiveBundle, ArchivePolicy, ArchiveQuery, ProgressCallback, RunRef
    from faber_hookspecs.events import Event
    from faber_hookspecs.execution import StepContext, StepResult
    from faber_hookspecs.reports import FlushReport, HealthCheck
    from faber_hookspecs.resume import ResumeContext
    from faber_hookspecs.runs import RunRecord
    from faber_hookspecs.state import RunState
    from faber_hookspecs.workflow import ResolvedStep


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
    """The plugin manager of one project, its record store, and the report of every backend."""

    def __init__(
        self,
        project: Project,
        config: GatewayConfig,
        manager: pluggy.PluginManager,
        backends: list[BackendInfo],
        failures: Sequence[FaberError] = (),
    ) -> None:
        self.project = project
        self.config = config
        self.manager = manager
        self.backends = backends
        self.failures = list(failures)
        self.store_backend: str
        self.store: RecordStore
        if logging_disabled(config.backends) and not manager.hook.faber_record_store.get_hookimpls():
            self.store_backend, self.store = "", OffStore(project.gateway_file)  # the rollback switch
        else:
            self.store_backend, self.store = find_record_store(manager, project.gateway_file)

    @property
    def warnings(self) -> list[str]:
        """One line per enabled backend that did not load: what needs it fails, everything else works."""
        return [f"backend {info.name!r} is not loaded (what needs it fails): {info.error}"
                for info in self.backends if info.error]

    def check_loaded(self) -> None:
        """Archiving, restoring, listing the archive and cleanup need every enabled backend: the first
        that did not load is their error."""
        if self.failures:
            raise self.failures[0]

    @classmethod
    def open(cls, project: Project, available: Mapping[str, EntryPoint] | None = None) -> Gateway:
        """Load gateway.json and every enabled backend. ``available`` replaces entry-point discovery
        (tests use it to plug in a backend that is not installed)."""
        config = load_gateway_config(project.gateway_file, project.environ)
        loaded = load_backends(config, backend_context(project), available)
        try:
            return cls(project, config, loaded.manager, loaded.report, loaded.failures)
        except FaberError:
            loaded.raise_first_failure()  # the record store did not load: nothing works without it
            raise

    @cached_property
    def input_policy(self) -> InputPolicy:
        """The limits and secret redaction every event and run goes through before any hook sees it."""
        return self.config.input_policy(str(self.project.gateway_file))

    def enabled(self) -> list[str]:
        """The backends enabled in gateway.json, in its order (the host's built-ins aside)."""
        return self.config.enabled_backends()

    # Notifications -----------------------------------------------------------------------------------

    def emit_event(self, event: Event, state: RunState | Lazy) -> list[str]:
        """Tell every sink about a stored event; a warning per sink that failed."""
        return self._warnings("faber_emit_event", event=event, state=state)

    def persist_state(self, run_id: str, state: RunState | Lazy) -> list[str]:
        """Tell every state cache the run's state; a warning per cache that failed."""
        return self._warnings("faber_persist_state", run_id=run_id, state=state)

    def archive_run(self, run: RunRecord, bundle: ArchiveBundle, progress: ProgressCallback) -> list[HookOutcome]:
        """Every archive backend's receipt for ``bundle`` (or the error it raised)."""
        self.check_loaded()
        return self._outcomes("faber_archive_run", run=run, bundle=bundle, progress=progress)

    def archive_policies(self) -> list[ArchivePolicy]:
        """What the archive backends ask for when a run completes (a failing backend asks nothing)."""
        from faber_hookspecs.archive import ArchivePolicy

        self.check_loaded()
        return [o.result for o in self._outcomes("faber_archive_policy") if isinstance(o.result, ArchivePolicy)]

    def list_archived_runs(self, query: ArchiveQuery) -> list[HookOutcome]:
        """Every archive backend's list of archived runs (or the error it raised)."""
        self.check_loaded()
        return self._outcomes("faber_list_archived_runs", query=query)

    def restore_run(self, run_ref: RunRef, destination: Path, progress: ProgressCallback) -> ArchiveBundle | None:
        """The first archive backend that holds the run downloads its bundle; None when none does."""
        self.check_loaded()
        bundle: ArchiveBundle | None = self.manager.hook.faber_restore_run(
            run_ref=run_ref, destination=destination, progress=progress
        )
        return bundle

    def has_archive(self) -> bool:
        """True when some enabled backend archives runs."""
        self.check_loaded()
        return bool(self.manager.hook.faber_archive_run.get_hookimpls())

    def can_restore(self) -> bool:
        """True when some enabled backend restores archived runs."""
        self.check_loaded()
        return bool(self.manager.hook.faber_restore_run.get_hookimpls())

    def can_list_archive(self) -> bool:
        """True when some enabled backend lists archived runs."""
        self.check_loaded()
        return bool(self.manager.hook.faber_list_archived_runs.get_hookimpls())

    def on_resume(self, run: RunRecord, context: ResumeContext) -> None:
        """Ask every backend in turn whether the run may continue; the first refusal (or failure)
        raises, naming the backend."""
        for implementation in self.manager.hook.faber_on_resume.get_hookimpls():
            name = implementation.plugin_name
            try:
                _call(implementation, run=run, context=context)
            except ResumeVetoed as veto:
                raise ResumeVetoed(f"backend {name!r} refused to resume run {_short(run)}: {veto}") from None
            except FaberError as problem:
                raise type(problem)(f"backend {name!r} could not prepare the resume: {problem}") from None
            except Exception as problem:  # a backend's bug must stop the resume, reported by name
                raise ResumeVetoed(
                    f"backend {name!r} failed while preparing the resume: {type(problem).__name__}: {problem}"
                ) from None

    # Extension points and operations ---------------------------------------------------------------

    def execute_step(
        self, step: ResolvedStep, context: StepContext, output: Callable[[str], None]
    ) -> StepResult | None:
        """The first executor that can run ``step`` runs it; None when none can (an agent drives it)."""
        result: StepResult | None = self.manager.hook.faber_execute_step(step=step, context=context, output=output)
        return result

    def check_health(self) -> tuple[list[tuple[str, list[HealthCheck]]], list[tuple[str, str]]]:
        """Each backend's health checks, and a warning per backend whose check raised."""
        return self._collect("faber_check_health")

    def flushers(self) -> list[str]:
        """The backends that hold events back (implement ``faber_flush``)."""
        return [implementation.plugin_name for implementation in self.manager.hook.faber_flush.get_hookimpls()]

    def flush(
        self, run_id: str | None, *, only: str | None = None
    ) -> tuple[list[tuple[str, FlushReport]], list[tuple[str, str]]]:
        """Each backend's (or only backend ``only``'s) flush report, and a warning per failure."""
        return self._collect("faber_flush", only=only, run_id=run_id)

    # Calling broadcast hooks -------------------------------------------------------------------------

    def _warnings(self, hook_name: str, **kwargs: Any) -> list[str]:
        return [warning for _, warning in self._collect(hook_name, **kwargs)[1]]

    def _outcomes(self, hook_name: str, **kwargs: Any) -> list[HookOutcome]:
        answers, failures = self._collect(hook_name, bare=True, **kwargs)
        return [HookOutcome(name, answer, None) for name, answer in answers] + [
            HookOutcome(name, None, error) for name, error in failures
        ]

    def _collect(
        self, hook_name: str, *, only: str | None = None, bare: bool = False, **kwargs: Any
    ) -> tuple[list[tuple[str, Any]], list[tuple[str, str]]]:
        """Call every implementation of a broadcast hook (or only backend ``only``'s) in isolation; a
        ``Lazy`` argument is worked out for the first that takes it.

        Returns each backend's answer that is not None, as ``(backend name, answer)`` in call order,
        and ``(backend name, problem)`` for each backend that failed: the bare problem with ``bare``,
        else a warning that names the backend and the hook."""
        answers: list[tuple[str, Any]] = []
        failures: list[tuple[str, str]] = []
        for implementation in getattr(self.manager.hook, hook_name).get_hookimpls():
            name = implementation.plugin_name
            if only is not None and name != only:
                continue
            try:
                answer = _call(implementation, **kwargs)
            except FaberError as problem:
                failures.append((name, str(problem) if bare else f"backend {name!r} ({hook_name}): {problem}"))
            except Exception as problem:  # a sink's own bug must not fail the caller's emit
                described = f"{type(problem).__name__}: {problem}"
                failures.append((name, described if bare else f"backend {name!r} ({hook_name}) failed: {described}"))
            else:
                if answer is not None:
                    answers.append((name, answer))
        return answers, failures


def backend_context(project: Project) -> BackendContext:
    """What every backend of ``project`` is created with."""
    return BackendContext(
        root=project.root, faber_dir=project.faber_dir, config_file=project.gateway_file, environ=project.environ
    )


def find_record_store(manager: pluggy.PluginManager, config_file: Path) -> tuple[str, RecordStore]:
    """The one record store the enabled backends offer, with the backend's name; none, or more than
    one, is a config error."""
    offers = [
        (implementation.plugin_name, _call(implementation))
        for implementation in manager.hook.faber_record_store.get_hookimpls()
    ]
    stores = [(name, store) for name, store in offers if store is not None]
    if not stores:
        raise BackendError(
            f"no record store is enabled in {config_file}: enable local_files "
            '("backends": {"local_files": {"enabled": true}})'
        )
    if len(stores) > 1:
        names = ", ".join(sorted(name for name, _ in stores))
        raise ConfigError(f"{config_file} enables more than one record store ({names}): enable exactly one")
    name, store = stores[0]
    if not isinstance(store, RecordStore):
        raise BackendError(f"backend {name!r} offered a record store that lacks the RecordStore methods")
    return name, store


def _call(implementation: Any, **kwargs: Any) -> Any:
    """Call one hook implementation with the arguments it takes (pluggy passes only those); a
    ``Lazy`` argument is worked out once, for the first implementation that takes it."""
    for name in implementation.argnames:
        if isinstance(kwargs[name], Lazy):
            kwargs[name] = kwargs[name].value()
    return implementation.function(**{name: kwargs[name] for name in implementation.argnames})


def _short(run: RunRecord) -> str:
    return run.metadata.run_id.rsplit("/", 1)[-1][:8]


__all__ = ["BackendInfo", "Gateway", "GatewayConfig", "HookOutcome", "Lazy", "backend_context"]

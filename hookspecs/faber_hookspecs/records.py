"""Values that cross the hook boundary besides events, state and metadata, without a model among them:
an emit needs these, and not the state and metadata models that ``runs.RunRecord`` is built from."""

from __future__ import annotations

from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path
    from typing import Any

    from .events import Event
    from .state import RunState

POSITION_FIELDS = ("status", "current_phase", "current_step")
"""The fields of a run's state that say where it stands (``StoredEvent.position``)."""


class StoredEvent:
    """The event and the state after it, as ``state`` or built by ``load_state`` on first use (most emits
    never look at it); ``position``: the state's ``POSITION_FIELDS`` when the store has them at hand."""

    def __init__(
        self, event: Event, state: RunState | None = None, *, load_state: Callable[[], RunState] | None = None,
        position: Mapping[str, Any] | None = None,
    ) -> None:
        if (state is None) == (load_state is None):
            raise TypeError("StoredEvent takes a state or a load_state, not both")
        self.event = event
        self._state = state
        self._load_state = load_state
        self._position = position

    @property
    def position(self) -> Mapping[str, Any]:
        """Where the run stands after the event (its status, current phase and step), without
        building the whole state when the store gave them."""
        if self._position is None:
            state = self.state
            self._position = {name: getattr(state, name) for name in POSITION_FIELDS}
        return self._position

    @property
    def state(self) -> RunState:
        """The run's state just after the event."""
        if self._state is None:
            assert self._load_state is not None
            self._state = self._load_state()
        return self._state


@dataclass(frozen=True)
class BackendContext:
    """What the host tells a backend when it creates it: where the project is, and the environment
    to read (tests pass their own instead of the process's)."""

    root: Path
    faber_dir: Path
    config_file: Path
    environ: Mapping[str, str] = field(default_factory=dict)


def __getattr__(name: str) -> object:
    # RunRecord and RunQuery lived here before faber_hookspecs.runs; backends may still import them from here.
    if name in ("RunQuery", "RunRecord"):
        from . import runs

        return getattr(runs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Event factories: drafts to emit, stored events and states to hand to a hook directly."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from faber_hookspecs.events import Event, EventDraft
from faber_hookspecs.reducer import initial_state, reconstruct
from faber_hookspecs.run_id import RunId
from faber_hookspecs.state import RunState
from faber_hookspecs.wire import utc_timestamp

DEFAULT_PHASE_STEPS: dict[str, tuple[str, ...]] = {
    "frame": ("fetch-work", "classify"),
    "architect": ("generate-spec",),
    "build": ("implement", "commit"),
    "evaluate": ("test",),
    "release": ("create-pr",),
}


class EventFactory:
    """Makes valid events. ``draft`` is what a caller emits; ``event`` is what a record store returns
    (ids count up per run); ``state`` folds events with the real reducer; ``workflow`` is a whole,
    realistic run's worth of drafts."""

    def __init__(self, org: str = "acme", project: str = "widget-service") -> None:
        self.org = org
        self.project = project
        self._ids: dict[str, itertools.count[int]] = {}

    def run_id(self) -> str:
        """A new, valid run id."""
        return str(RunId.generate(self.org, self.project))

    def draft(self, type: str, **fields: Any) -> EventDraft:
        """A draft of ``type``; the fields its type requires get defaults (phase ``build``, step
        ``implement``, an error, a duration) unless given."""
        defaults: dict[str, Any] = {}
        if type.startswith(("phase_", "step_")):
            defaults["phase"] = "build"
        if type.startswith("step_"):
            defaults["step"] = "implement"
        if type.endswith("_error"):
            defaults["error"] = {"code": "FAILED", "message": f"{type} for a test", "recoverable": True}
        if type == "step_complete":
            defaults["duration_ms"] = 1000
        return EventDraft.model_validate({"type": type, "source": "faber-testing", **defaults, **fields})

    def event(self, type: str, *, run_id: str | None = None, event_id: int | None = None, **fields: Any) -> Event:
        """A stored event: the draft plus the next id of ``run_id`` (a new run when omitted) and now."""
        run_id = run_id or self.run_id()
        if event_id is None:
            event_id = next(self._ids.setdefault(run_id, itertools.count(1)))
        draft = self.draft(type, **fields)
        return Event.model_validate(
            {**draft.to_json(), "event_id": event_id, "timestamp": utc_timestamp(), "run_id": run_id}
        )

    def events(self, drafts: Iterable[EventDraft], *, run_id: str | None = None) -> list[Event]:
        """Stored events of one run, numbered from its next id, from drafts."""
        run_id = run_id or self.run_id()
        return [self.event(d.type, run_id=run_id, **d.model_dump(exclude_none=True, exclude={"type"})) for d in drafts]

    def state(self, events: Iterable[Event], *, run_id: str | None = None, work_id: str = "123") -> RunState:
        """The run's state after ``events``, computed by the real reducer."""
        listed = list(events)
        run_id = run_id or (listed[0].run_id if listed else self.run_id())
        start = initial_state(run_id, work_id, "default", utc_timestamp())
        return RunState.model_validate(reconstruct(start, (event.to_json() for event in listed)))

    def workflow(
        self, *, fail_at: str | None = None, phases: dict[str, tuple[str, ...]] | None = None
    ) -> list[EventDraft]:
        """Drafts of a whole run: workflow, phases and steps in order, ending in workflow_complete; or,
        with ``fail_at="build:implement"``, stopping there with step_error and workflow_error."""
        drafts = [self.draft("workflow_start", status="started", message="Starting")]
        for phase, steps in (phases or DEFAULT_PHASE_STEPS).items():
            drafts.append(self.draft("phase_start", phase=phase))
            for step in steps:
                drafts.append(self.draft("step_start", phase=phase, step=step))
                if fail_at == f"{phase}:{step}":
                    drafts.append(self.draft("step_error", phase=phase, step=step, status="failed"))
                    drafts.append(self.draft(
                        "workflow_error", phase=phase, status="failed",
                        error={"code": "STEP_FAILED", "message": f"{phase}:{step} failed", "recoverable": True},
                    ))
                    return drafts
                drafts.append(self.draft("step_complete", phase=phase, step=step, duration_ms=100))
            drafts.append(self.draft("phase_complete", phase=phase, duration_ms=200))
        drafts.append(self.draft("workflow_complete", status="completed"))
        return drafts

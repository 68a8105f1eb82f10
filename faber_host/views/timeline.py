"""The timeline of a run: bars on a shared time axis, as a pure function of the run's events.

``build_timeline(events, metadata)`` folds a run's events (the JSON objects of its event files, in id
order) into what a person wants to see at a glance: one bar per execution of the run, per phase and
per step, each made of attempts (a retried or resumed step has several), with their outcomes and
errors; the waits for approvals; markers where the run was resumed, re-run, paused or failed; and
the links to the runs it came from and the runs that came from it. The terminal view
(``faber runs show``) and the HTML report draw the same ``Timeline``, so they cannot disagree.

Times are milliseconds from the run's origin (its first event, or earlier when a step that ends
without a start reports a duration reaching back before it). Bars are measured from the events, and a
step's bar never leaves its phase's; a step's duration is the one it reported (``--duration-ms``) when
it did (``Bar.reported``, which the views mark), so a step may show more time than its phase measured.
Nothing here reads a file or the clock: pass ``now`` to draw a run that is still going up to the present.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from faber_hookspecs.catalogue import PHASES
from faber_hookspecs.reducer import apply_event, initial_state

from .times import epoch_ms as epoch_ms  # re-exported: the views and tests import it from here

Json = dict[str, Any]
Outcome = Literal[
    "completed", "failed", "skipped", "running", "interrupted", "cancelled", "paused",
    "granted", "denied", "waiting", "retrying", "pending",
]
BarKind = Literal["run", "phase", "step", "approval"]
MarkerKind = Literal["resume", "rerun", "pause", "cancel", "error", "approval_request", "approval_decision"]

OUTCOMES: tuple[str, ...] = Outcome.__args__  # type: ignore[attr-defined]
"""Every outcome an attempt or a bar can have, for legends and colour tables."""

_SESSION_ENDS: dict[str, Outcome] = {
    "workflow_complete": "completed",
    "workflow_error": "failed",
    "workflow_cancelled": "cancelled",
    "workflow_paused": "paused",
}
_STATE_TYPES = frozenset(
    {"workflow_start", "workflow_resumed", *_SESSION_ENDS}
)
"""The events that change a run's status in the reducer (the others need not be folded twice)."""
_WORK_TYPES = frozenset(
    {"phase_start", "phase_complete", "phase_error", "step_start", "step_complete", "step_error", "step_retry"}
)
"""Events that show work happening, even before a workflow_start."""
_RECONSTRUCTED_KEY = "reconstructed"
"""Events written by ``faber migrate`` carry ``metadata.reconstructed``: their time may be a guess."""


@dataclass(frozen=True)
class ErrorNote:
    """The error that ended an attempt."""

    code: str | None
    message: str | None
    event_id: int


@dataclass(frozen=True)
class Attempt:
    """One try of a step, one stretch of a phase, one execution of the run, or one approval wait."""

    number: int
    start_ms: int
    end_ms: int
    outcome: Outcome
    session: int
    """Which execution of the run it belongs to: 0 until the first resume, then 1, 2..."""
    start_event_id: int | None = None
    end_event_id: int | None = None
    reported_duration_ms: int | None = None
    """The ``duration_ms`` its closing event reported (what the step itself measured)."""
    error: ErrorNote | None = None
    time_known: bool = True
    """False when the times were reconstructed (``faber migrate``) rather than recorded."""

    @property
    def duration_ms(self) -> int:
        """What the step reported, else the time between its first and last event."""
        if self.reported_duration_ms is not None:
            return self.reported_duration_ms
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class Bar:
    """A row of the timeline: the run, a phase, a step or an approval, with its attempts."""

    kind: BarKind
    label: str
    status: Outcome
    phase: str | None = None
    step: str | None = None
    attempts: tuple[Attempt, ...] = ()
    retries: int = 0
    """How many ``step_retry`` events announced another try (attempts may also come from resumes)."""

    @property
    def start_ms(self) -> int | None:
        return min((a.start_ms for a in self.attempts), default=None)

    @property
    def end_ms(self) -> int | None:
        return max((a.end_ms for a in self.attempts), default=None)

    @property
    def duration_ms(self) -> int | None:
        """The sum of the attempts' durations (a phase that waited between tries is not charged);
        None when there are none, or when some attempt's times were guessed by ``faber migrate``."""
        if not self.attempts or not all(a.time_known for a in self.attempts):
            return None
        if all(a.outcome == "skipped" for a in self.attempts):
            return None  # a skip is a moment, not a stretch of work
        return sum(a.duration_ms for a in self.attempts)

    @property
    def reported(self) -> bool:
        """True when ``duration_ms`` includes a figure a step reported (``--duration-ms``) rather than
        the time measured between its events: the bar is drawn from the events either way."""
        return any(a.reported_duration_ms is not None for a in self.attempts)

    @property
    def error(self) -> ErrorNote | None:
        """The error of the last attempt, when it failed."""
        return self.attempts[-1].error if self.attempts else None


@dataclass(frozen=True)
class Marker:
    """A moment worth pointing at: a resume, a re-run, a pause, a failure, an approval."""

    kind: MarkerKind
    at_ms: int
    event_id: int
    label: str
    phase: str | None = None
    step: str | None = None


@dataclass(frozen=True)
class Lineage:
    """Where the run comes from and what came from it (metadata.json, and its workflow_rerun event)."""

    rerun_of: str | None = None
    parent_run_id: str | None = None
    root_run_id: str | None = None
    child_runs: tuple[str, ...] = ()
    rerun_changes: Json = field(default_factory=dict)
    """The ``metadata`` of the run's workflow_rerun event: what changed from the original."""


@dataclass(frozen=True)
class Timeline:
    """A run drawn on a time axis from 0 (``origin``) to ``end_ms``."""

    run_id: str | None
    status: str
    origin: str | None
    """The UTC time of 0 on the axis, as an event timestamp; None for a run with no events."""
    end_ms: int
    bars: tuple[Bar, ...]
    markers: tuple[Marker, ...]
    lineage: Lineage
    event_count: int
    last_event_id: int
    sessions: int
    """How many times the run executed: 1, plus one per resume."""
    reconstructed: bool = False
    """True when some events were rebuilt by ``faber migrate`` and their times are partly guessed."""

    @property
    def active_ms(self) -> int:
        """Time the run spent executing: its sessions, without the gaps between them."""
        run = next((bar for bar in self.bars if bar.kind == "run"), None)
        return sum(a.end_ms - a.start_ms for a in run.attempts) if run else 0

    def rows(self, kind: BarKind) -> list[Bar]:
        """The bars of one kind, in display order."""
        return [bar for bar in self.bars if bar.kind == kind]

    def bar(self, phase: str, step: str | None = None) -> Bar | None:
        """The bar of a phase, or of a step of it."""
        kind = "phase" if step is None else "step"
        return next((b for b in self.bars if b.kind == kind and b.phase == phase and b.step == step), None)

    def to_json(self) -> Json:
        """The timeline as a JSON object (attempts and bars with their derived start, end, duration)."""
        document = asdict(self)
        document["active_ms"] = self.active_ms
        for bar_json, bar in zip(document["bars"], self.bars, strict=True):
            bar_json.update(start_ms=bar.start_ms, end_ms=bar.end_ms, duration_ms=bar.duration_ms,
                            duration_reported=bar.reported)
            for attempt_json, attempt in zip(bar_json["attempts"], bar.attempts, strict=True):
                attempt_json["duration_ms"] = attempt.duration_ms
        document["lineage"]["child_runs"] = list(self.lineage.child_runs)
        return document


def build_timeline(
    events: Iterable[Mapping[str, Any]],
    metadata: Mapping[str, Any] | None = None,
    *,
    now: str | None = None,
) -> Timeline:
    """The timeline of a run from its events, in id order (and its metadata.json, for lineage and the
    list of phases). ``now`` (a UTC timestamp) extends what is still running up to that time."""
    builder = _TimelineBuilder(metadata or {})
    for event in events:
        builder.add(event)
    return builder.finish(epoch_ms(now) if now else None)


@dataclass(slots=True, eq=False)
class _Open:
    """An attempt that has started and not yet ended, in absolute epoch milliseconds."""

    start: int
    event_id: int | None
    explicit: bool  # opened by its own start event, not inferred from a step's events
    time_known: bool


@dataclass(eq=False)
class _Track:
    """A bar under construction: its closed attempts and the one that is open."""

    closed: list[Attempt] = field(default_factory=list)
    open: _Open | None = None
    retries: int = 0
    retry_announced: bool = False  # a step_retry came after the last attempt ended

    def start(self, at: int, event_id: int | None, session: int, *, explicit: bool = True,
              time_known: bool = True) -> None:
        if self.open is not None:  # started again without ending: the earlier try was cut short
            self.close(self.open.start, None, "interrupted", session)
        self.open = _Open(at, event_id, explicit=explicit, time_known=time_known)
        self.retry_announced = False

    def close(self, at: int, event_id: int | None, outcome: Outcome, session: int, *,
              reported: int | None = None, error: ErrorNote | None = None, time_known: bool = True,
              floor: int | None = None) -> None:
        opened = self.open
        if opened is None:  # an end with no start: placed from its reported duration, never before ``floor``
            start = placed_start(at, reported, time_known)
            opened = _Open(max(start, floor) if floor is not None else start, None, explicit=False,
                           time_known=time_known)
        self.closed.append(
            Attempt(
                number=len(self.closed) + 1,
                start_ms=opened.start,
                end_ms=max(at, opened.start),
                outcome=outcome,
                session=session,
                start_event_id=opened.event_id,
                end_event_id=event_id,
                reported_duration_ms=reported,
                error=error,
                time_known=opened.time_known and time_known,
            )
        )
        self.open = None
        self.retry_announced = False


class _TimelineBuilder:
    def __init__(self, metadata: Mapping[str, Any]) -> None:
        self.metadata = metadata
        self.run_id: str | None = metadata.get("run_id")
        self.run = _Track()
        self.phases: dict[str, _Track] = {}
        self.steps: dict[tuple[str, str], _Track] = {}
        self.approvals: list[tuple[_Track, str | None, str]] = []  # track, phase, label
        self.markers: list[Marker] = []
        self.session = 0
        self.first: int | None = None
        self.last: int | None = None
        self.count = 0
        self.last_event_id = 0
        self.previous: int | None = None  # when the event before the current one happened
        self.rerun_changes: Json = {}
        self.reconstructed = False
        self.ends_reconstructed = False  # the last event was rebuilt: "now" says nothing about the run
        # The run's status is the reducer's, so the timeline never disagrees with state.json.
        self.state = initial_state(self.run_id or "", None, None, None)

    def add(self, event: Mapping[str, Any]) -> None:
        kind = event["type"]
        at = epoch_ms(event["timestamp"])
        event_id = event["event_id"]
        self.run_id = self.run_id or event.get("run_id")
        self.count += 1
        self.last_event_id = event_id
        self.previous = self.last
        self.first = at if self.first is None else min(self.first, at)
        self.last = at if self.last is None else max(self.last, at)
        if kind in _STATE_TYPES:
            apply_event(self.state, dict(event))
        metadata = event.get("metadata") or {}
        # metadata is free-form: only faber migrate's own mark (an object) counts
        rebuilt = metadata.get(_RECONSTRUCTED_KEY)
        rebuilt = rebuilt if isinstance(rebuilt, dict) else None
        time_known = rebuilt is None or rebuilt.get("timing") == "recorded"
        self.reconstructed = self.reconstructed or rebuilt is not None
        self.ends_reconstructed = rebuilt is not None
        phase, step = event.get("phase"), event.get("step")

        if kind in ("workflow_start", "workflow_resumed"):
            self._begin_session(kind, event, at, event_id, metadata)
        elif kind in _SESSION_ENDS:
            self._end_session(kind, event, at, event_id)
        elif not self.run.closed and self.run.open is None and kind in _WORK_TYPES:
            # Work recorded before any workflow_start (reference runs, hand-written logs) still ran.
            self.run.start(at, None, self.session, explicit=False)

        if kind == "workflow_rerun":
            self.rerun_changes = dict(metadata)
            original = metadata.get("rerun_of") or (self.metadata.get("relationships") or {}).get("rerun_of")
            label = f"re-run of {original}" if original else "re-run"
            self.markers.append(Marker("rerun", at, event_id, label))
        elif kind.startswith("phase_") and phase:
            self._phase_event(kind, event, at, event_id, time_known)
        elif kind.startswith("step_") and phase and step:
            self._step_event(kind, event, at, event_id, time_known)
        elif kind == "approval_request":
            track = _Track()
            track.start(at, event_id, self.session, time_known=time_known)
            label = f"approval ({phase})" if phase else event.get("message") or "approval"
            self.approvals.append((track, phase, label))
            asked = event.get("message") or label
            self.markers.append(Marker("approval_request", at, event_id, f"approval requested: {asked}", phase, step))
        elif kind in ("approval_granted", "approval_denied"):
            self._approval_decision(kind, event, at, event_id)

    def _begin_session(self, kind: str, event: Mapping[str, Any], at: int, event_id: int, metadata: Json) -> None:
        opened = self.run.open
        if kind == "workflow_start" and opened is not None and not opened.explicit:
            opened.explicit, opened.event_id = True, event_id  # the start came after the first work
            return
        if self.run.closed or opened is not None:
            if opened is not None:  # started again without a recorded stop: the process died
                self._close_everything(self.previous if self.previous is not None else at, None, "interrupted")
            self.session += 1
        if kind == "workflow_resumed":
            resume_from = metadata.get("resume_from")
            resume_from = resume_from if isinstance(resume_from, dict) else {}
            where_phase = resume_from["phase"] if resume_from.get("phase") in PHASES else event.get("phase")
            where_step = resume_from["step"] if isinstance(resume_from.get("step"), str) else event.get("step")
            where = "/".join(part for part in (where_phase, where_step) if part)
            self.markers.append(
                Marker("resume", at, event_id, f"resumed at {where}" if where else "resumed", where_phase, where_step)
            )
        self.run.start(at, event_id, self.session)

    def _end_session(self, kind: str, event: Mapping[str, Any], at: int, event_id: int) -> None:
        outcome = _SESSION_ENDS[kind]
        error = _error_note(event)
        where = event.get("phase")
        # What was still open ends with the run: the failing phase fails, the rest was cut short.
        for name, track in self.phases.items():
            if track.open is not None:
                if outcome == "failed":
                    phase_outcome: Outcome = "failed" if where in (None, name) else "interrupted"
                elif outcome == "completed":
                    phase_outcome = "completed" if not track.open.explicit else "interrupted"
                else:
                    phase_outcome = outcome
                track.close(at, event_id, phase_outcome, self.session,
                            error=error if phase_outcome == "failed" else None)
        for track in self.steps.values():
            if track.open is not None:
                step_outcome: Outcome = "interrupted" if outcome in ("failed", "completed") else outcome
                track.close(at, event_id, step_outcome, self.session)
        self.run.close(at, event_id, outcome, self.session, error=error)
        if kind == "workflow_error":
            label = "failed" + (f": {_error_label(error)}" if error else "")
            self.markers.append(Marker("error", at, event_id, label, event.get("phase"), event.get("step")))
        elif kind == "workflow_paused":
            self.markers.append(Marker("pause", at, event_id, f"paused: {event.get('message') or 'waiting'}"))
        elif kind == "workflow_cancelled":
            reason = f": {event['message']}" if event.get("message") else ""
            self.markers.append(Marker("cancel", at, event_id, f"cancelled{reason}"))

    def _close_everything(self, at: int, event_id: int | None, outcome: Outcome) -> None:
        for track in [*self.phases.values(), *self.steps.values()]:
            if track.open is not None:
                track.close(max(at, track.open.start), event_id, outcome, self.session)
        if self.run.open is not None:
            self.run.close(max(at, self.run.open.start), event_id, outcome, self.session)

    def _phase_track(self, phase: str) -> _Track:
        return self.phases.setdefault(phase, _Track())

    def _phase_event(self, kind: str, event: Mapping[str, Any], at: int, event_id: int, time_known: bool) -> None:
        # A phase is measured by its events, not by the duration_ms its end reports: a runner that
        # resumed it may count the time the run stood still.
        track = self._phase_track(event["phase"])
        if kind == "phase_start":
            track.start(at, event_id, self.session, time_known=time_known)
        elif kind == "phase_complete":
            track.close(at, event_id, "completed", self.session, time_known=time_known)
        elif kind == "phase_error":
            track.close(at, event_id, "failed", self.session, error=_error_note(event), time_known=time_known)
        elif kind == "phase_skip":
            track.close(at, event_id, "skipped", self.session, time_known=time_known)

    def _step_event(self, kind: str, event: Mapping[str, Any], at: int, event_id: int, time_known: bool) -> None:
        phase = event["phase"]
        phase_track = self._phase_track(phase)
        track = self.steps.setdefault((phase, event["step"]), _Track())
        reported = event.get("duration_ms") if time_known else None  # a rebuilt step's duration is unknown
        if phase_track.open is None and kind != "step_skip":
            # The reducer starts a pending phase with its first step; so does the timeline (where a step
            # that ends without a start is placed from its reported duration, so it stays inside).
            orphan = track.open is None and kind in ("step_complete", "step_error")
            start = placed_start(at, reported, time_known) if orphan else at
            phase_track.start(start, None, self.session, explicit=False, time_known=time_known)
        # A step is drawn inside its phase: a reported duration longer than the phase has run is shown
        # as a figure (marked reported), never as a bar reaching back before the phase began.
        floor = phase_track.open.start if phase_track.open is not None else None
        if kind == "step_start":
            track.start(at, event_id, self.session, time_known=time_known)
        elif kind == "step_complete":
            track.close(at, event_id, "completed", self.session, reported=reported, time_known=time_known,
                        floor=floor)
        elif kind == "step_error":
            track.close(at, event_id, "failed", self.session, reported=reported, error=_error_note(event),
                        time_known=time_known, floor=floor)
        elif kind == "step_retry":
            track.retries += 1
            track.retry_announced = track.open is None
        elif kind == "step_skip":
            track.close(at, event_id, "skipped", self.session, time_known=time_known)

    def _approval_decision(self, kind: str, event: Mapping[str, Any], at: int, event_id: int) -> None:
        # The same matching as the reducer: the pending request of the same phase, else the oldest.
        pending = [(track, phase, label) for track, phase, label in self.approvals if track.open is not None]
        match = next((item for item in pending if item[1] == event.get("phase")), pending[0] if pending else None)
        granted = kind == "approval_granted"
        if match is None:
            track = _Track()
            where = f" ({event['phase']})" if event.get("phase") else ""
            self.approvals.append((track, event.get("phase"), f"approval{where}"))
        else:
            track = match[0]
        track.close(at, event_id, "granted" if granted else "denied", self.session)
        who = f" by {event['user']}" if event.get("user") else ""
        reason = f": {event['message']}" if event.get("message") else ""
        label = f"approval {'granted' if granted else 'denied'}{who}{reason}"
        self.markers.append(Marker("approval_decision", at, event_id, label, event.get("phase"), event.get("step")))

    def _tracks(self) -> list[_Track]:
        return [self.run, *self.phases.values(), *self.steps.values(), *(t for t, _, _ in self.approvals)]

    def finish(self, now: int | None) -> Timeline:
        status = self.state["status"]
        still_running = status == "in_progress"
        end = self.last if self.last is not None else 0
        if still_running and now is not None and self.last is not None and not self.ends_reconstructed:
            end = max(end, now)
        starts = [a.start_ms for track in self._tracks() for a in track.closed]
        starts += [track.open.start for track in self._tracks() if track.open is not None]
        if self.first is not None:
            starts.append(self.first)
        origin = min(starts, default=0)

        def attempts(track: _Track, open_outcome: Outcome) -> tuple[Attempt, ...]:
            closed = [replace(a, start_ms=a.start_ms - origin, end_ms=a.end_ms - origin) for a in track.closed]
            if track.open is not None:
                closed.append(
                    Attempt(
                        number=len(closed) + 1,
                        start_ms=track.open.start - origin,
                        end_ms=max(end, track.open.start) - origin,
                        outcome=open_outcome,
                        session=self.session,
                        start_event_id=track.open.event_id,
                        time_known=track.open.time_known,
                    )
                )
            return tuple(closed)

        open_outcome: Outcome = "running" if still_running else "interrupted"
        bars: list[Bar] = []
        run_attempts = attempts(self.run, open_outcome)
        bars.append(Bar("run", "run", _bar_status(run_attempts, "pending"), attempts=run_attempts))
        for phase in self._phase_order():
            track = self.phases.get(phase, _Track())
            phase_attempts = attempts(track, open_outcome)
            phase_status = _bar_status(phase_attempts, "pending")
            bars.append(Bar("phase", phase, phase_status, phase=phase, attempts=phase_attempts))
            for (step_phase, step), step_track in self.steps.items():
                if step_phase == phase:
                    step_attempts = attempts(step_track, open_outcome)
                    step_status: Outcome = (
                        "retrying" if step_track.retry_announced else _bar_status(step_attempts, "pending")
                    )
                    bars.append(
                        Bar("step", step, step_status, phase=phase, step=step,
                            attempts=step_attempts, retries=step_track.retries)
                    )
            bars += self._approval_bars(phase, attempts)
        bars += self._approval_bars(None, attempts)

        relationships = self.metadata.get("relationships") or {}
        lineage = Lineage(
            rerun_of=relationships.get("rerun_of") or self.rerun_changes.get("rerun_of"),
            parent_run_id=relationships.get("parent_run_id"),
            root_run_id=self.metadata.get("root_run_id"),
            child_runs=tuple(relationships.get("child_runs") or ()),
            rerun_changes=self.rerun_changes,
        )
        markers = tuple(
            sorted((replace(m, at_ms=m.at_ms - origin) for m in self.markers), key=lambda m: (m.at_ms, m.event_id))
        )
        return Timeline(
            run_id=self.run_id,
            status=status,
            origin=_timestamp(origin) if self.first is not None else None,
            end_ms=(end - origin) if self.first is not None else 0,
            bars=tuple(bars),
            markers=markers,
            lineage=lineage,
            event_count=self.count,
            last_event_id=self.last_event_id,
            sessions=self.session + 1 if self.first is not None else 0,
            reconstructed=self.reconstructed,
        )

    def _approval_bars(self, phase: str | None, attempts: Any) -> list[Bar]:
        """The approvals shown under ``phase``; with None, those that belong to no shown phase."""
        shown = self._phase_order()
        bars = []
        for track, approval_phase, label in self.approvals:
            home = approval_phase if approval_phase in shown else None
            if home == phase:
                made = attempts(track, "waiting")
                bars.append(Bar("approval", label, made[-1].outcome, phase=approval_phase, attempts=made))
        return bars

    def _phase_order(self) -> list[str]:
        declared = [p for p in self.metadata.get("phases") or PHASES if p in PHASES]
        extra = [p for p in PHASES if p in self.phases and p not in declared]
        return sorted(set(declared) | set(extra), key=PHASES.index)


def _bar_status(attempts: tuple[Attempt, ...], otherwise: str) -> Outcome:
    return attempts[-1].outcome if attempts else otherwise  # type: ignore[return-value]


def placed_start(at: int, reported: Any, time_known: bool) -> int:
    """Where an attempt that ended at ``at`` without a start began: ``reported`` earlier, if known."""
    return at - reported if isinstance(reported, int) and reported >= 0 and time_known else at


def _error_note(event: Mapping[str, Any]) -> ErrorNote | None:
    error = event.get("error")
    if not error:
        return None
    return ErrorNote(error.get("code"), error.get("message"), event["event_id"])


def _error_label(error: ErrorNote | None) -> str | None:
    if error is None:
        return None
    return ": ".join(part for part in (error.code, error.message) if part) or None


def _timestamp(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"

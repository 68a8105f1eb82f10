"""The run log: the one way events and run metadata enter a run's record.

Every door (the Python API and so the CLI and the MCP tools, ``faber migrate``, a restored archive)
hands what it was given to this module, which screens it (``InputPolicy``: the size and shape limits,
then secret redaction), validates it against the models, and only then lets the record store keep it
and the listeners hear of it. A door adds parsing and presentation, never checks of its own, so what
reaches a run's files has passed ``screen_event`` or ``screen_metadata`` here, whatever its door.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from faber_hookspecs.catalogue import PHASES
from faber_hookspecs.errors import EventsNotLocal, IntegrityError, InvalidEvent, InvalidInput, RunNotFound
from faber_hookspecs.events import Event, EventDraft
from faber_hookspecs.records import StoredEvent
from faber_hookspecs.run_id import RunId
from faber_hookspecs.wire import utc_timestamp
from pydantic import BaseModel, ValidationError

from .gateway import Gateway, Lazy
from .gateway.logging_off import NotRecorded, OffStore
from .project import Project, git_environment
from .run_ref import current_user, resolve_run_ref
from .safety.limits import show_key
from .safety.policy import InputPolicy
from .safety.redaction import Findings

if TYPE_CHECKING:  # an emit builds neither the run, metadata nor state models: imported where used
    from faber_hookspecs.archive import ArchiveBundle
    from faber_hookspecs.metadata import ParameterChange, Relationships, RunMetadata, WorkflowFingerprint
    from faber_hookspecs.runs import RunRecord
    from faber_hookspecs.state import RunState

    from .archive.reader import ArchivedCopy

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class EmitResult:
    """A stored event, the run's state after it (built when first asked for), and warnings from
    backends that failed to follow."""

    stored: StoredEvent = field(repr=False)
    warnings: list[str] = field(default_factory=list)

    @property
    def event(self) -> Event:
        return self.stored.event

    @property
    def state(self) -> RunState:
        return self.stored.state

    @property
    def position(self) -> Mapping[str, Any]:
        """Where the run stands after the event (status, current phase and step), cheaply."""
        return self.stored.position


# Screening: the checks every door shares ------------------------------------------------------------


def screen_draft(policy: InputPolicy, fields: Mapping[str, Any], *, source: str) -> tuple[EventDraft, Findings]:
    """A new event's fields screened and validated; ``user`` and ``source`` default to the current
    user and ``source``. Raises InvalidEvent saying what is wrong."""
    if not isinstance(fields, Mapping):
        raise InvalidEvent("invalid event: it must be a JSON object of event fields")
    screened, findings = policy.screen_event({"user": current_user(), "source": source, **fields})
    return _valid(EventDraft, screened, "event", InvalidEvent), findings


def screen_event(policy: InputPolicy, document: Any) -> tuple[Event, Findings]:
    """An event that happened elsewhere (an imported history, a restored archive): the same screening
    and validation as a new one, its id, time and run kept."""
    screened, findings = policy.screen_event(document)
    return _valid(Event, screened, "event", InvalidEvent), findings


def screen_metadata(policy: InputPolicy, document: Any) -> tuple[RunMetadata, Findings]:
    """A run's metadata (metadata.json) screened and validated; the fields the host writes itself are
    left as they are. Raises InvalidInput saying what is wrong."""
    if not isinstance(document, dict):
        raise InvalidInput("invalid run: its metadata must be a JSON object")
    from faber_hookspecs.metadata import RunMetadata

    screened, findings = policy.screen_metadata(document)
    return _valid(RunMetadata, screened, "run", InvalidInput), findings


def first_error(problem: ValidationError) -> str:
    """The first thing pydantic found wrong, as ``path: message`` on one line."""
    error = problem.errors()[0]
    where = ".".join(show_key(part) for part in error["loc"])
    message = " ".join(str(error["msg"]).removeprefix("Value error, ").split())
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    return f"{where}: {message}" if where else message


def _valid(model: type[Model], document: dict[str, Any], what: str, error: type[InvalidInput]) -> Model:
    try:
        return model.model_validate(document)
    except ValidationError as problem:
        raise error(f"invalid {what}: {first_error(problem)}") from None


# The run log: what the runner, the archive and migration work through -----------------------------


class RunLog:
    """A project's runs through its gateway: naming them, creating them, recording and reading their
    events. The one way in for every writer (the API and so the CLI and MCP, the runner, archive and
    migration): each event and run is screened, validated, stored, then handed to the listeners."""

    def __init__(self, project: Project, gateway: Gateway) -> None:
        self.project = project
        self.gateway = gateway
        self._archived: ArchivedCopy | None = None  # the last bundle read (a command reads one run)
        self.notify: Callable[[str], None] = lambda line: None
        """Told one line when a write restores its run first (the CLI prints it on stderr)."""

    def resolve(self, ref: str) -> RunId:
        """The run ``ref`` names (its full id, its uuid, or a unique uuid prefix): among the store's
        runs, else among the archives' (their uuid index), so that a run archived on another machine
        is found by the same names. A name that matches a run here means that run."""
        try:
            return resolve_run_ref(ref, self.gateway.store.find_runs)
        except RunNotFound:
            from .archive.reader import archive_searchable, find_archived

            if not archive_searchable(self):
                raise
        try:
            return resolve_run_ref(ref, lambda prefix: find_archived(self, prefix))
        except RunNotFound:
            raise RunNotFound(f"no run here or in the archive matches {ref.strip()!r}; `faber runs list` shows "
                              "the runs here, `faber runs list --archived` the archive's") from None

    def run(self, ref: str) -> RunRecord:
        """The run's metadata, state and any defects found while reading it, from the record store."""
        return self.gateway.store.load_run(str(self.resolve(ref)))

    def read(self, ref: str) -> RunRecord:
        """``run``, or for a run only an archive holds, its record read from the bundle (not restored)."""
        run_id = str(self.resolve(ref))
        try:
            return self.gateway.store.load_run(run_id)
        except RunNotFound:
            if not self.gateway.can_restore():
                raise
            return self.archived(run_id).record

    def read_events(self, record: RunRecord, since_id: int = 0) -> Iterator[Event]:
        """The events of a run ``read`` gave, after ``since_id``: from the store, or from the archived
        bundle when they are not here."""
        run_id = record.metadata.run_id
        if record.events_local:
            return self.gateway.store.events(run_id, since_id)
        return self.archived(run_id).events(since_id)

    def archived(self, run_id: str) -> ArchivedCopy:
        """The run's archived bundle, downloaded and checked to be read (kept until the next run's)."""
        copy = self._archived
        if copy is None or copy.bundle.run_id != run_id:
            from .archive.reader import download

            copy = self._archived = download(self, run_id)
        return copy

    def emit(self, run: str, fields: Mapping[str, Any], *, source: str) -> EmitResult:
        """Record one new event in the run ``run`` names: screened and validated (before the run is
        even looked up), stored durably, then handed to the listeners. Their failures become warnings."""
        gateway = self.gateway
        draft, findings = screen_draft(gateway.input_policy, fields, source=source)
        if isinstance(gateway.store, OffStore) and not gateway.store.holds(run):  # the rollback switch
            raise NotRecorded(f"{gateway.store.notice}: the {draft.type} event was not recorded")
        try:
            run_id = str(self.resolve(run))
            stored = gateway.store.append(run_id, draft)
        except (RunNotFound, EventsNotLocal):
            if not self.restore_for_write(run):
                raise
            run_id = str(self.resolve(run))
            stored = gateway.store.append(run_id, draft)
        warnings = [findings.describe("the event")] if findings else []
        state = Lazy(lambda: stored.state)  # built only for a backend that takes it
        warnings += gateway.emit_event(stored.event, state)
        warnings += gateway.persist_state(run_id, state)
        return EmitResult(stored, warnings)

    def restore_for_write(self, run: str) -> bool:
        """Before anything is added to a run whose events are only in an archive (cleaned up here, or
        archived on another machine): restore it, tell ``notify`` in one line, and return True."""
        from .archive.restorer import ensure_events_local

        restored = ensure_events_local(self, run)
        if restored is None:
            return False
        self.notify(f"run {restored.run_id} was restored from the archive first ({restored.event_count} events"
                    f"{', from ' + restored.source_url if restored.source_url else ''})")
        return True

    def new_run(
        self,
        work_id: str,
        *,
        workflow_id: str = "default",
        params: Mapping[str, Any] | None = None,
        org: str | None = None,
        project: str | None = None,
        target: str | None = None,
        autonomy: str | None = None,
        source_type: str | None = None,
        relationships: Relationships | None = None,
        root_run_id: str | None = None,
        phases: list[str] | None = None,
        workflow_fingerprint: WorkflowFingerprint | None = None,
        parameter_changes: Mapping[str, ParameterChange] | None = None,
        run_id: str | None = None,
    ) -> RunMetadata:
        """Create a run with a new id and return its metadata (nothing is executed). ``workflow_id``
        names one of the project's workflows, never a file (checked here unless the caller resolved
        the workflow, as ``workflow_fingerprint`` shows). ``run_id`` gives the run its id instead of a
        new one (``org`` and ``project`` are then ignored). Parameters and descriptions are screened
        like events: a secret passed as a parameter is stored redacted (steps should read secrets from
        their environment, not from parameters)."""
        if not isinstance(work_id, str) or not work_id.strip():
            raise InvalidInput("a work id is required (the issue or ticket the run works on)")
        if autonomy is not None:
            from faber_hookspecs.workflow import autonomy_level

            autonomy = autonomy_level(autonomy)
        if workflow_fingerprint is None:
            from .workflows import WorkflowLibrary

            WorkflowLibrary(self.project).find(workflow_id)
        # A caller that made its own id (the FABER plugin's generate-run-id.sh) keeps it.
        new_id = RunId.parse(run_id) if run_id is not None else RunId.generate(*self.project.identity(org, project))
        # The parameters' shape first: building the metadata walks them, whatever their depth.
        self.gateway.input_policy.limits.check_shape(dict(params or {}), "run parameters")
        branch, commit = git_environment(self.project.root)
        from faber_hookspecs.metadata import Environment, Relationships, RunMetadata

        try:
            metadata = RunMetadata(
                run_id=str(new_id),
                work_id=work_id,
                target=target,
                workflow_id=workflow_id,
                autonomy=autonomy,
                source_type=source_type,
                phases=list(phases or PHASES),
                created_at=utc_timestamp(),
                created_by=current_user(),
                relationships=relationships or Relationships(),
                environment=Environment(
                    hostname=socket.gethostname(),
                    git_branch=branch,
                    git_commit=commit,
                    working_directory=os.getcwd(),
                ),
                params=validate_params(params or {}),
                root_run_id=root_run_id,
                workflow_fingerprint=workflow_fingerprint,
                parameter_changes=dict(parameter_changes or {}),
            )
        except ValidationError as problem:
            raise InvalidInput(f"invalid run: {first_error(problem)}") from None
        screened, _ = screen_metadata(self.gateway.input_policy, metadata.to_json())
        return self.gateway.store.create_run(screened)

    def import_history(self, metadata: dict[str, Any], events: list[dict[str, Any]]) -> tuple[RunRecord, list[str]]:
        """Create a run whose history happened elsewhere (``faber migrate``): its metadata and each
        event through the same screening and validation as a new one (ids and times kept), then stored
        whole. Returns the run and what the screening redacted."""
        checked, events_checked, findings = screen_history(self.gateway.input_policy, metadata, events)
        record = self.gateway.store.import_history(checked, events_checked)
        return record, [findings.describe("the imported run")] if findings else []


PARAM_NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"


def validate_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Run parameters: names usable as environment variable suffixes (FABER_PARAM_<NAME>)."""
    import re

    for name in params:
        if not isinstance(name, str) or not re.fullmatch(PARAM_NAME_PATTERN, name):
            raise InvalidInput(f"invalid parameter name {str(name)[:64]!r}: use letters, digits and '_'")
    return dict(params)


def screen_history(
    policy: InputPolicy, metadata: dict[str, Any], events: list[dict[str, Any]]
) -> tuple[RunMetadata, list[Event], Findings]:
    """``import_history``'s checks without storing anything (``faber migrate --dry-run`` shows them)."""
    checked, findings = screen_metadata(policy, metadata)
    screened = []
    for document in events:
        event, found = screen_event(policy, document)
        screened.append(event)
        for kind, count in found.kinds.items():
            findings.kinds[kind] = findings.kinds.get(kind, 0) + count
    return checked, screened, findings


def check_restored(policy: InputPolicy, bundle: ArchiveBundle) -> None:
    """Refuse an archived bundle holding what no door would have stored: its metadata and each event
    must pass the screening and validation unchanged. A restore brings the files back byte for byte,
    so it cannot redact: a bundle that needs it (written under other settings, or altered) is refused
    whole, before anything is expanded. Raises IntegrityError."""
    from faber_hookspecs.archive import EVENTS_FILE, METADATA_FILE
    from faber_hookspecs.metadata import RunMetadata

    refused = f"the archive of run {bundle.run_id} was refused"
    try:
        with open(bundle.path(METADATA_FILE), "rb") as handle:
            _unchanged(policy.screen_metadata, policy.limits.parse(handle.read(), "run"), RunMetadata, "run",
                       METADATA_FILE)
        with open(bundle.path(EVENTS_FILE), "rb") as handle:
            for number, line in enumerate(handle, start=1):
                _unchanged(policy.screen_event, policy.limits.parse(line, "event"), Event, "event",
                           f"{EVENTS_FILE} line {number}")
    except InvalidInput as problem:
        raise IntegrityError(f"{refused}: {problem}") from None
    except ValueError:
        raise IntegrityError(f"{refused}: it is not the JSON the host writes") from None


def _unchanged(
    screen: Callable[[dict[str, Any]], tuple[dict[str, Any], Findings]], document: Any, model: type[BaseModel],
    what: str, where: str,
) -> None:
    if not isinstance(document, dict):
        raise InvalidInput(f"invalid {what}: {where} is not a JSON object")
    screened, findings = screen(document)
    if screened != document:
        raise InvalidInput(
            f"{where} holds what looks like a secret ({', '.join(sorted(findings.kinds))}), which the host "
            "redacts before storing; a restore cannot change the archived files (restore it in a project "
            "whose gateway.json redaction lets it through)"
        )
    _valid(model, screened, what, InvalidInput)

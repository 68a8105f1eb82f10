"""Reading a run from its archived bundle, without restoring it: a run cleaned up here, or one that
only the archive holds (archived on another machine).

The bundle is downloaded (each file checked against its manifest by the backend, then again here)
into a folder under the project's FABER folder that lives as long as the ``RunLog`` that asked for
it, and is read from there; nothing is added to the record store. A short name that matches no run
here is looked up in the archives' uuid index (``ArchiveQuery.uuid_prefix``).
"""

from __future__ import annotations

import json
import shutil
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from faber_hookspecs.archive import EVENTS_FILE, METADATA_FILE, STATE_FILE, ArchiveBundle, ArchiveQuery, RunRef
from faber_hookspecs.errors import ArchiveError, FaberError, IntegrityError, RunNotFound
from faber_hookspecs.events import Event
from faber_hookspecs.integrity import IntegrityProblem, VerifyReport
from faber_hookspecs.metadata import RunMetadata
from faber_hookspecs.reducer import initial_state_for, reconstruct
from faber_hookspecs.runs import RunRecord
from faber_hookspecs.state import RunState

from .restorer import download_folder  # a killed reader's folder is removed as a killed restore's is
from .verify import verify_bundle

if TYPE_CHECKING:
    from ..runlog import RunLog


def archive_searchable(log: RunLog) -> bool:
    """True when some enabled backend lists archived runs; an archive backend that did not load
    raises, saying so (a name it might have answered cannot be refused as unknown)."""
    try:
        return log.gateway.can_list_archive()
    except FaberError as problem:
        raise ArchiveError(f"the archive could not be searched: {problem}") from None


def find_archived(log: RunLog, uuid_prefix: str) -> list[str]:
    """The ids of the archived runs whose uuid starts with ``uuid_prefix``, from the archives' uuid
    index; an archive that cannot be searched (unreachable, refusing) raises, saying so."""
    found: set[str] = set()
    for outcome in log.gateway.list_archived_runs(ArchiveQuery(uuid_prefix=uuid_prefix)):
        if outcome.error is not None:
            raise ArchiveError(f"the archive of backend {outcome.backend!r} could not be searched: {outcome.error}")
        found.update(run.run_id for run in outcome.result if run.run_id.split("/")[2].startswith(uuid_prefix))
    return sorted(found)


class ArchivedCopy:
    """A run's bundle downloaded for reading: its record and its events."""

    def __init__(self, bundle: ArchiveBundle, local: RunRecord | None) -> None:
        self.bundle = bundle
        self._finalizer = weakref.finalize(self, shutil.rmtree, bundle.directory, True)
        self.record = local if local is not None else RunRecord(  # cleaned up here: its metadata here is newer
            metadata=RunMetadata.model_validate_json(bundle.path(METADATA_FILE).read_bytes()),
            state=RunState.model_validate_json(bundle.path(STATE_FILE).read_bytes()),
            location=bundle.source_url or str(bundle.directory), events_local=False,
        )

    def events(self, since_id: int = 0) -> Iterator[Event]:
        """The bundle's events after ``since_id``, in id order, streamed from events.jsonl."""
        with open(self.bundle.path(EVENTS_FILE), "rb") as handle:
            for line in handle:
                event = Event.model_validate_json(line)
                if event.event_id > since_id:
                    yield event

    def verify(self) -> VerifyReport:
        """``runs verify`` of the bundle: every checksum held (checked on download), every event valid,
        ids 1..n without a gap, and state.json equal to the state rebuilt from the events."""
        problems: list[IntegrityProblem] = []
        count = last = 0
        events: list[dict[str, Any]] = []
        with open(self.bundle.path(EVENTS_FILE), "rb") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    document = json.loads(line)
                    event = Event.model_validate(document)
                except ValueError:
                    problems.append(IntegrityProblem(code="event_invalid", file=EVENTS_FILE,
                                                     message=f"{EVENTS_FILE} line {number} is not a valid event"))
                    continue
                count += 1
                if event.event_id != last + 1:
                    problems.append(IntegrityProblem(code="event_gap", file=EVENTS_FILE,
                                                     message=f"event {event.event_id} follows event {last}"))
                last = event.event_id
                events.append(document)
        stored = json.loads(self.bundle.path(STATE_FILE).read_bytes())
        metadata = json.loads(self.bundle.path(METADATA_FILE).read_bytes())
        rebuilt = reconstruct(initial_state_for(metadata), events)
        if not problems and json.loads(json.dumps(rebuilt)) != stored:
            problems.append(IntegrityProblem(code="state_mismatch", file=STATE_FILE,
                                             message="state.json differs from the state rebuilt from the events"))
        return VerifyReport(run_id=self.bundle.run_id, ok=not problems, events=count, last_event_id=last,
                            problems=problems)


def download(log: RunLog, run_id: str) -> ArchivedCopy:
    """The run's bundle from the archive that holds it, checked, into a folder removed with the copy."""
    try:
        local: RunRecord | None = log.run(run_id)
    except RunNotFound:
        local = None
    recorded = local.metadata.archive if local is not None else None
    if not log.gateway.can_restore():
        raise RunNotFound(f"no run {run_id} here, and no archive is enabled to read it from")
    folder = download_folder(log)
    try:
        bundle = log.gateway.restore_run(RunRef(run_id=run_id, url=recorded.url if recorded else None), folder,
                                         lambda *_: None)
        if bundle is None:
            raise RunNotFound(f"no run {run_id} here or in the archive; `faber runs list --archived` lists the archive")
        verify_bundle(bundle, run_id, None)  # whichever copy the archive holds now, whole
        return ArchivedCopy(bundle, local)
    except (FaberError, ValueError) as problem:
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(problem, ValueError):  # a bundle whose files are not what the host writes
            raise IntegrityError(f"the archive of run {run_id} cannot be read: its files are not what faber "
                                 "writes") from None
        raise

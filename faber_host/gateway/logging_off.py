"""The rollback switch: gateway.json disabling local_files (``"local_files": {"enabled": false}``),
with no other record store enabled, turns event logging off, as the FABER seed's gateway could.

Then nothing is stored anywhere. An emit, from any door (the CLI and so the drop-in scripts, the MCP
tools), succeeds without recording anything and says so in one line (``NotRecorded``, exit code 0).
``faber run`` still executes the workflow: the runs a process creates live in its memory (``OffStore``),
so its own events go through the usual checks and its steps see their state, but nothing is kept and
the run cannot be resumed. Every read of a run not in memory says that logging is off (``LoggingOff``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from faber_hookspecs.errors import FaberError

if TYPE_CHECKING:  # (every gateway imports this module: an emit with logging on builds none of these models)
    from faber_hookspecs.archive import ArchiveBundle, RemovedEvents
    from faber_hookspecs.events import Event, EventDraft
    from faber_hookspecs.integrity import RepairReport, VerifyReport
    from faber_hookspecs.metadata import RunMetadata
    from faber_hookspecs.records import StoredEvent
    from faber_hookspecs.runs import RunQuery, RunRecord
    from faber_hookspecs.state import RunState


class LoggingOff(FaberError):
    """A read (or a write other than an event) while event logging is off."""


class NotRecorded(LoggingOff):
    """An event that was not recorded because event logging is off: a success, said in one line."""

    exit_code = 0


class OffStore:
    """The record store while logging is off: the runs this process created, in memory only."""

    def __init__(self, config_file: Path) -> None:
        self.notice = f"event logging is off ({config_file} disables local_files)"
        self.runs: dict[str, tuple[RunMetadata, list[Event], dict[str, Any]]] = {}

    def holds(self, ref: str) -> bool:
        """Whether ``ref`` names a run of this process (which then runs as usual, in memory)."""
        return any(ref == run_id or run_id.rsplit("/", 1)[-1].startswith(ref) for run_id in self.runs)

    def _off(self, what: str = "no run is recorded, so there is nothing to read") -> NoReturn:
        raise LoggingOff(f"{self.notice}: {what}; enable local_files in gateway.json to record runs again")

    def _run(self, run_id: str) -> tuple[RunMetadata, list[Event], dict[str, Any]]:
        if run_id not in self.runs:
            self._off()
        return self.runs[run_id]

    def create_run(self, metadata: RunMetadata) -> RunMetadata:
        from faber_hookspecs.reducer import initial_state_for

        self.runs[metadata.run_id] = (metadata, [], initial_state_for(metadata.to_json()))
        return metadata

    def append(self, run_id: str, draft: EventDraft) -> StoredEvent:
        from faber_hookspecs.events import Event
        from faber_hookspecs.records import StoredEvent
        from faber_hookspecs.reducer import apply_event
        from faber_hookspecs.state import RunState
        from faber_hookspecs.wire import utc_timestamp

        _, events, state = self._run(run_id)
        event = Event.model_validate({**draft.model_dump(exclude_none=True), "event_id": len(events) + 1,
                                      "timestamp": utc_timestamp(), "run_id": run_id})
        events.append(event)
        apply_event(state, event.to_json())
        return StoredEvent(event, RunState.model_validate(state))

    def update_metadata(self, run_id: str, update: Callable[[RunMetadata], RunMetadata]) -> RunMetadata:
        metadata, events, state = self._run(run_id)
        self.runs[run_id] = (updated := update(metadata), events, state)
        return updated

    def save_state(self, run_id: str, state: RunState) -> None:
        self._run(run_id)

    def load_run(self, run_id: str) -> RunRecord:
        from faber_hookspecs.runs import RunRecord
        from faber_hookspecs.state import RunState

        metadata, _, state = self._run(run_id)
        return RunRecord(metadata=metadata, state=RunState.model_validate(state), location="(memory)",
                         warnings=[f"{self.notice}: this run is not recorded"])

    def events(self, run_id: str, since_id: int = 0) -> Iterator[Event]:
        return iter(self._run(run_id)[1][since_id:])

    def reconstruct(self, run_id: str) -> RunState:
        from faber_hookspecs.state import RunState

        return RunState.model_validate(self._run(run_id)[2])

    def find_runs(self, uuid_prefix: str) -> list[str]:
        found = [run_id for run_id in self.runs if run_id.rsplit("/", 1)[-1].startswith(uuid_prefix)]
        if not found:
            self._off()
        return found

    def list_runs(self, query: RunQuery) -> list[RunState]:
        self._off()

    def import_history(self, metadata: RunMetadata, events: list[Event]) -> RunRecord:
        self._off("nothing can be imported")

    def import_bundle(self, bundle: ArchiveBundle) -> RunRecord:
        self._off("nothing can be restored")

    def consolidate(self, run_id: str) -> ArchiveBundle:
        self._off()

    def cleanup(self, run_id: str, manifest_sha256: str, dry_run: bool) -> RemovedEvents:
        self._off()

    def verify(self, run_id: str) -> VerifyReport:
        self._off()

    def repair(self, run_id: str) -> RepairReport:
        self._off()


def logging_disabled(backends: dict[str, Any]) -> bool:
    """Whether gateway.json's ``backends`` turn logging off: local_files named and disabled."""
    local_files = backends.get("local_files")
    return local_files is not None and not local_files.enabled


__all__ = ["LoggingOff", "NotRecorded", "OffStore", "logging_disabled"]

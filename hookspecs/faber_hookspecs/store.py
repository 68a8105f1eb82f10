"""The record store: the one object that holds runs, their event logs and their state.

A backend offers a store through the hook ``faber_record_store``; exactly one enabled backend may
(``local_files`` by default). The host calls the store directly, through this protocol, rather than
through a hook per operation: a store is one thing with one set of invariants, not fourteen answers
that happen to come from the same plugin.

Every method raises a ``FaberError`` subclass for what a user can cause (``RunNotFound``,
``StorageError``, ``IntegrityError``...), with a message that says what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # annotations only: a protocol's methods are checked by name
    from .archive import ArchiveBundle, RemovedEvents
    from .events import Event, EventDraft
    from .integrity import RepairReport, VerifyReport
    from .metadata import RunMetadata
    from .records import StoredEvent
    from .runs import RunQuery, RunRecord
    from .state import RunState


@runtime_checkable
class RecordStore(Protocol):
    """Runs, their append-only event logs and their state. Run ids are passed as full, valid ids."""

    def create_run(self, metadata: RunMetadata) -> RunMetadata:
        """Create a new, empty run described by ``metadata``: its home (metadata, empty state, id
        counter) appears atomically. Returns the metadata stored."""

    def append(self, run_id: str, draft: EventDraft) -> StoredEvent:
        """Append a screened, validated draft: assign the next ``event_id`` (1, 2, 3... gap-free, under
        a lock that holds across processes and threads, and across machines for a shared store) and
        the ``timestamp``, make the event durable before returning (unless the store's config turns
        syncing off), and return it with the run's state after it (``faber_hookspecs.reducer``). The
        state may be given lazily (``StoredEvent(event, load_state=...)``: a long run's state costs its
        size to build, and most emits never look at it), with ``position`` (status, current phase and
        step) when the store has it at hand."""

    def update_metadata(self, run_id: str, update: Callable[[RunMetadata], RunMetadata]) -> RunMetadata:
        """Replace the run's metadata with ``update(current)``, atomically, under the run's lock."""

    def save_state(self, run_id: str, state: RunState) -> None:
        """Keep ``state``, rebuilt from the events (reconstruct --write, repair), as the run's cached
        state, unless the store already holds a later one (compare ``last_event_id``)."""

    def import_history(self, metadata: RunMetadata, events: list[Event]) -> RunRecord:
        """Create a run whose history happened elsewhere (``faber migrate``): ``events`` exactly as
        given, ids 1..n and timestamps kept. The whole run appears atomically and durably or not at
        all; the store checks ids gap-free from 1, the run id, and timestamps never going back."""

    def import_bundle(self, bundle: ArchiveBundle) -> RunRecord:
        """Expand a verified archive bundle: the event files, byte for byte as they were. Every count
        and digest is checked against the manifest before the run becomes visible (``IntegrityError``
        and nothing changed otherwise). Restores into a run whose events were removed here, or
        creates it; never replaces events that are there."""

    def load_run(self, run_id: str) -> RunRecord:
        """The run's metadata and current state, with warnings about defects found. ``RunNotFound``
        when the store holds no such run."""

    def events(self, run_id: str, since_id: int = 0) -> Iterator[Event]:
        """The run's events with ``event_id > since_id``, in id order, streamed."""

    def list_runs(self, query: RunQuery) -> list[RunState]:
        """The state of each run matching ``query``, newest first."""

    def find_runs(self, uuid_prefix: str) -> list[str]:
        """The ids of every run whose uuid starts with ``uuid_prefix`` (to resolve a short name)."""

    def reconstruct(self, run_id: str) -> RunState:
        """The run's state rebuilt from its events alone; nothing is written."""

    def consolidate(self, run_id: str) -> ArchiveBundle:
        """Write the run's bundle (events.jsonl, state.json, metadata.json, manifest.json) from a
        consistent snapshot, atomically, streaming; the same run gives the same bytes."""

    def cleanup(self, run_id: str, manifest_sha256: str, dry_run: bool) -> RemovedEvents:
        """Remove the run's local event files (state, metadata and manifest stay), only after proving
        under the run's lock that the bundle named by ``manifest_sha256`` gives every one of them back
        byte for byte; otherwise remove nothing and say why. ``dry_run`` checks and reports only."""

    def verify(self, run_id: str) -> VerifyReport:
        """Check the run's stored files and report every problem found; change nothing."""

    def repair(self, run_id: str) -> RepairReport:
        """Bring the run back to a state ``verify`` finds clean without deleting anything (unreadable
        files are set aside, the counter and cached state rebuilt from the events)."""

"""The hook specifications: the whole contract between the faber host and its backends.

A backend is a class named by an entry point in the group ``faber.backends``. The host creates it
with ``Backend(config, context)`` (``config`` validated by the class attribute ``config_model``, a
pydantic model, and ``context`` a ``BackendContext``) and registers the instance under the entry
point's name. It implements any of the hooks below with ``@hookimpl``.

Two kinds of hooks:

* **firstresult** hooks ask one question of whoever answers first (the record store, usually
  local_files). Later-registered plugins are asked first; ``trylast=True`` makes a built-in a fallback.
  Returning ``None`` passes the question on; any other value, even ``[]``, is the answer.
* **broadcast** hooks tell every backend something; the host calls each implementation on its own,
  so one backend's failure is reported and never stops the others or loses a stored event.

Call every hook with keyword arguments only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .archive import (
    ArchiveBundle,
    ArchivedRun,
    ArchivePolicy,
    ArchiveQuery,
    ArchiveReceipt,
    ProgressCallback,
    RemovedEvents,
    RunRef,
)
from .events import Event, EventDraft
from .markers import _hookspec
from .metadata import RunMetadata
from .records import RunQuery, RunRecord, StoredEvent
from .reports import FlushReport, HealthCheck
from .state import RunState

if TYPE_CHECKING:  # only in annotations: every command loads the specs, few run workflows
    from .execution import StepContext, StepResult
    from .integrity import RepairReport, VerifyReport
    from .resume import ResumeContext
    from .workflow import ResolvedStep


class FaberSpec:
    """Hook specifications of the project ``faber``."""

    # Record store: writes ---------------------------------------------------------------------------

    @_hookspec(firstresult=True)
    def faber_create_run(self, metadata: RunMetadata) -> RunMetadata | None:
        """Create a new, empty run described by ``metadata`` (its run id is new and valid).

        Called by ``faber runs new``, ``faber run`` and re-runs. The record store makes the run's
        home (folder, metadata, empty state, id counter) appear atomically and returns the metadata
        it stored. firstresult.
        """

    @_hookspec(firstresult=True)
    def faber_store_event(self, run_id: str, draft: EventDraft) -> StoredEvent | None:
        """Append ``draft`` to the run's log and return the stored event with the run's new state.

        Called once per emitted event, after the host has validated and redacted the draft. The
        record store assigns the next ``event_id`` (1, 2, 3... gap-free, under a lock that holds
        across processes and threads) and the ``timestamp``, makes the event durable before
        returning (unless ``sync_writes`` is off), and updates its state cache with
        ``faber_hookspecs.reducer.apply_event`` in the same critical section. The state may be given
        lazily (``StoredEvent(load_state=...)``); ``keeper`` spares the store ``faber_persist_state``.
        firstresult.
        """

    @_hookspec(firstresult=True)
    def faber_update_metadata(
        self, run_id: str, update: Callable[[RunMetadata], RunMetadata]
    ) -> RunMetadata | None:
        """Replace the run's metadata with ``update(current)``, atomically, under the run's lock.

        Called when a relationship changes (a re-run adds itself to the original's ``child_runs``)
        and when a run is archived. Returns the metadata stored. firstresult.
        """

    @_hookspec(firstresult=True)
    def faber_import_history(self, metadata: RunMetadata, events: list[Event]) -> RunRecord | None:
        """Create a run whose history happened elsewhere: ``metadata`` (a new, valid run id) and its
        ``events`` exactly as given, ids 1..n and timestamps kept, instead of assigned now.

        Called by ``faber migrate``, which rebuilds a run from the old single-file state (a restore
        from an archive goes through ``faber_import_run``, which takes a verified bundle instead). The record
        store validates every event (ids gap-free from 1, the run's id, timestamps never going
        back), makes the whole run appear atomically and durably (complete or not at all), rebuilds
        its state with ``faber_hookspecs.reducer`` and returns the run as ``faber_load_run`` would.
        The events are not passed to ``faber_emit_event``: they are history, not news. firstresult.
        """

    # Fan-out ---------------------------------------------------------------------------------------

    @_hookspec
    def faber_emit_event(self, event: Event, state: RunState) -> None:
        """A new event was stored: forward it (an event stream, a mirror, a notifier).

        Called after ``faber_store_event`` succeeded, with the run's state after the event. The
        event is already durable: a failure here is isolated, reported as a warning, and never
        undoes or loses it. Broadcast.
        """

    @_hookspec
    def faber_persist_state(self, run_id: str, state: RunState) -> None:
        """The run's state is ``state``: keep a copy if you cache state.

        Called after each stored event (not on the store that kept it: ``StoredEvent.keeper``) and
        after ``faber runs reconstruct --write`` or a repair. The model is built only for an
        implementation that takes ``state``.
        Implementations must ignore a state older than the one they hold (compare
        ``last_event_id``), because callers in other processes may arrive out of order. Broadcast.
        """

    # Record store: reads ---------------------------------------------------------------------------

    @_hookspec(firstresult=True)
    def faber_load_run(self, run_id: str) -> RunRecord | None:
        """Return the run's metadata and current state, with warnings about defects found.

        Raise ``RunNotFound`` when the store holds no such run. firstresult.
        """

    @_hookspec(firstresult=True)
    def faber_load_events(self, run_id: str, since_id: int) -> Iterator[Event] | None:
        """Return the run's events with ``event_id > since_id``, in id order, as an iterator.

        Stores should stream: a run may hold millions of events. firstresult.
        """

    @_hookspec(firstresult=True)
    def faber_reconstruct_state(self, run_id: str) -> RunState | None:
        """Rebuild the run's state from its events alone, with ``faber_hookspecs.reducer``.

        Nothing is written; the host passes the result to ``faber_persist_state`` when asked to.
        firstresult.
        """

    @_hookspec(firstresult=True)
    def faber_list_runs(self, query: RunQuery) -> list[RunState] | None:
        """Return the state of each run matching ``query``, newest first. firstresult."""

    @_hookspec(firstresult=True)
    def faber_find_runs(self, uuid_prefix: str) -> list[str] | None:
        """Return the ids of every run whose uuid starts with ``uuid_prefix``, to resolve a short
        run name. An empty list means none. firstresult."""

    # Archive ---------------------------------------------------------------------------------------

    @_hookspec(firstresult=True)
    def faber_consolidate_run(self, run_id: str) -> ArchiveBundle | None:
        """Write the run's bundle (events.jsonl, state.json, metadata.json, manifest.json) and return it.

        Called by ``faber consolidate``, by ``faber archive`` before uploading, and when a run completes
        if an archive backend asks for it. The record store holds the run's lock while it reads, so the
        bundle is a consistent snapshot; it streams (a run may hold millions of events), writes the
        bundle atomically (the old bundle or the new one, never a mix), and gives the same bytes for
        the same run. firstresult.
        """

    @_hookspec
    def faber_archive_run(
        self, run: RunRecord, bundle: ArchiveBundle, progress: ProgressCallback
    ) -> ArchiveReceipt | None:
        """Copy ``bundle`` to an archive, verify every object there (size and checksum), and return a
        receipt saying where it is and whether it is verified.

        Called by ``faber archive`` after ``faber_consolidate_run``. Broadcast: every archive backend
        receives the bundle; the host records the archive in metadata, and removes local event files
        (``--cleanup``), only when every receipt is verified. A backend that fails raises a
        ``FaberError`` naming what failed, or returns a receipt with ``verified=False`` and ``error``;
        calling it again with the same bundle must complete the archive. ``progress`` reports bytes
        sent. Backends that do not archive return None.
        """

    @_hookspec(firstresult=True)
    def faber_restore_run(self, run_ref: RunRef, destination: Path, progress: ProgressCallback) -> ArchiveBundle | None:
        """Download the archived bundle of ``run_ref`` into the empty folder ``destination`` and return it.

        Called by ``faber restore`` and before a run whose events were removed locally is resumed.
        The backend checks each file's size and sha256 against the downloaded manifest and raises
        ``IntegrityError`` on any mismatch; the host checks again and expands the bundle through
        ``faber_import_run``. Return None when this backend does not hold the run. firstresult.
        """

    @_hookspec(firstresult=True)
    def faber_import_run(self, bundle: ArchiveBundle) -> RunRecord | None:
        """Expand a verified bundle into the record store: the event files, byte for byte as they were.

        Called by ``faber restore`` after ``faber_restore_run``. The record store checks every count and
        the digest of the event files against the manifest before the run becomes visible, and raises
        ``IntegrityError`` (nothing changed) on a mismatch. It restores into a run whose events were
        removed locally, or creates the run; it never replaces events that are there. firstresult.
        """

    @_hookspec(firstresult=True)
    def faber_cleanup_run(self, run_id: str, manifest_sha256: str, dry_run: bool) -> RemovedEvents | None:
        """Remove the run's local event files, keeping state.json, metadata.json and the manifest.

        Called by ``faber archive --cleanup`` and ``faber cleanup`` only after every archive backend
        verified the bundle named by ``manifest_sha256``. The record store proves, under the run's lock,
        that its local bundle is that one and that expanding it gives back every local event file byte
        for byte; otherwise it removes nothing and raises a ``FaberError`` saying why. With
        ``dry_run`` it checks and reports without removing. firstresult.
        """

    @_hookspec
    def faber_list_archived_runs(self, query: ArchiveQuery) -> list[ArchivedRun] | None:
        """Return the runs this backend's archive holds that match ``query``, sorted by run id.

        Called by ``faber runs list --archived``. Broadcast: the host merges every backend's list.
        Backends that do not archive return None.
        """

    @_hookspec
    def faber_archive_policy(self) -> ArchivePolicy | None:
        """Say what to do when a run completes: consolidate, archive, clean up local events.

        Called after a ``workflow_complete`` event is stored. Broadcast: the host consolidates if any
        backend asks, archives if any asks, and cleans up only if every archive backend asks.
        """

    # Integrity ---------------------------------------------------------------------------------------

    @_hookspec(firstresult=True)
    def faber_verify_run(self, run_id: str) -> VerifyReport | None:
        """Check the run's stored files and report every problem found; change nothing.

        Called by ``faber runs verify``. The record store checks that event ids run 1..N without gaps
        or duplicates, that every event file is a valid event of this run under its own name, that
        the cached state equals the state rebuilt from the events, that the id counter is one past
        the last id, and that the metadata is valid. firstresult.
        """

    @_hookspec(firstresult=True)
    def faber_repair_run(self, run_id: str) -> RepairReport | None:
        """Bring the run back to a state ``faber_verify_run`` finds clean, without deleting anything.

        Called by ``faber runs repair``. Unreadable files are moved to ``events/.quarantine/`` (an
        event file's id is then taken by a ``log_repaired`` event that says where it went), the
        id counter and the cached state are rebuilt from the events. firstresult.
        """

    # Workflow runs -------------------------------------------------------------------------------------

    @_hookspec(firstresult=True)
    def faber_execute_step(
        self, step: ResolvedStep, context: StepContext, output: Callable[[str], None]
    ) -> StepResult | None:
        """Execute one attempt of ``step`` and say how it ended; return None for a step you cannot run.

        Called by ``faber run`` after it recorded ``step_start``; the host records the result as
        ``step_complete`` or ``step_error`` (and retries, up to ``step.retries`` times). ``output``
        takes each line of output as it comes, for the live display; the host keeps the tail you
        return in ``StepResult.output_tail``. firstresult: executors a backend installs are asked
        first; the host's built-in ``shell`` executor (``trylast``) runs steps that have ``run``. When
        nobody answers, the run pauses for an agent to drive the step.

        Cancellation: on Ctrl-C or SIGTERM the host raises ``faber_hookspecs.execution.RunCancelled``
        (a ``KeyboardInterrupt``) in the thread that called this hook; stop what you started (in
        ``finally``) and let it propagate.
        """

    @_hookspec
    def faber_on_resume(self, run: RunRecord, context: ResumeContext) -> None:
        """A stopped run is about to continue at ``context.resume_from`` under the same run id.

        Called by ``faber run --resume`` and the Python API's ``resume``, before ``workflow_resumed``
        is recorded (not for the first start of a run that never ran): a backend may bring back
        files it archived, or check that it can go on. To refuse, raise
        ``faber_hookspecs.errors.ResumeVetoed`` with the reason; the resume then stops, nothing is
        recorded, and the user sees the reason with the backend's name. Any other exception stops it
        too (reported as that backend's failure). Broadcast: every backend is asked, in turn, until
        one refuses.
        """

    # Operations ------------------------------------------------------------------------------------

    @_hookspec
    def faber_check_health(self) -> list[HealthCheck] | None:
        """Check that this backend can do its job now: its folder is writable, its bucket or
        service answers, its credentials are accepted.

        Called by ``faber doctor``, once per enabled backend, after every backend loaded. Return one
        ``HealthCheck`` per thing checked (``fail`` makes ``faber doctor`` exit non-zero), or None to
        add nothing. Never raise for what you can report: an exception is shown as a failed check.
        Keep it quick (a few seconds at most, with timeouts). Broadcast.
        """

    @_hookspec
    def faber_flush(self, run_id: str | None) -> FlushReport | None:
        """Deliver now what this backend holds back (events a service did not accept yet).

        Called by ``faber backends flush [NAME] [--run RUN]``: ``run_id`` names one run, or None for
        every run. Deliver in event order, honour your retry policy, and return what was delivered and
        what is still pending, or None when you hold nothing back by design. Broadcast.
        """

"""The hook specifications: the whole contract between the faber host and its backends.

A backend is a class named by an entry point in the group ``faber.backends``. The host creates it
with ``Backend(config, context)`` (``config`` validated by the class attribute ``config_model``, a
pydantic model, and ``context`` a ``BackendContext``) and registers the instance under the entry
point's name. It implements any of the hooks below with ``@hookimpl``.

One hook hands the host an object: ``faber_record_store``, the record store (a typed protocol,
``faber_hookspecs.store.RecordStore``). The others are notifications and extension points:

* **firstresult** hooks ask one question of whoever answers first (``faber_restore_run``,
  ``faber_execute_step``). Later-registered plugins are asked first; ``trylast=True`` makes a
  built-in a fallback. Returning ``None`` passes the question on; any other value is the answer.
* **broadcast** hooks tell every backend something; the host calls each implementation on its own,
  so one backend's failure is reported and never stops the others or loses a stored event.

Call every hook with keyword arguments only (the gateway's typed methods do).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .markers import _hookspec

if TYPE_CHECKING:  # only in annotations: every command loads the specs, few use the models
    from .archive import (
        ArchiveBundle,
        ArchivedRun,
        ArchivePolicy,
        ArchiveQuery,
        ArchiveReceipt,
        ProgressCallback,
        RunRef,
    )
    from .events import Event
    from .execution import StepContext, StepResult
    from .reports import FlushReport, HealthCheck
    from .resume import ResumeContext
    from .runs import RunRecord
    from .state import RunState
    from .store import RecordStore
    from .workflow import ResolvedStep


class FaberSpec:
    """Hook specifications of the project ``faber``."""

    @_hookspec
    def faber_record_store(self) -> RecordStore | None:
        """Offer the record store: the object that holds runs, their event logs and their state
        (``faber_hookspecs.store.RecordStore``).

        Called once, when the gateway opens, after every enabled backend is registered. Exactly one
        enabled backend may answer (``local_files`` by default): none, or two, is a configuration
        error naming them. Return None when this backend is not a store.
        """

    @_hookspec
    def faber_emit_event(self, event: Event, state: RunState) -> None:
        """A new event was stored: forward it (an event stream, a mirror, a notifier).

        Called after the record store appended the event, with the run's state after the event. The
        event is already durable: a failure here is isolated, reported as a warning, and never
        undoes or loses it. Broadcast.
        """

    @_hookspec
    def faber_persist_state(self, run_id: str, state: RunState) -> None:
        """The run's state is ``state``: keep a copy if you cache state.

        Called after each stored event and after ``faber runs reconstruct --write`` or a repair (the
        record store keeps its own state: it is not a listener). The model is built only for an
        implementation that takes ``state``. Implementations must ignore a state older than the one they hold (compare
        ``last_event_id``), because callers in other processes may arrive out of order. Broadcast.
        """

    @_hookspec
    def faber_archive_run(
        self, run: RunRecord, bundle: ArchiveBundle, progress: ProgressCallback
    ) -> ArchiveReceipt | None:
        """Copy ``bundle`` to an archive, verify every object there (size and checksum), and return a
        receipt saying where it is and whether it is verified.

        Called by ``faber archive`` after the record store consolidated the run. Broadcast: every archive backend
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
        the record store's ``import_bundle``. Return None when this backend does not hold the run. firstresult.
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

        Called by the step after a run's ``workflow_complete`` (its own step, once the event is stored
        and answered: ``faber run``, ``faber event emit`` and MCP ``emit_event`` say what it did).
        Broadcast: the host consolidates if any backend asks, archives if any asks, and cleans up only
        if every archive backend asks.
        """

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

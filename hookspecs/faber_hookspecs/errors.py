"""Errors a user can hit, shared by the host and every backend: ``exit_code`` 2 for input the user can fix,
1 for a failure at run time. The CLI and the MCP server show them as one clear line."""

from __future__ import annotations


class FaberError(Exception):
    """Base of every error meant for a person: its message says what happened and what to do."""

    exit_code = 1


class InvalidInput(FaberError):
    """The caller gave something invalid: a malformed run id, an unknown event type, bad JSON."""

    exit_code = 2


class InvalidRunId(InvalidInput, ValueError):
    """A run id, org, project or uuid that does not follow the run-id rules."""


class InvalidEvent(InvalidInput):
    """An event that does not satisfy the event schema or its type's rules."""


class ConfigError(InvalidInput):
    """A configuration file (gateway.json, config.json, a workflow) is missing, malformed or invalid."""


class RunNotFound(InvalidInput):
    """No run matches the given id, uuid or prefix."""


class AmbiguousRun(InvalidInput):
    """A uuid prefix matches more than one run."""


class NotResumable(InvalidInput):
    """The run cannot be resumed as asked: it is completed, waits for an approval, or its workflow
    changed (the message says what to do instead)."""


class RunBusy(FaberError):
    """Another process is executing the run right now."""


class ResumeVetoed(FaberError):
    """Raised by a backend's ``faber_on_resume`` to refuse a resume; the message is the reason
    (``raise ResumeVetoed("the run's archive is still uploading; try again in a minute")``)."""


class StorageError(FaberError):
    """Reading or writing the run store failed (disk full, permissions, a corrupt file)."""


class BackendError(FaberError):
    """A backend could not be loaded, configured or reached."""


class RunInProgress(InvalidInput):
    """An operation meant for finished runs (archive) was asked of a run that is still going."""


class RunFinished(InvalidInput):
    """A new event for a run whose status takes no such event (the lifecycle table in
    ``faber_hookspecs.reducer``): exit code 2, as for any input refused before anything is stored."""


class EventsNotLocal(FaberError):
    """The run's events were archived and removed from this machine: restore the run first."""


class ArchiveError(FaberError):
    """Archiving, restoring or listing archived runs failed (the archive could not be reached,
    refused a request, or the run is not in it). Nothing local was removed."""


class IntegrityError(ArchiveError):
    """A checksum, size or count does not match what the manifest promises: the data was damaged or
    tampered with, and is refused."""

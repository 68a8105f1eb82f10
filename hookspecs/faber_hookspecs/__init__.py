"""faber-hookspecs: the contract between the faber host and its backends.

It holds the pluggy markers, the hook specifications, the models that cross the boundary, the
event-type catalogue, the state reducer and the generated JSON Schema files; nothing else. Importing
the package is cheap: the pydantic-based names below load on first use.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing

_EXPORTS = {  # module: the names it serves
    ".markers": ("hookimpl", "PROJECT_NAME", "ENTRY_POINT_GROUP"),
    ".specs": ("FaberSpec",),
    ".events": ("Event", "EventDraft", "EventError", "Artifact"),
    ".state": ("RunState",),
    ".metadata": ("RunMetadata", "Relationships", "Environment", "WorkflowFingerprint", "ParameterChange"),
    ".records": ("StoredEvent", "BackendContext"),
    ".runs": ("RunRecord", "RunQuery"),
    ".run_id": ("RunId",),
    ".reports": ("HealthCheck", "FlushReport"),
    ".catalogue": ("PHASES", "EVENT_TYPES"),
    ".archive": (
        "ArchiveBundle", "ArchiveManifest", "ArchiveReceipt", "ArchiveRecord", "ArchivedRun", "ArchivePolicy",
        "ArchiveQuery", "RemovedEvents", "RunRef",
    ),
    ".workflow": ("WorkflowDefinition", "ResolvedWorkflow", "ResolvedPhase", "ResolvedStep"),
    ".execution": ("StepContext", "StepResult"),
    ".resume": ("ResumeContext", "ResumeFrom", "NextStep"),
    ".integrity": ("VerifyReport", "RepairReport", "IntegrityProblem"),
}
_LAZY = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # the names __getattr__ serves, re-exported for type checkers
    from typing import Any

    from .archive import ArchiveBundle as ArchiveBundle
    from .archive import ArchivedRun as ArchivedRun
    from .archive import ArchiveManifest as ArchiveManifest
    from .archive import ArchivePolicy as ArchivePolicy
    from .archive import ArchiveQuery as ArchiveQuery
    from .archive import ArchiveReceipt as ArchiveReceipt
    from .archive import ArchiveRecord as ArchiveRecord
    from .archive import RemovedEvents as RemovedEvents
    from .archive import RunRef as RunRef
    from .catalogue import EVENT_TYPES as EVENT_TYPES
    from .catalogue import PHASES as PHASES
    from .events import Artifact as Artifact
    from .events import Event as Event
    from .events import EventDraft as EventDraft
    from .events import EventError as EventError
    from .execution import StepContext as StepContext
    from .execution import StepResult as StepResult
    from .integrity import IntegrityProblem as IntegrityProblem
    from .integrity import RepairReport as RepairReport
    from .integrity import VerifyReport as VerifyReport
    from .markers import ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
    from .markers import PROJECT_NAME as PROJECT_NAME
    from .markers import hookimpl as hookimpl
    from .metadata import Environment as Environment
    from .metadata import ParameterChange as ParameterChange
    from .metadata import Relationships as Relationships
    from .metadata import RunMetadata as RunMetadata
    from .metadata import WorkflowFingerprint as WorkflowFingerprint
    from .records import BackendContext as BackendContext
    from .records import StoredEvent as StoredEvent
    from .reports import FlushReport as FlushReport
    from .reports import HealthCheck as HealthCheck
    from .resume import NextStep as NextStep
    from .resume import ResumeContext as ResumeContext
    from .resume import ResumeFrom as ResumeFrom
    from .run_id import RunId as RunId
    from .runs import RunQuery as RunQuery
    from .runs import RunRecord as RunRecord
    from .specs import FaberSpec as FaberSpec
    from .state import RunState as RunState
    from .workflow import ResolvedPhase as ResolvedPhase
    from .workflow import ResolvedStep as ResolvedStep
    from .workflow import ResolvedWorkflow as ResolvedWorkflow
    from .workflow import WorkflowDefinition as WorkflowDefinition


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'faber_hookspecs' has no attribute {name!r}")
    value = getattr(__import__(__name__ + module, fromlist=[name]), name)
    globals()[name] = value
    return value

"""faber-hookspecs: the contract between the faber host and its backends.

It holds the pluggy markers, the hook specifications, the models that cross the boundary, the
event-type catalogue, the state reducer and the generated JSON Schema files; nothing else. Importing
the package is cheap: the pydantic-based names below load on first use, so the CLI's one-shot emit
path can use the catalogue, the reducer and the validator without paying for pydantic.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_LAZY = {
    "hookimpl": ".markers",
    "PROJECT_NAME": ".markers",
    "ENTRY_POINT_GROUP": ".markers",
    "FaberSpec": ".specs",
    "Event": ".events",
    "EventDraft": ".events",
    "EventError": ".events",
    "Artifact": ".events",
    "RunState": ".state",
    "RunMetadata": ".metadata",
    "Relationships": ".metadata",
    "Environment": ".metadata",
    "StoredEvent": ".records",
    "RunRecord": ".records",
    "RunQuery": ".records",
    "BackendContext": ".records",
    "RunId": ".run_id",
    "PHASES": ".catalogue",
    "EVENT_TYPES": ".catalogue",
    "WorkflowDefinition": ".workflow",
    "ResolvedWorkflow": ".workflow",
    "ResolvedPhase": ".workflow",
    "ResolvedStep": ".workflow",
    "WorkflowFingerprint": ".metadata",
    "StepContext": ".execution",
    "StepResult": ".execution",
    "ResumeContext": ".resume",
    "ResumeFrom": ".resume",
    "NextStep": ".resume",
    "VerifyReport": ".integrity",
    "RepairReport": ".integrity",
    "IntegrityProblem": ".integrity",
    "ParameterChange": ".metadata",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # the names __getattr__ serves, for type checkers and editors
    from .catalogue import EVENT_TYPES, PHASES  # noqa: F401
    from .events import Artifact, Event, EventDraft, EventError  # noqa: F401
    from .execution import StepContext, StepResult  # noqa: F401
    from .integrity import IntegrityProblem, RepairReport, VerifyReport  # noqa: F401
    from .markers import ENTRY_POINT_GROUP, PROJECT_NAME, hookimpl  # noqa: F401
    from .metadata import Environment, ParameterChange, Relationships, RunMetadata, WorkflowFingerprint  # noqa: F401
    from .records import BackendContext, RunQuery, RunRecord, StoredEvent  # noqa: F401
    from .resume import NextStep, ResumeContext, ResumeFrom  # noqa: F401
    from .run_id import RunId  # noqa: F401
    from .specs import FaberSpec  # noqa: F401
    from .state import RunState  # noqa: F401
    from .workflow import ResolvedPhase, ResolvedStep, ResolvedWorkflow, WorkflowDefinition  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'faber_hookspecs' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value

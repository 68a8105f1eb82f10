"""Workflow definitions: find them, resolve ``extends``, fill placeholders, fingerprint them.

    library = WorkflowLibrary(project)
    workflow = resolve_workflow(library, "default")          # extends merged, placeholders not filled
    print(fingerprint(workflow).hash)
    runnable = fill_placeholders(workflow, placeholder_values("123", run_id, {"target": "api"}))
"""

from __future__ import annotations

from .fingerprint import describe_changes, fingerprint
from .library import WorkflowLibrary
from .placeholders import check_placeholders, fill_placeholders, placeholder_values
from .resolve import resolve_workflow

__all__ = [
    "WorkflowLibrary",
    "check_placeholders",
    "describe_changes",
    "fill_placeholders",
    "fingerprint",
    "placeholder_values",
    "resolve_workflow",
]

"""Workflow definitions: find them (``WorkflowLibrary``), resolve ``extends`` (``resolve_workflow``),
fill placeholders and fingerprint them."""

from __future__ import annotations

from .fingerprint import describe_changes, fingerprint
from .library import WorkflowLibrary
from .placeholders import check_placeholders, fill_placeholders, placeholder_values
from .resolve import resolve_workflow

__all__ = [
    "WorkflowLibrary", "check_placeholders", "describe_changes", "fill_placeholders", "fingerprint",
    "placeholder_values", "resolve_workflow",
]

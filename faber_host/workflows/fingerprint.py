"""The definition hash of a resolved workflow, and a plain account of how two definitions differ.

A run records its workflow's fingerprint when it is created. Before a resume, the host computes the
fingerprint of the workflow as it is now: a different hash means the definition changed, and
``describe_changes`` says which steps and settings did. The hash covers what executes (commands,
prompts, arguments, retries, timeouts, order, enabled phases, approvals, autonomy), not names or
descriptions, and is computed before placeholders are filled.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from faber_hookspecs.workflow import ResolvedWorkflow, WorkflowFingerprint

_STEP_FIELDS = ("run", "command", "prompt", "skill", "arguments", "retries", "timeout")


def fingerprint(workflow: ResolvedWorkflow, file: str | None = None) -> WorkflowFingerprint:
    """The fingerprint of ``workflow``: a hash per part and one over all of them."""
    parts = {"autonomy": _digest(workflow.autonomy.model_dump(mode="json", exclude={"description", "overrides"}))}
    for phase in workflow.phases:
        parts[f"phase:{phase.name}"] = _digest(
            {"enabled": phase.enabled, "require_approval": phase.require_approval,
             "steps": [step.id for step in phase.steps]}
        )
        for step in phase.steps:
            parts[step.key] = _digest({name: getattr(step, name) for name in _STEP_FIELDS})
    return WorkflowFingerprint(hash=_digest(parts, length=64), file=file or workflow.file, parts=parts,
                               definition=workflow.model_dump(mode="json"))


def describe_changes(old: WorkflowFingerprint, new: WorkflowFingerprint) -> list[str]:
    """How ``new`` differs from ``old``, one sentence per change ([] when the hashes are equal)."""
    if old.hash == new.hash:
        return []
    if not old.parts:
        return [f"the definition hash changed ({old.hash[:12]} → {new.hash[:12]})"]
    changes = []
    for key in sorted(old.parts.keys() | new.parts.keys(), key=_order(old, new)):
        before, after = old.parts.get(key), new.parts.get(key)
        if before == after:
            continue
        if key == "autonomy":
            changes.append("the autonomy settings changed")
        elif key.startswith("phase:"):
            changes.append(f"phase {key[6:]} changed (enabled, approval, or its list or order of steps)")
        elif before is None:
            changes.append(f"step {key} was added")
        elif after is None:
            changes.append(f"step {key} was removed")
        else:
            changes.append(f"step {key} changed")
    return changes or [f"the definition hash changed ({old.hash[:12]} → {new.hash[:12]})"]


def _order(old: WorkflowFingerprint, new: WorkflowFingerprint) -> Any:
    sequence: dict[str, int] = {}
    for key in [*new.parts, *old.parts]:  # the new workflow's order; removed parts after their neighbours
        sequence.setdefault(key, len(sequence))
    return lambda key: sequence[key]


def _digest(value: Any, length: int = 16) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]

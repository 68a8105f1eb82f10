"""The FABER reference gateway's form of four tools, accepted beside faber's own.

An agent written for the reference's Node gateway calls ``emit_event``, ``get_run``, ``list_runs`` and
``consolidate_events`` with ``run_id`` (faber: ``run``), ``get_run`` with ``include_events``, and
``emit_event`` with the undeclared ``source`` it honours; it reads ``status`` ("success" or "error")
and ``operation`` from every answer, plus a few keys per tool. Here such a call is translated to
faber's arguments before the tool runs, and every answer of these four tools carries the reference's
keys beside faber's (faber's win where both name a key: none does today). The translation happens in
the tool-call interceptor, so the tool list (whose size every client pays for) stays as it is.

A failed call in the reference form is still an error result (``isError``), whose text is the
reference's error document: its keys, ``status: "error"`` and ``error`` holding faber's one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faber_hookspecs.archive import EVENTS_FILE
from faber_hookspecs.catalogue import required_fields
from faber_hookspecs.wire import utc_timestamp
from mcp_types import CallToolResult, TextContent

from ..views.times import epoch_ms

if TYPE_CHECKING:
    from ..api import Faber

OPERATIONS = {
    "emit_event": "emit-event",
    "get_run": "get-run",
    "list_runs": "list-runs",
    "consolidate_events": "consolidate-events",
}
"""The tools the reference serves, and the ``operation`` its answers name."""

_ERROR_KEYS: dict[str, dict[str, Any]] = {
    "emit_event": {"event_id": 0, "type": "", "run_id": "", "timestamp": "", "event_path": ""},
    "get_run": {"run_id": "", "metadata": None, "state": None},
    "list_runs": {"runs": [], "total": 0},
    "consolidate_events": {"run_id": "", "events_consolidated": 0, "output_path": "", "size_bytes": 0},
}


@dataclass(frozen=True)
class ReferenceCall:
    """A call of one of the reference's tools: faber's arguments for it and what the answer adds."""

    tool: str
    arguments: dict[str, Any]
    reference_form: bool
    include_events: bool

    def answer(self, document: dict[str, Any], event_path: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
        """``document`` (faber's answer) with the reference's keys added."""
        added: dict[str, Any] = {"status": "success", "operation": OPERATIONS[self.tool]}
        if self.tool == "emit_event":
            added["event_path"] = event_path(document)
        elif self.tool == "get_run":
            added["run_id"] = document["metadata"]["run_id"]
            if self.include_events:
                added["event_count"] = document["state"]["last_event_id"]
        elif self.tool == "consolidate_events":
            # The reference's output is events.jsonl; faber's bundle holds it beside the manifest.
            events = next(entry for entry in document["manifest"]["files"] if entry["name"] == EVENTS_FILE)
            added |= {"events_consolidated": document["manifest"]["event_count"],
                      "output_path": f"{document['directory']}/{EVENTS_FILE}", "size_bytes": events["size"]}
        return {**document, **{key: value for key, value in added.items() if key not in document}}

    def failure(self, result: CallToolResult) -> CallToolResult:
        """An error result of a reference-form call: the reference's error document, faber's line in it."""
        if not self.reference_form:
            return result
        line = "".join(block.text for block in result.content if isinstance(block, TextContent))
        document = {"status": "error", "operation": OPERATIONS[self.tool], **_ERROR_KEYS[self.tool]}
        for key in ("run_id", "type"):
            if key in document and isinstance(self.arguments.get("run" if key == "run_id" else key), str):
                document[key] = self.arguments["run" if key == "run_id" else key]
        document["error"] = line
        return CallToolResult(content=[TextContent(type="text", text=json.dumps(document, indent=2))], is_error=True)


def completed_event(faber: Faber, arguments: dict[str, Any]) -> dict[str, Any]:
    """A reference-form ``emit_event``'s arguments with what faber requires and the reference did not
    (its gateway drops ``duration_ms: 0`` and takes an error event without ``error``), where the
    answer is unambiguous: a ``step_complete``'s duration is measured from its ``step_start`` in the
    log (0 when the log has none); an error event without details gets ``{"code": "unspecified",
    "message": <its message>}``; a fractional duration is rounded. Anything else is left for faber's
    checks to refuse in one line."""
    kind = arguments.get("type")
    needs = required_fields(kind) if isinstance(kind, str) else ()
    filled = dict(arguments)
    if isinstance(filled.get("duration_ms"), float):
        filled["duration_ms"] = round(filled["duration_ms"])
    if "error" in needs and not filled.get("error"):
        filled["error"] = {"code": "unspecified", "message": filled.get("message") or f"{kind} gave no details"}
    if "duration_ms" in needs and filled.get("duration_ms") is None and isinstance(filled.get("run"), str):
        state = faber.run(filled["run"]).state
        phase = next((value for name, value in state.phases.items() if name == filled.get("phase")), None)
        started = next((step.started_at for step in (phase.steps if phase else []) if step.id == filled.get("step")),
                       None)
        filled["duration_ms"] = max(0, epoch_ms(utc_timestamp()) - epoch_ms(started)) if started else 0
    return filled


def reference_call(tool: str, arguments: Mapping[str, Any]) -> ReferenceCall | None:
    """The call as faber's tool takes it, when ``tool`` is one the reference serves; else None.

    The reference form is recognised by its own argument names (``run_id``, ``include_events``; with
    ``run_id``, ``emit_event`` also takes the reference's undeclared ``source``); ``list_runs`` has
    none of its own, so only its answer differs."""
    if tool not in OPERATIONS:
        return None
    translated = dict(arguments)
    reference_form = False
    if "run_id" in translated and "run" not in translated:
        translated["run"] = translated.pop("run_id")
        reference_form = True
    include_events = False
    if tool == "get_run" and "include_events" in translated:
        include_events = translated.pop("include_events") is True
        reference_form = True
    if tool == "emit_event" and reference_form:
        translated.pop("source", None)  # faber names its own doors: an MCP event's source is faber-mcp
    return ReferenceCall(tool, translated, reference_form, include_events)


__all__ = ["OPERATIONS", "ReferenceCall", "completed_event", "reference_call"]

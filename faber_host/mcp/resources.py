"""The resources ``faber mcp`` serves, as JSON documents.

``faber://runs``                                     the newest runs (list_runs pages through them all)
``faber://run/{org}/{project}/{uuid}/state``         a run's state (state.json)
``faber://run/{org}/{project}/{uuid}/metadata``      a run's metadata (metadata.json)
``faber://run/{org}/{project}/{uuid}/events``        a run's events, a page at a time
``faber://runs/{run_id}`` and ``.../events``         the FABER reference's forms: the run (metadata,
                                                     state, warnings) and its events
``faber://runs/list``, ``faber://run/{run}/state``   the seed's forms: the runs, and a run named by its
and ``faber://run/{run}/events``                     uuid or a prefix of it

The runs and the run by id also carry the reference's keys (``status``, ``operation``, ``total``,
``event_count``: see ``reference``).

Event pages take ``?since_id=N&limit=M`` (also ``type`` and ``phase``); the document's
``next_since_id`` says where the next page starts. A run may be named by its uuid or a unique prefix
of it wherever its uuid goes. A failed read answers a JSON-RPC error with the CLI's message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from faber_hookspecs.errors import InvalidInput
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError

from ..api import Faber
from .errors import resource_failure
from .paging import page_of_events, page_of_runs
from .reference import reference_call
from .results import EventPage, RunList, RunSummary
from .tools import EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX, Blocking

JSON = "application/json"
RUNS_RESOURCE_PAGE = 200
"""How many runs ``faber://runs`` shows: the newest; ``next_cursor`` continues with list_runs."""


def register_resources(server: MCPServer, faber: Faber, blocking: Blocking) -> None:
    """Add every resource and resource template to ``server``."""

    async def read(uri: str, produce: Callable[[], Any]) -> str:
        try:
            document = await blocking(produce)
        except MCPError:
            raise
        except Exception as problem:  # every failure becomes an error answer; the server goes on
            raise resource_failure(uri, problem) from None
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"))

    def events_page(run: str, since_id: str | None, limit: str | None, type: str | None, phase: str | None) -> Any:
        run_id = str(faber.resolve(run))
        size = _integer(limit, "limit", EVENTS_PAGE_DEFAULT, 1, EVENTS_PAGE_MAX)
        events = faber.events(run_id, type=type or None, phase=phase or None,
                              since_id=_integer(since_id, "since_id", 0, 0, None))
        page, next_since_id = page_of_events(events, size)
        return EventPage(run_id=run_id, events=page, next_since_id=next_since_id).model_dump(mode="json")

    def runs_document() -> Any:
        states = faber.list_runs()
        page, next_cursor = page_of_runs(states, RUNS_RESOURCE_PAGE, None)
        summaries = [RunSummary.of(state) for state in page]
        document = RunList(runs=summaries, total=len(states), next_cursor=next_cursor).model_dump(mode="json")
        return _with_reference_keys("list_runs", {}, document)

    runs_help = (f"The {RUNS_RESOURCE_PAGE} newest runs, newest first: id, status, work, phase, step. next_cursor "
                 "continues with the list_runs tool.")

    @server.resource("faber://runs", name="runs", title="Runs", mime_type=JSON, description=runs_help)
    async def runs() -> str:
        return await read("faber://runs", runs_document)

    @server.resource("faber://runs/list", name="runs-list", title="Runs", mime_type=JSON, description=runs_help)
    async def runs_list() -> str:
        return await read("faber://runs/list", runs_document)

    # The reference's forms come first: {+run_id} spans slashes, so `.../events` must be tried before
    # the bare run.
    @server.resource("faber://runs/{+run_id}/events{?since_id,limit,type,phase}", name="run-events-by-id",
                     title="A run's events (by run id)", mime_type=JSON,
                     description="A run's events in id order, a page at a time (?since_id=N&limit=M; "
                                 "next_since_id says where the next page starts).")
    async def run_events_by_id(run_id: str, since_id: str | None = None, limit: str | None = None,
                               type: str | None = None, phase: str | None = None) -> str:
        return await read(f"faber://runs/{run_id}/events",
                          lambda: events_page(run_id, since_id, limit, type, phase))

    @server.resource("faber://runs/{+run_id}", name="run-by-id", title="A run (by run id)", mime_type=JSON,
                     description="A run's metadata, state and any defects found reading it.")
    async def run_by_id(run_id: str) -> str:
        return await read(f"faber://runs/{run_id}", lambda: _with_reference_keys(
            "get_run", {"run_id": run_id, "include_events": True}, faber.run(run_id).model_dump(mode="json")))

    @server.resource("faber://run/{run}/state", name="run-state-by-uuid", title="A run's state (by uuid)",
                     mime_type=JSON, description="As faber://run/{org}/{project}/{uuid}/state, the run named by "
                                                 "its uuid or a unique prefix.")
    async def run_state_by_uuid(run: str) -> str:
        return await read(f"faber://run/{run}/state", lambda: faber.run(run).state.model_dump(mode="json"))

    @server.resource("faber://run/{run}/events{?since_id,limit,type,phase}", name="run-events-by-uuid",
                     title="A run's events (by uuid)", mime_type=JSON,
                     description="As faber://run/{org}/{project}/{uuid}/events, the run named by its uuid or a "
                                 "unique prefix.")
    async def run_events_by_uuid(run: str, since_id: str | None = None, limit: str | None = None,
                                 type: str | None = None, phase: str | None = None) -> str:
        return await read(f"faber://run/{run}/events", lambda: events_page(run, since_id, limit, type, phase))

    @server.resource("faber://run/{org}/{project}/{uuid}/state", name="run-state", title="A run's state",
                     mime_type=JSON,
                     description="The run's state, derived from its events: status, current phase and step, "
                                 "phases and steps, errors, artifacts.")
    async def run_state(org: str, project: str, uuid: str) -> str:
        ref = f"{org}/{project}/{uuid}"
        return await read(f"faber://run/{ref}/state", lambda: faber.run(ref).state.model_dump(mode="json"))

    @server.resource("faber://run/{org}/{project}/{uuid}/metadata", name="run-metadata", title="A run's metadata",
                     mime_type=JSON,
                     description="What the run is: work id, workflow, parameters, lineage, environment.")
    async def run_metadata(org: str, project: str, uuid: str) -> str:
        ref = f"{org}/{project}/{uuid}"
        return await read(f"faber://run/{ref}/metadata", lambda: faber.run(ref).metadata.to_json())

    @server.resource("faber://run/{org}/{project}/{uuid}/events{?since_id,limit,type,phase}", name="run-events",
                     title="A run's events", mime_type=JSON,
                     description="The run's events in id order, a page at a time (?since_id=N&limit=M; "
                                 "next_since_id says where the next page starts).")
    async def run_events(org: str, project: str, uuid: str, since_id: str | None = None, limit: str | None = None,
                         type: str | None = None, phase: str | None = None) -> str:
        ref = f"{org}/{project}/{uuid}"
        return await read(f"faber://run/{ref}/events", lambda: events_page(ref, since_id, limit, type, phase))


def _with_reference_keys(tool: str, arguments: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the keys the reference's resource of the same name answers."""
    call = reference_call(tool, arguments)
    assert call is not None
    return call.answer(document, lambda _: "")


def _integer(value: str | None, name: str, default: int, low: int, high: int | None) -> int:
    """A query parameter that must be a whole number in [low, high]."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, not {value[:40]!r}") from None
    if number < low or (high is not None and number > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidInput(f"{name} must be {bounds}")
    return number

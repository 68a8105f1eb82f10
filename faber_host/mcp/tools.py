"""The tools ``faber mcp`` serves: each is a thin call into ``faber_host.api.Faber``.

A tool's description is its docstring and its input schema comes from its signature, except
``emit_event``, whose schema is the event draft's (``faber_hookspecs.events.EventDraft``) so it can
never disagree with what the record store accepts. Arguments are checked by the API, which raises
the same ``FaberError`` (and so the same message) as the CLI.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from faber_hookspecs.catalogue import AUTONOMY_LEVELS, EVENT_TYPES
from faber_hookspecs.events import EventDraft
from faber_hookspecs.integrity import VerifyReport
from faber_hookspecs.resume import ResumeContext
from faber_hookspecs.runs import RunRecord
from faber_hookspecs.state import RunStatus
from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from ..api import Faber
from ..archive import ArchiveResult, ConsolidateResult, RestoreResult
from ..runner.outcome import RerunResult
from .paging import page_of_events, page_of_runs
from .results import EmittedEvent, EventPage, ReconstructedState, RunList, RunSummary, StartedRun

Blocking = Callable[..., Awaitable[Any]]
"""Runs a blocking API call: inline on the event loop (stdio) or in a worker thread (HTTP)."""

EVENT_SOURCE = "faber-mcp"
"""The ``source`` of every event emitted through the MCP server."""

RUNS_PAGE_DEFAULT, RUNS_PAGE_MAX = 50, 1000
EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX = 1000, 10000

RUN_HELP = "Run id or uuid prefix."
RunRef = Annotated[str, Field(description=RUN_HELP)]

StepRef = Annotated[str | None, Field(description="Continue at this step (phase:step).")]
ForceFlag = Annotated[bool, Field(description="Go on although the workflow changed since the run started.")]

_READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
_ADDITIVE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)


class FaberTools:
    """The tools over one ``Faber`` (opened once when the server starts, shared by every call)."""

    def __init__(self, faber: Faber, blocking: Blocking) -> None:
        self.faber = faber
        self.blocking = blocking

    def definitions(self) -> list[Tool]:
        """Every tool, ready for ``MCPServer(tools=...)``."""
        tools = []
        for name, hints in (
            ("emit_event", _ADDITIVE),
            ("start_run", _ADDITIVE),
            ("get_run", _READ_ONLY),
            ("list_runs", _READ_ONLY),
            ("get_events", _READ_ONLY),
            ("resume_context", _READ_ONLY),
            ("resume_run", _ADDITIVE),
            ("rerun_run", _ADDITIVE),
            ("verify_run", _READ_ONLY),
            ("reconstruct_state", ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                                  idempotent_hint=True, open_world_hint=False)),
            ("consolidate_events", ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                                   idempotent_hint=True, open_world_hint=False)),
            ("archive_run", ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=True)),
            ("restore_run", ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)),
        ):
            method = getattr(self, name)
            # Every listing carries every schema, and clients compile them all: the results' full
            # models (a run's state, metadata...) would repeat the same definitions across tools,
            # so the output schema names the top-level fields and their types only (and the SDK is
            # spared generating the full one at every start).
            tool = Tool.from_function(method, name=name, description=_prose(method.__doc__), annotations=hints,
                                      structured_output=False)
            tool.parameters = closed_schema(emit_event_schema() if name == "emit_event" else compact(tool.parameters))
            answer = get_type_hints(method)["return"]
            tool.fn_metadata.output_model, tool.fn_metadata.output_schema = answer, outline(answer)
            tools.append(tool)
        return tools

    async def emit_event(
        self, run: str, type: str, phase: str | None = None, step: str | None = None, status: str | None = None,
        message: str | None = None, metadata: dict[str, Any] | None = None,
        artifacts: list[dict[str, Any]] | None = None, duration_ms: int | None = None,
        error: dict[str, Any] | None = None, correlation_id: str | None = None, retry_attempt: int | None = None,
        user: str | None = None
    ) -> EmittedEvent:
        """Record an event in a run, answered once durable. Report as it happens: workflow_start;
        phase_start; per step step_start, then step_complete or step_error; phase_complete;
        workflow_complete or workflow_error."""
        result = await self.blocking(
            self.faber.emit, run, type, phase=phase, step=step, status=status, message=message, metadata=metadata,
            artifacts=artifacts, duration_ms=duration_ms, error=error, correlation_id=correlation_id,
            retry_attempt=retry_attempt, user=user, source=EVENT_SOURCE,
        )
        emitted = EmittedEvent.of(result.event, result.position, result.warnings)
        if result.event.type == "workflow_complete":  # archiving: the step after the final event
            done = await self.blocking(self.faber.archive_on_complete, result.event.run_id)
            if done is not None:
                emitted.archive = done.message
                if done.failed:
                    emitted.warnings.append(done.message)
        return emitted

    async def get_events(
        self,
        run: RunRef,
        type: str | None = None,
        phase: str | None = None,
        since_id: Annotated[int, Field(description="Only events after this id.")] = 0,
        limit: Annotated[int, Field(ge=1, le=EVENTS_PAGE_MAX)] = EVENTS_PAGE_DEFAULT,
    ) -> EventPage:
        """A run's events in id order, a page at a time: while next_since_id is not null, pass it
        as since_id."""

        def read() -> EventPage:
            run_id = str(self.faber.resolve(run))
            events, next_since_id = page_of_events(
                self.faber.events(run_id, type=type, phase=phase, since_id=since_id), limit
            )
            return EventPage(run_id=run_id, events=events, next_since_id=next_since_id)

        return await self.blocking(read)  # type: ignore[no-any-return]

    async def start_run(
        self,
        work_id: Annotated[str, Field(description="The issue or ticket the run is for.")],
        workflow_id: Annotated[str, Field(description="A workflow id (workflows/<id>.json or bundled), never a path.")]
        = "default",
        params: Annotated[
            dict[str, Any] | None,
            Field(description="Parameters by name; steps see them as FABER_PARAM_<NAME>."),
        ] = None,
        org: Annotated[str | None, Field(description="Default: the project's.")] = None,
        project: Annotated[str | None, Field(description="Default: the project's.")] = None,
        target: str | None = None,
        autonomy: Annotated[str | None, Field(description=", ".join(AUTONOMY_LEVELS))] = None,
    ) -> StartedRun:
        """Create a run and answer its id; then report its progress with emit_event, from
        workflow_start."""
        metadata = await self.blocking(
            self.faber.new_run, work_id, workflow_id=workflow_id, params=params, org=org, project=project,
            target=target, autonomy=autonomy,
        )
        return StartedRun(run_id=metadata.run_id, metadata=metadata)

    async def get_run(self, run: RunRef) -> RunRecord:
        """A run's metadata (work, workflow, parameters, lineage) and state (status, phases, steps,
        errors)."""
        return await self.blocking(self.faber.run, run)  # type: ignore[no-any-return]

    async def list_runs(
        self,
        status: RunStatus | None = None,
        work_id: str | None = None,
        org: str | None = None,
        project: str | None = None,
        limit: Annotated[int, Field(ge=1, le=RUNS_PAGE_MAX)] = RUNS_PAGE_DEFAULT,
        cursor: str | None = None,
        workflow: str | None = None,
        since: Annotated[str | None, Field(description="Started since: date, time or age (30d)")] = None,
        until: Annotated[str | None, Field(description="Started until: as since")] = None,
    ) -> RunList:
        """Runs, newest first, a page at a time: while next_cursor is not null, call again with it."""

        def read() -> RunList:
            states = self.faber.list_runs(status=status, work_id=work_id, org=org, project=project,
                                          workflow_id=workflow, since=since, until=until)
            page, next_cursor = page_of_runs(states, limit, cursor)
            return RunList(runs=[RunSummary.of(state) for state in page], total=len(states),
                           next_cursor=next_cursor)

        return await self.blocking(read)  # type: ignore[no-any-return]

    async def reconstruct_state(
        self, run: RunRef, write: Annotated[bool, Field(description="Also store the rebuilt state.")] = False
    ) -> ReconstructedState:
        """Rebuild a run's state from its events; with write, store it."""
        state, warnings = await self.blocking(self.faber.reconstruct, run, write=write)
        return ReconstructedState(state=state, written=write, warnings=warnings)

    async def resume_context(self, run: RunRef, step: StepRef = None, force: ForceFlag = False) -> ResumeContext:
        """Whether a run can be resumed (if not, why) and what is next: next_action, next_step.
        Changes nothing."""
        return await self.blocking(self.faber.resume_context, run, step=step, force=force)  # type: ignore[no-any-return]

    async def resume_run(self, run: RunRef, step: StepRef = None, force: ForceFlag = False) -> ResumeContext:
        """Continue a failed, paused or interrupted run: records workflow_resumed, answers as
        resume_context. Run next_step yourself and report it."""
        return await self.blocking(self.faber.resume, run, step=step, force=force)  # type: ignore[no-any-return]

    async def rerun_run(
        self,
        run: RunRef,
        params: Annotated[dict[str, Any] | None, Field(description="Parameters to change.")] = None,
        phases: Annotated[list[str] | None, Field(description="Only these phases (default: the original's).")] = None,
        autonomy: Annotated[str | None, Field(description="A different autonomy level.")] = None,
        work_id: Annotated[str | None, Field(description="A different work item.")] = None,
    ) -> RerunResult:
        """Start a new run of a past run's work with changed parameters. Runs nothing: answers its
        id and context."""
        return await self.blocking(  # type: ignore[no-any-return]
            self.faber.rerun, run, params=params, phases=phases, autonomy=autonomy, work_id=work_id
        )

    async def verify_run(self, run: RunRef) -> VerifyReport:
        """Check a run's files: ids 1..N without gaps, valid events, state matching them."""
        return await self.blocking(self.faber.verify, run)  # type: ignore[no-any-return]

    async def consolidate_events(self, run: RunRef) -> ConsolidateResult:
        """Write a run's bundle into its archive/ folder."""
        return await self.blocking(self.faber.consolidate_events, run)  # type: ignore[no-any-return]

    async def archive_run(
        self,
        run: RunRef,
        cleanup: Annotated[bool, Field(description="Then remove the local event files.")] = False,
        force: Annotated[bool, Field(description="Archive a run that is still in progress.")] = False,
    ) -> ArchiveResult:
        """Archive a finished run (S3), verified before cleanup removes local files."""
        return await self.blocking(self.faber.archive_run, run, cleanup=cleanup, force=force)  # type: ignore[no-any-return]

    async def restore_run(
        self,
        run: RunRef,
        expected_manifest_sha256: Annotated[
            str | None, Field(description="The manifest sha256 to insist on (default: the recorded one).")
        ] = None,
        trust_archive: Annotated[bool, Field(description="Accept an archive this machine has no record of.")] = False,
    ) -> RestoreResult:
        """Bring an archived run back: download, check every checksum, expand its events."""
        return await self.blocking(  # type: ignore[no-any-return]
            self.faber.restore_run, run, expected_manifest_sha256=expected_manifest_sha256,
            trust_archive=trust_archive,
        )


def emit_event_schema() -> dict[str, Any]:
    """The input schema of ``emit_event``: the event draft's own schema (compacted), plus the run,
    minus ``source`` (the server sets it)."""
    draft = compact(EventDraft.model_json_schema())
    properties = {
        "run": {"type": "string", "description": RUN_HELP},
        **{name: value for name, value in draft["properties"].items() if name != "source"},
    }
    properties["type"] = {**properties["type"], "description": _type_help()}
    for name, help_text in _FIELD_HELP.items():
        properties[name] = {**properties[name], "description": help_text}
    return {"type": "object", "properties": properties, "required": ["run", *draft["required"]]}


def closed_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with ``additionalProperties: false``: a misspelt argument is an error, not ignored."""
    return {**schema, "additionalProperties": False}


def compact(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON Schema as a client needs it: the definitions inlined (each is used once
    here), an optional value's ``anyOf [X, null]`` as X (leaving it out is how to say null); dropped
    are pydantic's titles, null defaults, ``additionalProperties: true``, lengths and patterns (the
    server names a bad value in one line), the models' docstrings and the descriptions of nested
    fields (the field's own names them)."""
    definitions = schema.get("$defs", {})

    def walk(node: Any, depth: int) -> Any:
        if isinstance(node, list):
            return [walk(item, depth) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = definitions[node["$ref"].rsplit("/", 1)[-1]]
            return walk({**target, **{k: v for k, v in node.items() if k != "$ref"}}, depth)
        options = node.get("anyOf")
        if isinstance(options, list) and {"type": "null"} in options and node.get("default", ...) is None:
            rest = [option for option in options if option != {"type": "null"}]
            others = {k: v for k, v in node.items() if k not in ("anyOf", "default")}
            return walk({**rest[0], **others} if len(rest) == 1 else {"anyOf": rest, **others}, depth)
        dropped = {"title", "$defs", "maxLength", "minLength", "pattern"}
        if "properties" in node or depth > 1:
            dropped.add("description")
        kept = {key: value for key, value in node.items() if key not in dropped
                and not (key == "default" and value is None) and not (key == "additionalProperties" and value is True)}
        if isinstance(kept.get("properties"), dict):  # names, which may be "title" or "default"
            kept["properties"] = {name: walk(field, depth + 1) for name, field in kept["properties"].items()}
        return {key: value if key == "properties" else walk(value, depth) for key, value in kept.items()}

    return walk(schema, 0)  # type: ignore[no-any-return]


def outline(model: type[BaseModel]) -> dict[str, Any]:
    """The output schema of a tool answering ``model``: each field's JSON types (null among them
    where it may be null) and description; what a field holds below is left to the answer itself."""
    fields = {}
    for name, field in model.model_fields.items():
        kinds = sorted(_json_types(field.annotation))
        fields[field.alias or name] = {
            **({"type": kinds[0] if len(kinds) == 1 else kinds} if kinds else {}),
            **({"description": field.description} if field.description else {}),
        }
    required = [field.alias or name for name, field in model.model_fields.items() if field.is_required()]
    return {"type": "object", "properties": fields, "required": required}


def _json_types(annotation: Any) -> set[str]:
    """The JSON types a value of ``annotation`` dumps to (none: any)."""
    origin, arguments = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _json_types(arguments[0])
    if origin in (Union, UnionType):
        return set().union(*(_json_types(argument) for argument in arguments))
    if origin is Literal:
        return set().union(*(_json_types(type(value)) for value in arguments))
    if annotation is type(None):
        return {"null"}
    kind = origin or annotation
    for python, json_type in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
                              (list | tuple | set | frozenset, "array"), (dict | BaseModel, "object")):
        if isinstance(kind, type) and issubclass(kind, python):
            return {json_type}
    return set()


_FIELD_HELP = {
    "step": "The step id, as in the workflow.",
    "status": "started, completed, failed...",
    "message": "What happened, for a person.",
}


def _prose(docstring: str | None) -> str:
    """A docstring as an agent should read it: paragraphs on one line each, no source indentation."""
    paragraphs = inspect.cleandoc(docstring or "").split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


def _type_help() -> str:
    """What an agent must know about event types: where they come from and what each kind requires."""
    needs: dict[tuple[str, ...], list[str]] = {}
    for entry in EVENT_TYPES.values():
        if entry.requires:
            needs.setdefault(entry.requires, []).append(entry.name)
    rules = "; ".join(f"{', '.join(names)}: {', '.join(fields)}" for fields, names in needs.items())
    return f"A catalogue type or x-<vendor>.<name>. Fields needed: {rules}."


__all__ = ["Blocking", "FaberTools", "emit_event_schema"]

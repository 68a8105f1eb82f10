"""The tools ``faber mcp`` serves: each is a thin call into ``faber_host.api.Faber``.

A tool's description is its docstring and its input schema comes from its signature, except
``emit_event``, whose schema is the event draft's (``faber_hookspecs.events.EventDraft``) so it can
never disagree with what the record store accepts. Arguments are checked by the API, which raises
the same ``FaberError`` (and so the same message) as the CLI.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from faber_hookspecs.catalogue import EVENT_TYPES
from faber_hookspecs.events import EventDraft
from faber_hookspecs.integrity import VerifyReport
from faber_hookspecs.records import RunRecord
from faber_hookspecs.resume import ResumeContext
from faber_hookspecs.state import RunStatus
from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations
from pydantic import Field

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

RUN_HELP = "The run: its id org/project/uuid, its uuid, or the first 8 or more characters of the uuid."
RunRef = Annotated[str, Field(description=RUN_HELP)]

StepRef = Annotated[
    str | None,
    Field(description="Continue at this step, as phase:step (it and the later ones run again)."),
]
ForceFlag = Annotated[
    bool, Field(description="Go on although the workflow definition changed since the run started.")
]

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
            tool = Tool.from_function(method, name=name, description=_prose(method.__doc__), annotations=hints)
            tool.parameters = closed_schema(emit_event_schema() if name == "emit_event" else tool.parameters)
            tools.append(tool)
        return tools

    # Events -----------------------------------------------------------------------------------------

    async def emit_event(
        self,
        run: str,
        type: str,
        phase: str | None = None,
        step: str | None = None,
        status: str | None = None,
        message: str | None = None,
        metadata: dict[str, Any] | None = None,
        artifacts: list[dict[str, Any]] | None = None,
        duration_ms: int | None = None,
        error: dict[str, Any] | None = None,
        correlation_id: str | None = None,
        retry_attempt: int | None = None,
        user: str | None = None,
    ) -> EmittedEvent:
        """Record one event in a run's log; answer with the id and time it was stored under and where the
        run stands after it.

        The answer comes only once the event is durable (on disk and fsynced, unless the project turned
        sync_writes off). Ids are 1, 2, 3... per run without gaps, even while the CLI or other agents
        write the same run. Report progress as it happens: workflow_start; phase_start, then for each
        step step_start and step_complete (with duration_ms) or step_error (with error {code, message});
        phase_complete; workflow_complete or workflow_error. The run's state (get_run) follows from
        its events."""
        fields = {
            "type": type, "phase": phase, "step": step, "status": status, "message": message,
            "metadata": metadata, "artifacts": artifacts, "duration_ms": duration_ms, "error": error,
            "correlation_id": correlation_id, "retry_attempt": retry_attempt, "user": user,
        }
        draft = {key: value for key, value in fields.items() if value is not None}
        result = await self.blocking(self.faber.emit_draft, run, draft, source=EVENT_SOURCE)
        return EmittedEvent.of(result.event, result.position, result.warnings)

    async def get_events(
        self,
        run: RunRef,
        type: Annotated[str | None, Field(description="Only events of this type.")] = None,
        phase: Annotated[str | None, Field(description="Only events of this phase.")] = None,
        since_id: Annotated[int, Field(description="Only events after this id (0: from the start).")] = 0,
        limit: Annotated[int, Field(ge=1, le=EVENTS_PAGE_MAX, description="At most this many events.")]
        = EVENTS_PAGE_DEFAULT,
    ) -> EventPage:
        """A run's events in id order, a page at a time: when next_since_id is not null, call again with
        since_id set to it for the next page."""

        def read() -> EventPage:
            run_id = str(self.faber.resolve(run))
            events, next_since_id = page_of_events(
                self.faber.events(run_id, type=type, phase=phase, since_id=since_id), limit
            )
            return EventPage(run_id=run_id, events=events, next_since_id=next_since_id)

        return await self.blocking(read)  # type: ignore[no-any-return]

    # Runs -------------------------------------------------------------------------------------------

    async def start_run(
        self,
        work_id: Annotated[str, Field(description="The work item the run is for: an issue or ticket id.")],
        workflow_id: Annotated[str, Field(
            description="The id of the workflow the run follows: one of the project's (a file's name in "
                        ".fractary/plugins/faber/workflows, without .json) or a bundled one; never a path."
        )] = "default",
        params: Annotated[
            dict[str, Any] | None,
            Field(description="Run parameters by name (letters, digits, '_'); steps see them as FABER_PARAM_<NAME>."),
        ] = None,
        org: Annotated[str | None, Field(description="The org part of the run id (default: the project's).")] = None,
        project: Annotated[
            str | None, Field(description="The project part of the run id (default: the project's).")
        ] = None,
        target: Annotated[str | None, Field(description="What the work targets: a service, a package.")] = None,
        autonomy: Annotated[
            str | None, Field(description="How freely the run may act: dry-run, assisted, guarded or autonomous.")
        ] = None,
    ) -> StartedRun:
        """Create a new run with its own id and folder (like `faber runs new`); then report its progress
        with emit_event, starting with workflow_start."""
        metadata = await self.blocking(
            self.faber.new_run, work_id, workflow_id=workflow_id, params=params, org=org, project=project,
            target=target, autonomy=autonomy,
        )
        return StartedRun(run_id=metadata.run_id, metadata=metadata)

    async def get_run(self, run: RunRef) -> RunRecord:
        """A run's metadata (work, workflow, parameters, lineage), its state (status, phases and steps,
        errors, artifacts) and any defects found while reading it (like `faber runs show --json`)."""
        return await self.blocking(self.faber.run, run)  # type: ignore[no-any-return]

    async def list_runs(
        self,
        status: Annotated[RunStatus | None, Field(description="Only runs with this status.")] = None,
        work_id: Annotated[str | None, Field(description="Only runs of this work item.")] = None,
        org: Annotated[str | None, Field(description="Only runs of this org.")] = None,
        project: Annotated[str | None, Field(description="Only runs of this project.")] = None,
        limit: Annotated[int, Field(ge=1, le=RUNS_PAGE_MAX, description="At most this many runs.")]
        = RUNS_PAGE_DEFAULT,
        cursor: Annotated[str | None, Field(description="The next_cursor of the previous page.")] = None,
    ) -> RunList:
        """Runs, newest first, a page at a time: when next_cursor is not null, call again with the same
        filters and cursor set to it."""

        def read() -> RunList:
            states = self.faber.list_runs(status=status, work_id=work_id, org=org, project=project)
            page, next_cursor = page_of_runs(states, limit, cursor)
            return RunList(runs=[RunSummary.of(state) for state in page], next_cursor=next_cursor)

        return await self.blocking(read)  # type: ignore[no-any-return]

    async def reconstruct_state(
        self,
        run: RunRef,
        write: Annotated[bool, Field(description="Also replace the stored state (state.json) with it.")] = False,
    ) -> ReconstructedState:
        """Rebuild a run's state from its events alone (like `faber runs reconstruct`): to check the
        stored state, or with write=true to repair it."""
        state, warnings = await self.blocking(self.faber.reconstruct, run, write=write)
        return ReconstructedState(state=state, written=write, warnings=warnings)

    # Resume and re-run ------------------------------------------------------------------------------

    async def resume_context(self, run: RunRef, step: StepRef = None, force: ForceFlag = False) -> ResumeContext:
        """What a run has done, what it needs next (next_action, and next_step with its command or
        prompt), and whether it can be resumed, and if not why and what to do. No side effects (like
        `faber runs resume-context --json`)."""
        return await self.blocking(self.faber.resume_context, run, step=step, force=force)  # type: ignore[no-any-return]

    async def resume_run(self, run: RunRef, step: StepRef = None, force: ForceFlag = False) -> ResumeContext:
        """Continue a failed, cancelled, paused or interrupted run under the same run id: records
        workflow_resumed (the backends may refuse, with a reason) and answers with the context, whose
        next_step is the step to execute. Nothing is executed here: run next_step yourself, report it
        with emit_event (step_start, then step_complete or step_error), and ask resume_context for the
        step after. A completed run is refused: use rerun_run."""
        return await self.blocking(self.faber.resume, run, step=step, force=force)  # type: ignore[no-any-return]

    async def rerun_run(
        self,
        run: RunRef,
        params: Annotated[
            dict[str, Any] | None, Field(description="Parameters to change; the others keep the original's values.")
        ] = None,
        phases: Annotated[
            list[str] | None, Field(description="Only these phases (default: the original's).")
        ] = None,
        autonomy: Annotated[str | None, Field(description="A different autonomy level.")] = None,
        work_id: Annotated[str | None, Field(description="A different work item.")] = None,
    ) -> RerunResult:
        """Start a new run of the same work from a past run, with changed parameters: a new run id in
        the same org and project, linked both ways (rerun_of, parent_run_id, root_run_id; the
        original's child_runs), with the changes {key: {from, to}} recorded. Nothing is executed: the
        answer holds the new run's context and its first step (like `faber runs rerun --json`)."""
        return await self.blocking(  # type: ignore[no-any-return]
            self.faber.rerun, run, params=params, phases=phases, autonomy=autonomy, work_id=work_id
        )

    async def verify_run(self, run: RunRef) -> VerifyReport:
        """Check a run's stored files: event ids 1..N without gaps or duplicates, every event file
        valid, the stored state equal to the state rebuilt from the events, the id counter right. ok is
        true only when all hold; each problem is named (a run with problems is an answer, not an
        error). reconstruct_state with write=true fixes a stale state; `faber runs repair` the rest."""
        return await self.blocking(self.faber.verify, run)  # type: ignore[no-any-return]

    # Archive ----------------------------------------------------------------------------------------

    async def consolidate_events(self, run: RunRef) -> ConsolidateResult:
        """Write a run's bundle into its archive/ folder: events.jsonl (every event, in id order),
        state.json, metadata.json and manifest.json (counts, first and last id, sha256s). The same run
        always gives the same bytes (like `faber consolidate`)."""
        return await self.blocking(self.faber.consolidate_events, run)  # type: ignore[no-any-return]

    async def archive_run(
        self,
        run: RunRef,
        cleanup: Annotated[
            bool, Field(description="Then remove the local event files (state, metadata and manifest stay).")
        ] = False,
        force: Annotated[bool, Field(description="Archive a run that is still in progress.")] = False,
    ) -> ArchiveResult:
        """Archive a finished run to every enabled archive backend (S3): consolidate, upload with
        checksums, verify every object, record the archive in the run's metadata, and only then, with
        cleanup, remove the local event files. On any failure nothing local is removed, the message
        names what failed, and calling again completes the archive (like `faber archive`)."""
        return await self.blocking(self.faber.archive_run, run, cleanup=cleanup, force=force)  # type: ignore[no-any-return]

    async def restore_run(
        self,
        run: RunRef,
        expected_manifest_sha256: Annotated[
            str | None, Field(description="The manifest's sha256 to insist on (default: the one recorded here).")
        ] = None,
        trust_archive: Annotated[
            bool, Field(description="Accept an archive this machine has no record of (a run archived elsewhere).")
        ] = False,
    ) -> RestoreResult:
        """Bring an archived run back from the archive backend: download, check every checksum, and
        expand its events into the same event files as before (like `faber restore`); a checksum
        mismatch is refused and changes nothing. A restored run can be resumed here."""
        return await self.blocking(  # type: ignore[no-any-return]
            self.faber.restore_run, run, expected_manifest_sha256=expected_manifest_sha256,
            trust_archive=trust_archive,
        )


def emit_event_schema() -> dict[str, Any]:
    """The input schema of ``emit_event``: the event draft's own schema, plus the run, minus
    ``source`` (the server sets it)."""
    draft = EventDraft.model_json_schema()
    properties = {
        "run": {"type": "string", "description": RUN_HELP},
        **{name: value for name, value in draft["properties"].items() if name != "source"},
    }
    properties["type"] = {**properties["type"], "description": _type_help()}
    for name, help_text in _FIELD_HELP.items():
        properties[name] = {**properties[name], "description": help_text}
    return {
        "type": "object",
        "properties": properties,
        "required": ["run", *draft["required"]],
        "$defs": draft["$defs"],
    }


def closed_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with ``additionalProperties: false``: a misspelt argument is an error, not ignored."""
    return {**schema, "additionalProperties": False}


_FIELD_HELP = {
    "phase": "The phase the event belongs to.",
    "step": "The step id, as in the workflow (letters, digits, '.', '_', '-').",
    "status": "A status word: started, completed, failed...",
    "message": "What happened, for a person.",
    "metadata": "Anything else worth keeping, as a JSON object.",
    "artifacts": "Work products the event refers to: [{type, name, path or url}].",
    "duration_ms": "How long the step or phase took, in milliseconds.",
    "error": "What went wrong: {code, message, stack?, recoverable?}.",
    "correlation_id": "An id that ties events of one operation together.",
    "retry_attempt": "Which retry this is (0: the first try).",
    "user": "Who the event is for or by (default: the user running the server).",
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
    rules = "; ".join(f"{', '.join(names)} need {' and '.join(fields)}" for fields, names in needs.items())
    return f"What happened: a type from the catalogue, or a vendor type x-<vendor>.<name>. {rules}."


__all__ = ["Blocking", "FaberTools", "emit_event_schema"]

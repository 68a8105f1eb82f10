"""Assemble the MCP server: one ``Faber`` (opened at start, shared by every call), its tools and
resources, and the rule that a failing tool call answers one clear line.
"""

from __future__ import annotations

import functools
import gc
import sys
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TextIO

import anyio.to_thread
import pydantic_core
from faber_hookspecs.wire import utc_timestamp
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolRequestParams, CallToolResult, TextContent

from ..api import Faber
from ..gateway.logging_off import NotRecorded
from .errors import error_result, tool_failure
from .reference import completed_event, reference_call
from .resources import register_resources
from .results import EmittedEvent
from .tools import Blocking, FaberTools

INSTRUCTIONS = " ".join("""
faber records FABER workflow runs (phases frame, architect, build, evaluate, release) as durable, typed
event logs. Start a run with start_run (or use a run id you were given) and report progress with
emit_event as it happens: workflow_start; phase_start; step_start, then step_complete or step_error;
phase_complete; workflow_complete or workflow_error. Read where a run stands with get_run, get_events or
the faber://run/{org}/{project}/{uuid}/state resource. To continue a failed or paused run, resume_run
(then resume_context after each step says what is next); to run past work again with other parameters,
rerun_run. A run may be named by its uuid or its first 8 or more characters. A failed call answers one
line that says what to fix.
""".split())


async def call_inline(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking API call on the event loop: for stdio, whose one client waits for each answer
    anyway, this spares a thread hand-off per call."""
    return function(*args, **kwargs)


async def call_in_thread(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking API call in a worker thread: for HTTP, so one client's fsync never stalls the
    others (the record store's locks hold across threads)."""
    return await anyio.to_thread.run_sync(functools.partial(function, *args, **kwargs))


def build_server(
    faber: Faber, *, blocking: Blocking = call_inline, auth: AuthSettings | None = None,
    token_verifier: TokenVerifier | None = None, debug: bool = False
) -> MCPServer:
    """The MCP server over ``faber``. ``blocking`` runs each API call (inline for stdio, in a thread
    for HTTP); ``auth`` and ``token_verifier`` guard the HTTP transport."""
    tools = FaberTools(faber, blocking).definitions()
    # A write that restored its run first says so where the server logs (its stderr).
    faber.notify = lambda line: print(f"faber mcp: {line}", file=sys.stderr, flush=True)
    server: MCPServer = MCPServer(
        faber.gateway.config.mcp_server.name,
        title="FABER event gateway",
        version=_version(),
        instructions=INSTRUCTIONS,
        tools=tools,
        extensions=[OneLineToolCalls(tools, event_path_of(faber),
                                     lambda arguments: blocking(completed_event, faber, arguments))],
        auth=auth,
        token_verifier=token_verifier,
        log_level="DEBUG" if debug else "WARNING",
    )
    register_resources(server, faber, blocking)
    return server


def serve_stdio(faber: Faber, *, debug: bool = False, log: TextIO = sys.stderr) -> None:
    """Serve the client that launched ``faber mcp`` on stdin and stdout (the SDK's transport), the
    API running inline: the one client waits for each answer anyway."""
    server = build_server(faber, blocking=call_inline, debug=debug)
    freeze_startup_objects()
    print(f"faber mcp: serving the runs of {faber.project.root} over stdio", file=log, flush=True)
    anyio.run(server.run_stdio_async)


def freeze_startup_objects() -> None:
    """Move everything built so far (the SDK, pydantic's schemas, the gateway) out of the garbage
    collector's sight: a server allocates a little per request, and without this every full
    collection walks those hundreds of thousands of long-lived objects again (bench figure e measures
    the difference). No collection first: it would delay the first answer for the little
    start-up garbage it would free."""
    gc.freeze()


class OneLineToolCalls(Extension):
    """Answers every ``tools/call`` itself, through the SDK's public interceptor: a failure is the one
    line the CLI would print (the SDK's own answer prefixes it, and spells an argument error over
    several lines with the caller's input in it), an unknown argument is named instead of ignored,
    and a call skips the SDK's per-call wrapping (a ``Context`` for tools that take none, layers of
    re-raising, validating the returned model again). Arguments go through each tool's own argument
    model (the SDK's JSON-in-a-string leniency included). The FABER reference's form of its four
    tools is translated here (``reference``), so the tool list stays faber's own."""

    identifier = "dev.fractary/faber-tool-calls"

    def __init__(
        self, tools: list[Tool], event_path: Callable[[dict[str, Any]], str],
        complete: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
    ) -> None:
        self.served = {tool.name: tool for tool in tools}
        self.event_path = event_path
        self.complete = complete  # reference.completed_event, run as the server runs API calls

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        tool = self.served.get(params.name)
        if tool is None:
            return error_result(f"unknown tool {params.name[:64]!r}: the tools are {', '.join(self.served)}")
        arguments = params.arguments or {}
        reference = reference_call(tool.name, arguments)
        if reference is not None:
            arguments = reference.arguments
        accepted = tool.parameters["properties"]
        unknown = [name for name in arguments if name not in accepted]
        if unknown:
            failed = error_result(
                f"unknown argument{'s' if len(unknown) > 1 else ''} for {tool.name}: "
                f"{', '.join(repr(name[:64]) for name in unknown)}; it takes {', '.join(accepted)}"
            )
            return reference.failure(failed) if reference is not None else failed
        try:
            if reference is not None and reference.reference_form and tool.name == "emit_event":
                arguments = await self.complete(arguments)
            result = await tool.fn(**tool.fn_metadata.validate_arguments(arguments))
        except MCPError:  # a protocol fault stays a JSON-RPC error
            raise
        except NotRecorded as off:  # event logging is off (gateway.json): a no-op that succeeds, said so
            result = EmittedEvent(event_id=0, run_id=str(arguments.get("run", "")), type=str(arguments.get("type")),
                                  timestamp=utc_timestamp(), run_status="pending", warnings=[str(off)])
        except Exception as problem:
            failed = tool_failure(tool.name, problem)
            return reference.failure(failed) if reference is not None else failed
        document = result.model_dump(mode="json", by_alias=True)
        if reference is not None:
            document = reference.answer(document, self.event_path)
        return CallToolResult(
            content=[TextContent(type="text", text=pydantic_core.to_json(document, indent=2).decode())],
            structured_content=document,
        )


def event_path_of(faber: Faber) -> Callable[[dict[str, Any]], str]:
    """Where an emitted event's file is, as the reference's ``event_path`` names it (relative to the
    project, as its base path is): known for the local-files store, empty for any other."""
    if faber.gateway.store_backend != "local_files":
        return lambda _: ""
    settings = faber.gateway.config.backends.get("local_files")
    base = str((settings.config if settings else {}).get("base_path", ".fractary/plugins/faber/runs")).rstrip("/")
    return lambda event: f"{base}/{event['run_id']}/events/{event['event_id']:03d}-{event['type']}.json"


def _version() -> str:
    try:
        return version("faber-host")
    except PackageNotFoundError:
        return "0+unknown"

"""Assemble the MCP server: one ``Faber`` (opened at start, shared by every call), its tools and
resources, and the rule that a failing tool call answers one clear line.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import anyio.to_thread
import pydantic_core
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolRequestParams, CallToolResult, TextContent

from ..api import Faber
from .errors import error_result, tool_failure
from .resources import register_resources
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
    faber: Faber,
    *,
    blocking: Blocking = call_inline,
    auth: AuthSettings | None = None,
    token_verifier: TokenVerifier | None = None,
    debug: bool = False,
) -> MCPServer:
    """The MCP server over ``faber``. ``blocking`` runs each API call (inline for stdio, in a thread
    for HTTP); ``auth`` and ``token_verifier`` guard the HTTP transport."""
    tools = FaberTools(faber, blocking).definitions()
    server: MCPServer = MCPServer(
        faber.gateway.config.mcp_server.name,
        title="FABER event gateway",
        version=_version(),
        instructions=INSTRUCTIONS,
        tools=tools,
        auth=auth,
        token_verifier=token_verifier,
        log_level="DEBUG" if debug else "WARNING",
    )
    register_resources(server, faber, blocking)
    _answer_failures_in_one_line(server, {tool.name: tool for tool in tools})
    return server


def freeze_startup_objects() -> None:
    """Move everything built so far (the SDK, pydantic's schemas, the gateway) out of the garbage
    collector's sight: a server allocates a little per request, and without this every full
    collection walks those hundreds of thousands of long-lived objects again. Measured: emit_event
    about a quarter cheaper (contrib/mcp/roundtrips.py)."""
    gc.collect()
    gc.freeze()


def _answer_failures_in_one_line(server: MCPServer, tools: dict[str, Tool]) -> None:
    """Serve ``tools/call`` through ``MCPServer.call_tool`` but answer every failure ourselves: the
    SDK's own answer prefixes the message and spells an argument error over several lines with the
    caller's input in it, where an agent needs the one line the CLI would print."""

    async def call_tool(ctx: ServerRequestContext[Any], params: CallToolRequestParams) -> CallToolResult:
        tool = tools.get(params.name)
        if tool is None:
            return error_result(f"unknown tool {params.name[:64]!r}: the tools are {', '.join(tools)}")
        arguments = params.arguments or {}
        unknown = [name for name in arguments if name not in tool.parameters["properties"]]
        if unknown:
            return error_result(
                f"unknown argument{'s' if len(unknown) > 1 else ''} for {tool.name}: "
                f"{', '.join(repr(name[:64]) for name in unknown)}; it takes {', '.join(tool.parameters['properties'])}"
            )
        try:
            if tool.name in DIRECT_TOOLS:
                return await call_directly(tool, arguments)
            result = await server.call_tool(params.name, arguments)
        except Exception as problem:  # ToolError and its causes; the MCPError of a protocol fault passes
            if isinstance(problem, MCPError):
                raise
            return tool_failure(tool.name, problem)
        assert isinstance(result, CallToolResult)  # our tools never ask the client for input
        return result

    # The SDK offers no public seam to replace the tools/call handler of an MCPServer; its low-level
    # Server's add_request_handler is public, and MCPServer keeps its tools in the ToolManager we call.
    server._lowlevel_server.add_request_handler("tools/call", CallToolRequestParams, call_tool)


DIRECT_TOOLS = frozenset({"emit_event"})
"""Tools whose calls skip ``MCPServer.call_tool`` for ``call_directly``: the one an agent calls at every
step. The others go through the SDK, where a few tens of microseconds do not matter."""


async def call_directly(tool: Tool, arguments: dict[str, Any]) -> CallToolResult:
    """What ``MCPServer.call_tool`` answers for ``tool``, without its per-call wrapping: a ``Context``
    built for a tool that takes none, the layers of re-raising, and validating the returned model a
    second time against the very model the tool built. The arguments go through the SDK's own
    argument model (its JSON-in-a-string leniency included), so they are read and refused exactly as
    on its path; a failure raises the bare exception where the SDK raises a ``ToolError`` caused by
    it, and ``tool_failure`` answers both alike. The result is the model as the SDK dumps it: the
    structured content and the same JSON, indented, as text."""
    assert tool.is_async and tool.context_kwarg is None and not tool.resolved_params, tool.name
    result = await tool.fn(**tool.fn_metadata.validate_arguments(arguments))
    assert isinstance(result, tool.fn_metadata.output_model), (tool.name, type(result))
    return CallToolResult(
        content=[TextContent(type="text", text=pydantic_core.to_json(result, fallback=str, indent=2).decode())],
        structured_content=result.model_dump(mode="json", by_alias=True),
    )


def _version() -> str:
    try:
        return version("faber-host")
    except PackageNotFoundError:
        return "0+unknown"

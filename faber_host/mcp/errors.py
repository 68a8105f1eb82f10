"""How failures reach an MCP client: one clear line, never a traceback, and the server keeps serving.

A tool that fails answers an error result (``isError: true``) whose text is the message the CLI would
print after ``faber: error:`` — the same ``FaberError`` from the same API call. Arguments that do not
fit a tool's input schema are named in one line. A resource that cannot be read answers a JSON-RPC
error with the same message. Anything unexpected is logged with its traceback on the server's stderr
and answered as an internal error; the next request is served as usual.
"""

from __future__ import annotations

import logging

from faber_hookspecs.errors import FaberError, InvalidInput, RunNotFound
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, CallToolResult, TextContent
from pydantic import ValidationError

logger = logging.getLogger("faber.mcp")

RESOURCE_NOT_FOUND = -32002
"""The JSON-RPC error code MCP gives a resource that does not exist."""


def error_result(message: str) -> CallToolResult:
    """A tool's error result: ``message`` on one line, for the agent to read and act on."""
    return CallToolResult(content=[TextContent(type="text", text=one_line(message))], is_error=True)


def tool_failure(tool: str, problem: Exception) -> CallToolResult:
    """The error result for whatever a tool call raised (the SDK wraps the tool's own exception in a
    ``ToolError`` whose cause it is)."""
    cause = problem.__cause__ if isinstance(problem, ToolError) and problem.__cause__ is not None else problem
    if isinstance(cause, FaberError):
        return error_result(str(cause))
    if isinstance(cause, ValidationError):
        return error_result(describe_invalid_arguments(tool, cause))
    logger.error("tool %s failed", tool, exc_info=cause)
    return error_result(f"internal error: {type(cause).__name__}: {cause} (the traceback is in the server's log)")


def describe_invalid_arguments(tool: str, problem: ValidationError) -> str:
    """One line naming the first argument that does not fit, and how many more do not."""
    errors = problem.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"invalid arguments for {tool}: {where + ': ' if where else ''}{message}{more}"


def resource_failure(uri: str, problem: Exception) -> MCPError:
    """The JSON-RPC error a resource read answers for ``problem``."""
    if isinstance(problem, RunNotFound):
        return MCPError(code=RESOURCE_NOT_FOUND, message=one_line(str(problem)), data={"uri": uri})
    if isinstance(problem, InvalidInput):
        return MCPError(code=INVALID_PARAMS, message=one_line(str(problem)), data={"uri": uri})
    if isinstance(problem, FaberError):
        return MCPError(code=INTERNAL_ERROR, message=one_line(str(problem)), data={"uri": uri})
    logger.error("reading %s failed", uri, exc_info=problem)
    detail = f"{type(problem).__name__}: {one_line(str(problem))}"
    return MCPError(code=INTERNAL_ERROR, message=f"internal error: {detail} (the traceback is in the server's log)",
                    data={"uri": uri})


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(text.split())

"""Helpers for the MCP server's tests: an in-memory client on a fresh project, and calls that insist
on success or on a one-line error."""

from __future__ import annotations

import json
from typing import Any

from mcp import Client
from mcp_types import CallToolResult, TextResourceContents

TOOLS = {
    "emit_event", "start_run", "get_run", "list_runs", "get_events", "resume_context", "resume_run", "rerun_run",
    "verify_run", "reconstruct_state", "consolidate_events", "archive_run", "restore_run",
}
"""Every tool the server serves today."""


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must succeed; return its structured content (and check the text beside it)."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, _text(result)
    assert isinstance(result.structured_content, dict)
    assert json.loads(_text(result)) == result.structured_content, "the text block is the same JSON"
    return result.structured_content


async def fail(client: Client, tool: str, **arguments: Any) -> str:
    """Call a tool that must fail; return its one-line message."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result
    text = _text(result)
    assert "\n" not in text and "Traceback" not in text and text, text
    return text


async def read(client: Client, uri: str) -> Any:
    """Read a JSON resource."""
    result = await client.read_resource(uri)
    (contents,) = result.contents
    assert isinstance(contents, TextResourceContents) and contents.mime_type == "application/json"
    return json.loads(contents.text)


def _text(result: CallToolResult) -> str:
    (block,) = result.content
    assert block.type == "text"
    return block.text

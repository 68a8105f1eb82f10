"""Figure e: sequential ``emit_event`` calls to ``faber mcp`` over stdio, against MCP ``ping`` round
trips on the same connection (the SDK's own floor), with sync_writes off and on; and the start-up:
from launching ``faber mcp`` to its first ``tools/list`` answer, against the same for a one-tool
server on the same SDK."""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

from .timing import Figure

FABER = str(Path(sys.executable).with_name("faber"))
ONE_TOOL_SERVER = """
from mcp.server.mcpserver import MCPServer
server = MCPServer("one-tool")

@server.tool()
async def noop(index: int = 0) -> dict[str, int]:
    \"\"\"Do nothing.\"\"\"
    return {"index": index}

server.run("stdio")
"""
FIRST_LISTING = "".join(json.dumps(message) + "\n" for message in (
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
))


def available() -> bool:
    """True once ``faber mcp`` and the MCP SDK are installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("mcp", "faber_host.mcp"))


async def _rounds(root: Path, calls: int, count: int) -> dict[str, list[float]]:
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    # ping is the figure's yardstick (issue 8); the SDK keeps it for its legacy mode only and warns at
    # every call, which would bury the table.
    warnings.filterwarnings("ignore", message="ping is removed")
    server = StdioServerParameters(command=FABER, args=["mcp"], cwd=root)
    rates: dict[str, list[float]] = {"ping": [], "emit": []}
    with open(root / "mcp-server.log", "w") as errors:
        async with Client(stdio_client(server, errlog=errors), mode="legacy") as client:  # ping is legacy-only
            run = (await client.call_tool("start_run", {"work_id": "bench"})).structured_content["run_id"]

            async def emit(index: int) -> None:
                result = await client.call_tool(
                    "emit_event", {"run": run, "type": "step_start", "phase": "build", "step": f"s{index % 10}"}
                )
                assert not result.is_error, result.content

            for index in range(30):  # warm up both paths
                await client.send_ping()
                await emit(index)
            for _ in range(count):
                for name in ("ping", "emit"):
                    start = time.perf_counter()
                    for index in range(calls):
                        await (client.send_ping() if name == "ping" else emit(index))
                    rates[name].append(calls / (time.perf_counter() - start))
    return rates


def mcp_emit(fast: Path, durable: Path, calls: int, count: int) -> list[Figure]:
    """e: emit_event calls/s ÷ ping calls/s on one stdio connection; sync off (the target) and on."""
    import anyio

    figures = []
    for root, mode in ((fast, "off"), (durable, "on")):
        rates = anyio.run(_rounds, root, calls, count)
        ratio = statistics.median(e / p for e, p in zip(rates["emit"], rates["ping"], strict=True))
        emit_rate = statistics.median(rates["emit"])
        target = "≥ 0.3" if mode == "off" else "(reported)"
        passed = ratio >= 0.3 if mode == "off" else None
        figures.append(Figure("e", f"MCP stdio: emit_event ÷ ping, sync_writes {mode}", ratio, target, passed,
                              f"{count}×{calls}",
                              f"emit {emit_rate:,.0f}/s, ping {statistics.median(rates['ping']):,.0f}/s"))
    return figures


def _first_listing(command: list[str], root: Path) -> float:
    """Seconds from launching ``command`` to its answer to the first tools/list."""
    start = time.perf_counter()
    server = subprocess.Popen(command, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    assert server.stdin and server.stdout
    server.stdin.write(FIRST_LISTING)
    server.stdin.flush()
    while json.loads(server.stdout.readline()).get("id") != 2:
        pass
    elapsed = time.perf_counter() - start
    server.stdin.close()
    server.wait(timeout=60)
    return elapsed


def mcp_startup(root: Path, count: int) -> Figure:
    """`faber mcp` start to first tools/list answered ÷ the same for a one-tool server, alternating."""
    script = root / "one_tool_server.py"
    script.write_text(ONE_TOOL_SERVER)
    times: dict[str, list[float]] = {"faber": [], "one-tool": []}
    for _ in range(count):
        times["faber"].append(_first_listing([FABER, "mcp"], root))
        times["one-tool"].append(_first_listing([sys.executable, str(script)], root))
    ratio = statistics.median(f / o for f, o in zip(times["faber"], times["one-tool"], strict=True))
    return Figure("e", "MCP stdio: start to first tools/list ÷ a one-tool server's", ratio, "≤ 1.3", ratio <= 1.3,
                  f"{count}", f"faber mcp {statistics.median(times['faber']) * 1000:,.0f} ms, "
                  f"one-tool {statistics.median(times['one-tool']) * 1000:,.0f} ms")

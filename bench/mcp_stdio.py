"""Figure e: sequential ``emit_event`` calls to ``faber mcp`` over stdio, against MCP ``ping`` round
trips on the same connection (the SDK's own floor), with sync_writes off and on. The same method as
contrib/mcp/roundtrips.py, as one row of the table."""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
import warnings
from pathlib import Path

from .timing import Figure

FABER = str(Path(sys.executable).with_name("faber"))
REFERENCE_RATE = 476  # the FABER reference's Node gateway, sequential emit_event over stdio, no fsync


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
        target = f"≥ 0.9, ≥ {REFERENCE_RATE}/s" if mode == "off" else "(reported)"
        passed = (ratio >= 0.9 and emit_rate >= REFERENCE_RATE) if mode == "off" else None
        figures.append(Figure("e", f"MCP stdio: emit_event ÷ ping, sync_writes {mode}", ratio, target, passed,
                              f"{count}×{calls}",
                              f"emit {emit_rate:,.0f}/s, ping {statistics.median(rates['ping']):,.0f}/s"))
    return figures

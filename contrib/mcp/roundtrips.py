"""How fast `faber mcp` answers on this machine: sequential emit_event round trips over stdio against
MCP ping round trips on the same connection, with sync_writes off and on.

    .venv/bin/python contrib/mcp/roundtrips.py              # 5 rounds x 200 calls of each, both modes
    .venv/bin/python contrib/mcp/roundtrips.py --calls 500 --rounds 7 --mode off

It makes a throwaway project in a temporary folder, launches the real `faber mcp` (the `faber` next to
this Python) through the SDK's stdio client, and alternates rounds of pings and emits so that both see
the same machine load. For scale it also times, on a bare SDK server with one tool that does nothing,
the cheapest tool call the SDK allows, and the Python API's emit in this process (no MCP at all).

Wall-clock rates swing with whatever else the machine runs; the second table is steadier: CPU time
per call with client and server in this one process (the SDK's in-memory transport, same JSON-RPC
path minus the pipes), for ping, the noop tool, emit_event and the bare API emit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

from faber_host.api import Faber
from faber_host.init import initialize

FABER = str(Path(sys.executable).with_name("faber"))
NOOP_SERVER = """
from mcp.server.mcpserver import MCPServer
server = MCPServer("noop")

@server.tool()
async def noop(index: int = 0) -> dict[str, int]:
    \"\"\"Do nothing.\"\"\"
    return {"index": index}

server.run("stdio")
"""


def make_project(folder: Path, sync_writes: bool, name: str | None = None) -> Path:
    root = folder / (name or f"sync-{'on' if sync_writes else 'off'}")
    root.mkdir()
    initialize(root, "bench", "mcp", {})
    gateway = root / ".fractary/plugins/faber/gateway.json"
    document = json.loads(gateway.read_text())
    document["backends"]["local_files"]["config"]["sync_writes"] = sync_writes
    gateway.write_text(json.dumps(document))
    return root


async def measure(
    server: StdioServerParameters, log: Path, calls: int, rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """On one stdio connection, alternating: ping and a tool call (emit_event on `faber mcp`, noop on
    the bare server). Calls per second of each round, and the latency of every call (seconds)."""
    from mcp.client.stdio import stdio_client

    rates: dict[str, list[float]] = {"ping": [], "tool": []}
    latencies: dict[str, list[float]] = {"ping": [], "tool": []}
    with open(log, "w") as errors:
        async with Client(stdio_client(server, errlog=errors), mode="legacy") as client:  # ping is legacy-only
            names = {tool.name for tool in (await client.list_tools()).tools}
            if "emit_event" in names:
                run = (await client.call_tool("start_run", {"work_id": "bench"})).structured_content["run_id"]

                def arguments(index: int) -> tuple[str, dict[str, object]]:
                    return "emit_event", {"run": run, "type": "step_start", "phase": "build", "step": f"s{index % 10}"}
            else:

                def arguments(index: int) -> tuple[str, dict[str, object]]:
                    return "noop", {"index": index}

            async def call(index: int) -> None:
                result = await client.call_tool(*arguments(index))
                assert not result.is_error, result.content

            for index in range(50):  # warm up both paths
                await client.send_ping()
                await call(index)
            for _ in range(rounds):
                for name in ("ping", "tool"):
                    started = previous = time.perf_counter()
                    for index in range(calls):
                        await (client.send_ping() if name == "ping" else call(index))
                        now = time.perf_counter()
                        latencies[name].append(now - previous)
                        previous = now
                    rates[name].append(calls / (previous - started))
    return rates, latencies


def api_emit_seconds(root: Path, calls: int) -> float:
    """Seconds per emit through the Python API, in this process."""
    faber = Faber.open(root, {})
    run = faber.new_run("api").run_id
    started = time.perf_counter()
    for index in range(calls):
        faber.emit_draft(run, {"type": "step_start", "phase": "build", "step": f"s{index % 10}"})
    return (time.perf_counter() - started) / calls


async def cpu_per_call(root: Path, calls: int, rounds: int) -> dict[str, float]:
    """CPU seconds per call (median of the rounds), client and server in this process."""
    from mcp.server.mcpserver import MCPServer

    from faber_host.mcp.server import build_server, freeze_startup_objects

    noop_server: MCPServer = MCPServer("noop")

    @noop_server.tool()
    async def noop(index: int = 0) -> dict[str, int]:
        """Do nothing."""
        return {"index": index}

    faber = Faber.open(root, {})
    run = faber.new_run("cpu").run_id
    spent: dict[str, list[float]] = {"ping": [], "noop tool": [], "emit_event": [], "API emit": []}
    server = build_server(faber)
    freeze_startup_objects()  # as `faber mcp` does once it has started
    async with Client(server, mode="legacy") as client, Client(noop_server, mode="legacy") as bare:

        async def one(name: str, index: int) -> None:
            if name == "ping":
                await client.send_ping()
            elif name == "noop tool":
                await bare.call_tool("noop", {"index": index})
            elif name == "emit_event":
                arguments = {"run": run, "type": "step_start", "phase": "build", "step": f"s{index % 10}"}
                assert not (await client.call_tool("emit_event", arguments)).is_error
            else:
                faber.emit_draft(run, {"type": "step_start", "phase": "build", "step": f"s{index % 10}"})

        for name in spent:
            for index in range(30):
                await one(name, index)
        for _ in range(rounds):
            for name in spent:
                started = time.process_time()
                for index in range(calls):
                    await one(name, index)
                spent[name].append((time.process_time() - started) / calls)
    return {name: statistics.median(values) for name, values in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per round (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each (default 5)")
    parser.add_argument("--mode", choices=["off", "on", "both"], default="both", help="sync_writes (default both)")
    options = parser.parse_args()
    modes = {"off": [False], "on": [True], "both": [False, True]}[options.mode]
    print(f"{options.rounds} rounds x {options.calls} sequential calls of each, alternating; calls/s is the "
          "median of the rounds, p50 that of every call")
    print(f"{'server':<28}{'ping/s':>8}{'tool/s':>8}{'tool÷ping':>11}{'ping p50':>10}{'tool p50':>10}"
          f"{'API emit':>10}")
    with tempfile.TemporaryDirectory() as folder:
        servers: list[tuple[str, StdioServerParameters, Path | None]] = [
            ("bare SDK, noop tool", StdioServerParameters(command=sys.executable, args=["-c", NOOP_SERVER]), None)
        ]
        for sync_writes in modes:
            project = make_project(Path(folder), sync_writes)
            label = f"faber mcp, sync_writes {'on' if sync_writes else 'off'}"
            servers.append((label, StdioServerParameters(command=FABER, args=["mcp"], cwd=project), project))
        for label, server, root in servers:
            rates, latencies = anyio.run(measure, server, Path(folder) / "server.log", options.calls, options.rounds)
            ping, tool = statistics.median(rates["ping"]), statistics.median(rates["tool"])
            ping_p50, tool_p50 = (statistics.median(latencies[name]) * 1e3 for name in ("ping", "tool"))
            api = f"{api_emit_seconds(root, options.calls) * 1e3:8.2f}ms" if root is not None else f"{'-':>10}"
            print(f"{label:<28}{ping:>8.0f}{tool:>8.0f}{tool / ping:>11.2f}{ping_p50:>8.2f}ms{tool_p50:>8.2f}ms{api}")
        print()
        print("CPU per call, client and server in one process (in-memory transport), sync_writes off:")
        cpu = anyio.run(cpu_per_call, make_project(Path(folder), False, "cpu"), options.calls, options.rounds)
        print("  " + "   ".join(f"{name} {seconds * 1e6:.0f} µs" for name, seconds in cpu.items()))


if __name__ == "__main__":
    main()

"""How fast `faber mcp` answers on this machine: sequential emit_event round trips over stdio against
MCP ping round trips on the same connection, with sync_writes off and on.

    .venv/bin/python contrib/mcp/roundtrips.py              # 5 rounds x 200 calls of each, both modes
    .venv/bin/python contrib/mcp/roundtrips.py --calls 500 --rounds 7 --mode off

It makes a throwaway project in a temporary folder, launches the real `faber mcp` (the `faber` next to
this Python) through the SDK's stdio client, and alternates rounds of pings and emits so that both see
the same machine load. For scale it also times the Python API's emit in this process (no MCP at all).
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


def make_project(folder: Path, sync_writes: bool) -> Path:
    root = folder / f"sync-{'on' if sync_writes else 'off'}"
    root.mkdir()
    initialize(root, "bench", "mcp", {})
    gateway = root / ".fractary/plugins/faber/gateway.json"
    document = json.loads(gateway.read_text())
    document["backends"]["local_files"]["config"]["sync_writes"] = sync_writes
    gateway.write_text(json.dumps(document))
    return root


async def measure(root: Path, calls: int, rounds: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """For ping and emit_event on one stdio connection: calls per second of each round, and the
    latency of every call (seconds)."""
    server = StdioServerParameters(command=FABER, args=["mcp"], cwd=root)
    rates: dict[str, list[float]] = {"ping": [], "emit_event": []}
    latencies: dict[str, list[float]] = {"ping": [], "emit_event": []}
    with open(root / "server.log", "w") as log:
        from mcp.client.stdio import stdio_client

        async with Client(stdio_client(server, errlog=log), mode="legacy") as client:  # ping is legacy-only
            run = (await client.call_tool("start_run", {"work_id": "bench"})).structured_content["run_id"]

            async def ping() -> None:
                await client.send_ping()

            async def emit(index: int = 0) -> None:
                result = await client.call_tool(
                    "emit_event", {"run": run, "type": "step_start", "phase": "build", "step": f"s{index % 10}"}
                )
                assert not result.is_error, result.content

            for _ in range(50):  # warm up both paths
                await ping()
                await emit()
            for _ in range(rounds):
                for name in ("ping", "emit_event"):
                    started = previous = time.perf_counter()
                    for index in range(calls):
                        await (ping() if name == "ping" else emit(index))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per round (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each (default 5)")
    parser.add_argument("--mode", choices=["off", "on", "both"], default="both", help="sync_writes (default both)")
    options = parser.parse_args()
    modes = {"off": [False], "on": [True], "both": [False, True]}[options.mode]
    print(f"{options.rounds} rounds x {options.calls} sequential calls of each, alternating; calls/s is the "
          "median of the rounds, p50 that of every call")
    print(f"{'sync_writes':<12}{'ping/s':>9}{'emit/s':>9}{'emit÷ping':>11}{'ping p50':>10}{'emit p50':>10}"
          f"{'API emit':>10}")
    with tempfile.TemporaryDirectory() as folder:
        for sync_writes in modes:
            root = make_project(Path(folder), sync_writes)
            rates, latencies = anyio.run(measure, root, options.calls, options.rounds)
            ping, emit = statistics.median(rates["ping"]), statistics.median(rates["emit_event"])
            ping_p50, emit_p50 = (statistics.median(latencies[name]) * 1e3 for name in ("ping", "emit_event"))
            api = api_emit_seconds(root, options.calls) * 1e3
            print(f"{'on' if sync_writes else 'off':<12}{ping:>9.0f}{emit:>9.0f}{emit / ping:>11.2f}"
                  f"{ping_p50:>8.2f}ms{emit_p50:>8.2f}ms{api:>8.2f}ms")


if __name__ == "__main__":
    main()

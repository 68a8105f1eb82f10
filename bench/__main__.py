"""``python -m bench`` (``make bench``): run the benchmarks and print one table of ratios.

    python -m bench                      # defaults: a few minutes on 2 cores
    python -m bench --events 1000000     # the big run at a million events (k's full size)
    python -m bench --scale 3 --only a,c # three times the rounds, two figures
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import cli_emit, emit, mcp_stdio, reads, s3_store
from .timing import Figure, fmt_time, render_table
from .workload import fill_run, new_project, open_api

REPO = Path(__file__).resolve().parent.parent
ALL = "abcdefghijkst"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events in the big run (f, g, h, j, k)")
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the tree that i lists")
    parser.add_argument("--steps", type=int, default=10_000, help="completed steps in the long workflow of s")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every repetition count")
    parser.add_argument("--only", default=ALL, help="figures to run, e.g. a,b,d")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / ".work",
                        help="where the projects are written (the disk being measured)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder afterwards")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "latest.md")
    args = parser.parse_args(argv)
    only = set(args.only.replace(",", ""))

    def reps(default: int) -> int:
        return max(1, round(default * args.scale))

    args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=args.workdir))
    started = time.perf_counter()
    print(machine(work), file=sys.stderr)
    figures: list[Figure] = []
    try:
        durable = new_project(work / "durable", sync=True)
        fast = new_project(work / "fast", sync=False)

        def step(label: str) -> None:
            print(f"[{fmt_time(time.perf_counter() - started)}] {label}", file=sys.stderr, flush=True)

        if "a" in only:
            step("a: durable emit, one writer")
            figures.append(emit.durable_emit(durable, work / "plain-a", batch=100, count=reps(15)))
        if "b" in only:
            step("b: durable emit, 8 writer processes")
            figures.append(emit.concurrent_emit(durable, work / "plain-b", writers=8, each=100, count=reps(3)))
        if "c" in only:
            step("c: emit with sync_writes off")
            figures.append(emit.fast_emit(fast, work / "plain-c", batch=200, count=reps(15)))
        if "d" in only:
            step("d: one-shot CLI emit, each combination of backends")
            figures.extend(cli_emit.cli_emit(work, count=reps(20)))
        if "e" in only and mcp_stdio.available():
            step("e: MCP stdio emit_event against ping")
            figures.extend(mcp_stdio.mcp_emit(fast, durable, calls=200, count=reps(5)))
            step("e: MCP stdio start to first tools/list against a one-tool server")
            figures.append(mcp_stdio.mcp_startup(fast, count=reps(7)))
        elif "e" in only:
            figures.append(Figure.pending("e", "MCP stdio emit_event ÷ ping (sync off; durable too)",
                                          "≥ 0.3", "not measured: `faber mcp` has not landed"))
        big_run = None
        if only & set("fghjk"):
            step(f"filling a run with {args.events:,} events (record store, fsync off)")
            big_run = open_api(fast).new_run("bench-big").run_id
            fill_run(fast, big_run, args.events)
        if "f" in only:
            step("f: emit cost in a big run")
            figures.append(emit.emit_cost_growth(fast, big_run, args.events, batch=25, count=reps(8)))
        if "g" in only:
            step("g: reconstruct")
            figures.append(reads.reconstruct(fast, big_run, args.events, count=reps(3)))
        if "h" in only:
            step("h: resume-context")
            figures.append(reads.resume_context(fast, big_run, args.events, batch=20, count=reps(5)))
        if "i" in only:
            step(f"i: writing {args.runs:,} runs")
            listed = new_project(work / "many", sync=False)
            reads.make_runs(listed, args.runs, events_each=2)
            step("i: runs list")
            figures.append(reads.runs_list(listed, args.runs, count=reps(9)))  # 0.7 s a round; wall time is noisy
        if "j" in only:
            step("j: consolidate")
            figures.append(reads.consolidation(fast, big_run, args.events, work, count=reps(3)))
        if "k" in only:
            step("k: peak memory")
            figures.append(reads.peak_memory(fast, big_run, args.events))
            figures.append(reads.consolidation_memory(fast, big_run, args.events))
        if "s" in only:
            step(f"s: emit cost at the end of a {args.steps:,}-step workflow")
            figures.extend(emit.emit_cost_state_growth(fast, args.steps, 10, batch=50, count=reps(8)))
        if "t" in only:
            step("t: s3_store against a local S3 server, 1, 4 and 16 writers")
            figures.extend(s3_store.measure(each=reps(50)))
        table = render_table(figures)
        took = fmt_time(time.perf_counter() - started)
        command = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
        measured = [figure for figure in figures if figure.passed is not None]
        met = sum(1 for figure in measured if figure.passed)
        report = (f"{machine(args.workdir)}\n`{command.strip()}` took {took}; {met} of {len(measured)} measured "
                  f"figures meet their targets\n\n{table}\n")
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(report)
        print(report, flush=True)
    finally:
        if not args.keep:
            print("removing the work folder", file=sys.stderr)
            shutil.rmtree(work, ignore_errors=True)
    return 0  # a missed target is a finding to read in the table, not a failure of the run


def machine(path: Path) -> str:
    """One line about the machine and the file system the benchmark writes to."""
    mount, fstype = "/", "?"
    with open("/proc/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            where = fields[1]
            if os.fspath(path.resolve()).startswith(where.rstrip("/") + "/") and len(where) >= len(mount):
                mount, fstype = where, f"{fields[2]} ({fields[3].split(',')[0]})"
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (f"machine: {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python "
            f"{platform.python_version()}, file system {fstype} on {mount}, load average {load}")


if __name__ == "__main__":
    sys.exit(main())

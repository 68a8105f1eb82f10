"""Figures for seeing runs: `faber runs list` over many runs, `runs show` / `runs report` / the
timeline of a long run, and the cost of one `events --follow` poll.

    .venv/bin/python bench/views.py [--runs 10000] [--events 10000] [--rounds 3]

Each figure is the median of ``--rounds`` measurements, printed with what it is compared to. The
project is built in a temporary folder (fsync off, to build it quickly) and removed afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from faber_backend_local_files.store import LocalRunStore
from faber_hookspecs.run_id import RunId
from faber_hookspecs.wire import utc_timestamp

from faber_host.api import Faber
from faber_host.cli.screen import print_long_table
from faber_host.init import initialize
from faber_host.views.chart import utc_now
from faber_host.views.run_list import COLUMNS, run_rows
from faber_host.views.timeline import build_timeline

FABER = str(Path(sys.executable).with_name("faber"))
WALK = """
import os, sys
def walk(path):
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                walk(entry.path)
walk(sys.argv[1])
"""


def median_of(rounds: int, measure: Callable[[], float]) -> float:
    measure()  # warm the page cache and the interpreter's files
    return statistics.median(measure() for _ in range(rounds))


def wall(command: list[str], cwd: Path, environ: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, check=True, env=environ)
    return time.perf_counter() - start


def in_process(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def build(root: Path, runs: int, events: int) -> str:
    initialize(root, "acme", "bench", {})
    store = LocalRunStore(str(root / ".fractary/plugins/faber/runs"), sync=False)
    for number in range(runs):
        run_id = RunId.generate("acme", "bench")
        store.create_run({"run_id": str(run_id), "work_id": str(number), "workflow_id": "default",
                          "created_at": utc_timestamp()})
        store.append(run_id, {"type": "workflow_start"})
        if number % 3:
            store.append(run_id, {"type": "workflow_complete"})
    long_run = RunId.generate("acme", "bench")
    store.create_run({"run_id": str(long_run), "work_id": "long", "workflow_id": "default",
                      "created_at": utc_timestamp()})
    store.append(long_run, {"type": "workflow_start"})
    steps = ("fetch", "spec", "implement", "test", "merge")
    for number in range(events - 1):
        phase = ("frame", "architect", "build", "evaluate", "release")[number * 5 // events]
        step = steps[(number // 2) % len(steps)]
        if number % 2 == 0:
            store.append(long_run, {"type": "step_start", "phase": phase, "step": step})
        else:
            store.append(long_run, {"type": "step_complete", "phase": phase, "step": step, "duration_ms": 5})
    return str(long_run)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="faber-bench-views-") as folder:
        root = Path(folder)
        print(f"building {args.runs:,} runs and one run of {args.events:,} events in {root} ...", flush=True)
        long_run = build(root, args.runs, args.events)
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("FABER_", "FORCE_COLOR", "NO_COLOR"))}
        runs_dir = str(root / ".fractary/plugins/faber/runs")
        rounds = args.rounds

        listing = median_of(rounds, lambda: wall([FABER, "runs", "list"], root, environ))
        walking = median_of(rounds, lambda: wall([sys.executable, "-c", WALK, runs_dir], root, environ))
        print(f"runs list, {args.runs + 1:,} runs, in a pipe: {listing:.2f}s; plain os.scandir walk of the tree "
              f"(a new process): {walking:.2f}s; ratio {listing / walking:.1f}")
        coloured = median_of(rounds, lambda: wall([FABER, "runs", "list"], root, {**environ, "FORCE_COLOR": "1"}))
        print(f"runs list as on a terminal (FORCE_COLOR=1): {coloured:.2f}s")

        faber = Faber.open(root, environ)
        states = faber.list_runs()
        store_time = median_of(rounds, lambda: in_process(faber.list_runs))
        now = utc_now()

        def render() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                print_long_table(COLUMNS, run_rows(states, now))

        render_time = median_of(rounds, lambda: in_process(render))
        print(f"  in one process: the list_runs hook {store_time:.2f}s, the table (rows + text) {render_time:.3f}s")

        show = median_of(rounds, lambda: wall([FABER, "runs", "show", long_run], root, environ))
        show_tty = median_of(rounds, lambda: wall([FABER, "runs", "show", long_run], root,
                                                  {**environ, "FORCE_COLOR": "1"}))
        report_file = root / "report.html"
        report = median_of(rounds, lambda: wall([FABER, "runs", "report", long_run, "-o", str(report_file)], root,
                                                environ))
        print(f"runs show, {args.events:,} events: {show:.2f}s in a pipe, {show_tty:.2f}s as on a terminal")
        print(f"runs report, {args.events:,} events: {report:.2f}s, {report_file.stat().st_size / 1e6:.1f} MB")

        events = [e.model_dump(mode="json", exclude_none=True) for e in faber.events(long_run)]
        metadata = faber.run(long_run).metadata.to_json()
        timeline_time = median_of(rounds, lambda: in_process(lambda: build_timeline(events, metadata)))
        print(f"build_timeline: {args.events / timeline_time:,.0f} events/s ({timeline_time * 1000:.0f} ms for "
              f"{args.events:,})")

        run_id = faber.resolve(long_run)
        quiet_poll = median_of(rounds * 5, lambda: in_process(lambda: faber.gateway.ask("faber_load_run",
                                                                                         run_id=str(run_id))))
        listing_poll = median_of(rounds, lambda: in_process(lambda: list(
            faber.gateway.ask("faber_load_events", run_id=str(run_id), since_id=args.events))))
        print(f"events --follow, one poll with nothing new: {quiet_poll * 1000:.1f} ms (reading the state); "
              f"listing the log instead: {listing_poll * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

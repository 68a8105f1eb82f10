"""Figures for seeing runs: `faber runs list` over many runs, `runs show` / `runs report` / the
timeline of a long run, and how soon `faber events --follow` prints an event another process wrote.

    .venv/bin/python -m bench.views [--runs 10000] [--events 10000] [--rounds 3] [--follows 20]

The projects are written the way ``python -m bench`` writes them (``bench/workload.py``: the many runs
are copies of one store-made run, as for figure i; the long run holds the realistic workflow cycle,
again and again), under ``bench/.work/`` and removed afterwards. Each figure is the median of
``--rounds`` measurements (after one to warm the page cache); the commands are timed in alternating
rounds, as ``python -m bench`` does, so a burst of load falls on all of them alike.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from faber_host.cli.screen import print_long_table
from faber_host.views.run_list import COLUMNS, run_rows
from faber_host.views.timeline import build_timeline
from faber_host.views.times import utc_now

from .__main__ import REPO, machine
from .reads import WALK, make_runs
from .timing import median, paired_ratio, rounds
from .workload import fill_run, new_project, open_api, runs_dir

FABER = str(Path(sys.executable).with_name("faber"))


def median_of(rounds: int, measure: Callable[[], float]) -> float:
    measure()  # warm the page cache and the interpreter's files
    return statistics.median(measure() for _ in range(rounds))


def side_by_side(count: int, samplers: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Each sampler once to warm the page cache, then ``count`` alternating rounds (bench/timing's way:
    a burst of load on the machine falls on every sampler alike)."""
    for sampler in samplers.values():
        sampler()
    return rounds(samplers, count)


def wall(command: list[str], cwd: Path, environ: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, check=True, env=environ)
    return time.perf_counter() - start


def in_process(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def follow_latency(root: Path, environ: dict[str, str], interval: float, count: int) -> list[float]:
    """Seconds from an emit returning (this process, the Python API) to ``faber events RUN --follow
    --json`` (another process) printing that event, for ``count`` events emitted at spread moments."""
    faber = open_api(root)
    run_id = faber.new_run("bench-follow").run_id
    faber.emit(run_id, "workflow_start")
    follower = subprocess.Popen([FABER, "events", run_id, "--follow", "--json", "--since-id", "1",
                                 "--interval", str(interval)], cwd=root, env=environ, stdout=subprocess.PIPE,
                                text=True)
    assert follower.stdout is not None
    latencies = []
    try:
        time.sleep(2)  # let it start and settle into polling
        for number in range(count):
            time.sleep(interval * (0.37 + (number * 0.61) % 1))  # spread over the poll cycle
            event_type = "workflow_complete" if number == count - 1 else "checkpoint"
            faber.emit(run_id, event_type)
            stored = time.perf_counter()
            line = follower.stdout.readline()
            latencies.append(time.perf_counter() - stored)
            assert f'"type":"{event_type}"' in line, line
        assert follower.wait(30) == 0  # the run ended: the follower stops by itself
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.views", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the tree that `runs list` lists")
    parser.add_argument("--events", type=int, default=10_000, help="events in the long run (show, report)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--follows", type=int, default=20, help="events timed through `events --follow`")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / ".work")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="views-", dir=args.workdir))
    print(machine(work), flush=True)
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("FABER_", "FORCE_COLOR", "NO_COLOR", "TTY_"))}
    try:
        many = new_project(work / "many", sync=False)
        print(f"writing {args.runs:,} runs ...", flush=True)
        make_runs(many, args.runs, events_each=2)
        times = side_by_side(args.rounds, {
            "list": lambda: wall([FABER, "runs", "list"], many, environ),
            "walk": lambda: wall([sys.executable, "-c", WALK, runs_dir(many)], many, environ),
            "coloured": lambda: wall([FABER, "runs", "list"], many, {**environ, "FORCE_COLOR": "1"}),
        })
        ratio = paired_ratio(times["list"], times["walk"])
        print(f"runs list, {args.runs:,} runs, in a pipe: {median(times['list']):.2f} s; plain os.scandir walk of "
              f"the tree (a new process): {median(times['walk']):.2f} s; ratio {ratio:.1f}; as on a terminal "
              f"(FORCE_COLOR=1): {median(times['coloured']):.2f} s")
        faber = open_api(many)
        states = faber.list_runs()
        store_time = median_of(args.rounds, lambda: in_process(faber.list_runs))
        now = utc_now()

        def render() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                print_long_table(COLUMNS, run_rows(states, now))

        render_time = median_of(args.rounds, lambda: in_process(render))
        print(f"  in one process: the list_runs hook {store_time:.2f} s, the table (rows + text) {render_time:.3f} s")

        long = new_project(work / "long", sync=False)
        faber = open_api(long)
        long_run = faber.new_run("bench-long").run_id
        print(f"writing a run of {args.events:,} events ...", flush=True)
        fill_run(long, long_run, args.events)
        report_file = work / "report.html"
        times = side_by_side(args.rounds, {
            "show": lambda: wall([FABER, "runs", "show", long_run], long, environ),
            "show_tty": lambda: wall([FABER, "runs", "show", long_run], long, {**environ, "FORCE_COLOR": "1"}),
            "report": lambda: wall([FABER, "runs", "report", long_run, "-o", str(report_file)], long, environ),
            "start": lambda: wall([FABER, "runs", "show", long_run, "--json"], long, environ),
        })
        print(f"runs show, {args.events:,} events: {median(times['show']):.2f} s in a pipe, "
              f"{median(times['show_tty']):.2f} s as on a terminal; runs show --json (no timeline): "
              f"{median(times['start']):.2f} s")
        print(f"runs report, {args.events:,} events: {median(times['report']):.2f} s, "
              f"{report_file.stat().st_size / 1e6:.1f} MB")
        events = [e.model_dump(mode="json", exclude_none=True) for e in faber.events(long_run)]
        metadata = faber.run(long_run).metadata.to_json()
        timeline_time = median_of(args.rounds, lambda: in_process(lambda: build_timeline(events, metadata)))
        print(f"build_timeline: {args.events / timeline_time:,.0f} events/s ({timeline_time * 1000:.0f} ms for "
              f"{args.events:,})")

        run_id = str(faber.resolve(long_run))
        quiet_poll = median_of(args.rounds * 5, lambda: in_process(lambda: faber.gateway.store.load_run(run_id)))
        listing_poll = median_of(args.rounds, lambda: in_process(lambda: list(
            faber.gateway.store.events(run_id, args.events))))
        print(f"events --follow, one poll with nothing new: {quiet_poll * 1000:.1f} ms (reading the state); "
              f"listing the log instead: {listing_poll * 1000:.1f} ms")
        for interval in (0.5, 0.1):
            latencies = sorted(follow_latency(long, environ, interval, args.follows))
            print(f"events --follow --interval {interval}: an event emitted by another process is printed "
                  f"{statistics.median(latencies) * 1000:.0f} ms later (median of {len(latencies)}; "
                  f"max {latencies[-1] * 1000:.0f} ms)")
        print(machine(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

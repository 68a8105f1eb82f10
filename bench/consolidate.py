"""Benchmark: consolidating a run into events.jsonl, against concatenating its files in a plain loop.

    python bench/consolidate.py --events 100000          # time ratio (target <= 2)
    python bench/consolidate.py --events 1000000 --memory  # peak memory of consolidation (target <= 200 MB)

The run is written straight to disk in the store's layout (as `wire.dump_event` writes events), so
making it takes seconds, not the minutes that emitting would. Each figure is the median of --repeat runs,
the two measured alternately on the same warm files.

``python -m bench`` (figures j and k) uses the same pieces on its own big run: ``samplers`` for the
time ratio and ``consolidation_peak_mb`` for the memory, so the script and the table measure one thing.
Standard library and the packages only, no ``bench`` imports: the script runs from ``bench/`` as a file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from faber_backend_local_files.archiving import consolidate_run
from faber_backend_local_files.run_folder import event_file_name
from faber_backend_local_files.store import LocalRunStore
from faber_hookspecs.archive import EVENTS_FILE
from faber_hookspecs.run_id import RunId
from faber_hookspecs.wire import dump_event, utc_timestamp

TYPES = ("step_start", "step_complete", "artifact_create", "checkpoint")


def make_run(runs_dir: str, events: int) -> RunId:
    """A run of ``events`` realistic events, written directly in the store's layout."""
    store = LocalRunStore(runs_dir, sync=False)
    run_id = RunId.generate("bench", "consolidate")
    store.create_run({"run_id": str(run_id), "work_id": "1", "workflow_id": "default", "created_at": utc_timestamp()})
    folder = store.folder(run_id)
    for event_id in range(1, events + 1):
        kind = TYPES[event_id % len(TYPES)]
        event = {
            "event_id": event_id, "type": kind, "timestamp": utc_timestamp(), "run_id": str(run_id),
            "phase": "build", "step": f"step-{event_id % 7}", "status": "ok", "user": "bench",
            "source": "faber-cli", "message": "a step of the build phase finished",
            "metadata": {"attempt": event_id % 3, "files": ["src/a.py", "src/b.py"]}, "duration_ms": 1200,
        }
        with open(os.path.join(folder.events_dir, event_file_name(event_id, kind)), "wb") as handle:
            handle.write(dump_event(event))
    with open(folder.next_id_file, "w") as handle:
        handle.write(f"{events + 1}\n")
    store.write_state_if_newer(run_id, store.reconstruct(run_id))  # state.json as the store keeps it
    return run_id


def concatenate(events_dir: str, out: str) -> None:
    """The baseline: every event file, in numeric order, appended to one file in a plain loop."""
    names = sorted((n for n in os.listdir(events_dir) if n[0].isdigit()), key=lambda n: int(n.split("-", 1)[0]))
    with open(out, "wb") as target:
        for name in names:
            with open(os.path.join(events_dir, name), "rb") as source:
                target.write(source.read())


def samplers(runs_dir: str, run_id: RunId, out: str) -> dict[str, Callable[[], float]]:
    """The two sides of the comparison, each a call returning the seconds it took: ``consolidate``
    (``consolidate_run`` writing the run's bundle durably, as with the default sync_writes) and
    ``plain`` (``concatenate`` into ``out``, no fsync)."""
    store = LocalRunStore(runs_dir, sync=True)
    events_dir = store.folder(run_id).events_dir

    def plain() -> float:
        started = time.perf_counter()
        concatenate(events_dir, out)
        return time.perf_counter() - started

    def ours() -> float:
        started = time.perf_counter()
        consolidate_run(store, run_id)
        return time.perf_counter() - started

    return {"consolidate": ours, "plain": plain}


CONSOLIDATE_PEAK = (
    "import re, sys, time\n"
    "from faber_backend_local_files.archiving import consolidate_run\n"
    "from faber_backend_local_files.store import LocalRunStore\n"
    "from faber_hookspecs.run_id import RunId\n"
    "t = time.perf_counter()\n"
    "b = consolidate_run(LocalRunStore(sys.argv[1]), RunId.parse(sys.argv[2]))\n"
    "print(f'consolidated {b.manifest.event_count:,} events in {time.perf_counter() - t:.1f} s', file=sys.stderr)\n"
    "print(int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]))\n"
)
"""A fresh process consolidating one run, printing its peak resident set in kB."""


def consolidation_peak_mb(runs_dir: str, run_id: RunId) -> float:
    """The peak resident memory (MB) of a fresh process consolidating the run: consolidation's own
    peak, not the maker's. Its VmHWM, not ru_maxrss: Linux carries the parent's high-water mark
    through fork and exec into ru_maxrss."""
    output = subprocess.run([sys.executable, "-c", CONSOLIDATE_PEAK, runs_dir, str(run_id)], check=True,
                            stdout=subprocess.PIPE, text=True).stdout
    return int(output) / 1024


def time_ratio(events: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="faber-bench-") as scratch:
        runs_dir = os.path.join(scratch, "runs")
        started = time.perf_counter()
        run_id = make_run(runs_dir, events)
        print(f"made a run of {events:,} events in {time.perf_counter() - started:.1f} s")
        sides = samplers(runs_dir, run_id, os.path.join(scratch, "concatenated"))
        ours, plain = [], []
        for _ in range(repeat):
            plain.append(sides["plain"]())
            ours.append(sides["consolidate"]())
        size = os.path.getsize(os.path.join(LocalRunStore(runs_dir).folder(run_id).path, "archive", EVENTS_FILE))
        print(f"plain loop     median {statistics.median(plain):.3f} s  ({repeat} runs)")
        median = statistics.median(ours)
        print(f"consolidate    median {median:.3f} s  ({repeat} runs, events.jsonl {size / 1e6:.1f} MB)")
        print(f"ratio          {statistics.median(ours) / statistics.median(plain):.2f}  (target <= 2)")


def peak_memory(events: int) -> None:
    with tempfile.TemporaryDirectory(prefix="faber-bench-") as scratch:
        runs_dir = os.path.join(scratch, "runs")
        started = time.perf_counter()
        run_id = make_run(runs_dir, events)
        print(f"made a run of {events:,} events in {time.perf_counter() - started:.1f} s")
        print(f"peak RSS      {consolidation_peak_mb(runs_dir, run_id):.0f} MB  (target <= 200)")
        shutil.rmtree(runs_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="measure peak memory instead of time")
    args = parser.parse_args()
    if args.memory:
        peak_memory(args.events)
    else:
        time_ratio(args.events, args.repeat)


if __name__ == "__main__":
    main()

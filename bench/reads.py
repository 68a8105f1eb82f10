"""Figures g, h, i, j and k: rebuilding state, resume-context, listing runs, consolidating, peak memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from faber_hookspecs.run_id import RunId

from . import consolidate
from .timing import Figure, fmt_time, median, paired_ratio, per_operation, rounds
from .workload import drafts, fill_run, open_api, runs_dir

PYTHON = sys.executable
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

# VmHWM, the peak resident set of this process image: ru_maxrss would also count the parent's
# resident set at the fork (Linux folds it in at exec).
RECONSTRUCT = """
import sys
from faber_host.api import Faber
if sys.argv[3] == "reconstruct":
    Faber.open(sys.argv[1], {}).reconstruct(sys.argv[2])
with open("/proc/self/status") as status:
    print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


def _wall(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def reconstruct(root: Path, run_id: str, size: int, count: int) -> Figure:
    """g: ``Faber.reconstruct`` of a big run ÷ listing, reading and parsing its files in a plain loop."""
    faber = open_api(root)
    events_dir = os.path.join(faber.run(run_id).location, "events")

    def plain() -> float:
        start = time.perf_counter()
        names = [entry.name for entry in os.scandir(events_dir) if entry.name.endswith(".json")]
        names.sort(key=lambda name: int(name.split("-", 1)[0]))
        for name in names:
            with open(os.path.join(events_dir, name), "rb") as handle:
                json.loads(handle.read())
        return time.perf_counter() - start

    def api() -> float:
        start = time.perf_counter()
        faber.reconstruct(run_id)
        return time.perf_counter() - start

    plain(), api()  # the page cache warm for both
    times = rounds({"api": api, "plain": plain}, count)
    ratio = paired_ratio(times["api"], times["plain"])
    return Figure("g", f"reconstruct a {size:,}-event run ÷ plain read+parse loop", ratio, "≤ 1.5", ratio <= 1.5,
                  str(count), f"{fmt_time(median(times['api']))} vs {fmt_time(median(times['plain']))}")


def resume_context(root: Path, run_id: str, size: int, batch: int, count: int) -> Figure:
    """h: ``Faber.resume_context`` (what ``faber runs resume-context`` and the MCP tool answer) of a
    big run ÷ of a 100-event run: it must read the run's state, not its log."""
    faber = open_api(root)
    small_run = faber.new_run("bench-h").run_id
    fill_run(root, small_run, 100)
    big = faber.resume_context(run_id)
    small = faber.resume_context(small_run)
    if big.last_event_id < size or small.last_event_id != 100:
        raise RuntimeError(f"resume-context saw {big.last_event_id} and {small.last_event_id} events")
    times = rounds({"big": lambda: per_operation(lambda _: faber.resume_context(run_id), batch),
                    "small": lambda: per_operation(lambda _: faber.resume_context(small_run), batch)}, count)
    ratio = paired_ratio(times["big"], times["small"])
    return Figure("h", f"resume-context of a {size:,}-event run ÷ of a 100-event run", ratio, "≤ 2", ratio <= 2,
                  f"{count}×{batch}", f"{fmt_time(median(times['big']))} vs {fmt_time(median(times['small']))}")


def consolidation(root: Path, run_id: str, size: int, scratch: Path, count: int) -> Figure:
    """j: ``consolidate_run`` of the big run (its bundle: events.jsonl, state, metadata and the
    checksummed manifest, written durably) ÷ concatenating the same event files in a plain loop;
    both sides are ``bench/consolidate.py``'s."""
    sides = consolidate.samplers(runs_dir(root), RunId.parse(run_id), os.fspath(scratch / "concatenated"))
    sides["consolidate"](), sides["plain"]()  # the page cache warm for both
    times = rounds(sides, count)
    ratio = paired_ratio(times["consolidate"], times["plain"])
    return Figure("j", f"consolidate a {size:,}-event run ÷ plain concatenation", ratio, "≤ 2", ratio <= 2,
                  str(count), f"{fmt_time(median(times['consolidate']))} vs {fmt_time(median(times['plain']))}")


def consolidation_memory(root: Path, run_id: str, size: int) -> Figure:
    """k (consolidate): the peak resident memory of a new process consolidating the big run
    (``bench/consolidate.py --memory``'s measurement)."""
    used = consolidate.consolidation_peak_mb(runs_dir(root), RunId.parse(run_id))
    return Figure("k", f"peak memory: consolidate of a {size:,}-event run", used, "≤ 200 MB", used <= 200, "1",
                  "streamed: events.jsonl is written as the files are read")


def peak_memory(root: Path, run_id: str, size: int) -> Figure:
    """k (reconstruct): the peak resident memory of a process rebuilding a big run's state; and, from a
    100-event run's, what each further event costs, extrapolated to a million events."""
    def peak(run: str, mode: str) -> float:
        output = subprocess.run([PYTHON, "-c", RECONSTRUCT, os.fspath(root), run, mode], check=True,
                                capture_output=True, text=True).stdout
        return int(output) / 1024  # kB

    small_run = open_api(root).new_run("bench-k").run_id
    fill_run(root, small_run, 100)
    used, small, idle = peak(run_id, "reconstruct"), peak(small_run, "reconstruct"), peak(run_id, "idle")
    per_event = max(used - small, 0) / (size - 100)
    at_million = small + per_event * (1_000_000 - 100)
    return Figure("k", f"peak memory: reconstruct of a {size:,}-event run", used, "≤ 200 MB", used <= 200, "1",
                  f"100 events: {small:.0f} MB (imports alone {idle:.0f} MB); "
                  f"{per_event * 1024 * 1024:.0f} bytes/event, so about {at_million:.0f} MB at 1,000,000")


def make_runs(root: Path, count: int, events_each: int) -> None:
    """``count`` runs of ``events_each`` events: one made through the API and the record store, the
    others copies of its files (metadata, state, counter, lock, events) under new run ids, the id
    replaced in their text. Setting up 10,000 runs through the store takes minutes on a busy disk."""
    faber = open_api(root)
    template = faber.new_run("template").run_id
    for draft in drafts(events_each):
        faber.emit(template, **draft)
    source = Path(faber.run(template).location)
    files = {path.relative_to(source): path.read_bytes() for path in source.rglob("*")
             if path.is_file() and not path.name.startswith(".state.json.")}
    old_uuid = template.rsplit("/", 1)[1].encode()
    for index in range(count - 1):
        run_id = RunId.generate("bench", "widget" if index % 2 else "gadget")
        folder = Path(runs_dir(root)) / run_id.org / run_id.project / run_id.uuid
        (folder / "events").mkdir(parents=True)
        replacements = ((old_uuid, run_id.uuid.encode()), (b"bench/widget/", f"bench/{run_id.project}/".encode()),
                        (b'"work_id": "template"', f'"work_id": "{index}"'.encode()))
        for relative, data in files.items():
            for old, new in replacements:
                data = data.replace(old, new)
            (folder / relative).write_bytes(data)


def runs_list(root: Path, runs: int, count: int) -> Figure:
    """i: ``faber runs list`` over many runs ÷ a plain ``os.scandir`` walk of every folder of the
    same runs tree (both as new processes of the same interpreter)."""
    listing = [FABER, "runs", "list"]
    walk = [PYTHON, "-c", WALK, runs_dir(root)]
    _wall(listing, root), _wall(walk, root)
    times = rounds({"list": lambda: _wall(listing, root), "walk": lambda: _wall(walk, root)}, count)
    ratio = paired_ratio(times["list"], times["walk"])
    return Figure("i", f"`faber runs list` over {runs:,} runs ÷ plain os.scandir walk of the tree", ratio, "≤ 3",
                  ratio <= 3, str(count), f"{fmt_time(median(times['list']))} vs {fmt_time(median(times['walk']))}")

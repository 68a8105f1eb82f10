"""Figures a, b, c, f and s: the cost of one emit through the Python API, against the disk's limit."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

from .timing import Figure, fmt_rate, fmt_time, median, paired_ratio, per_operation, rounds
from .workload import PlainWriter, drafts, fill_run, fill_steps, open_api, step_drafts


def _emitter(root: Path, run_id: str):  # type: ignore[no-untyped-def]
    faber = open_api(root)
    pending = drafts(10**9)
    return lambda _index: faber.emit(run_id, **next(pending))


def durable_emit(root: Path, plain_dir: Path, batch: int, count: int) -> Figure:
    """a: one writer, fsync on, Python API ÷ write+fsync+rename+dir-fsync."""
    return _single_writer("a", "durable emit, 1 writer: Python API ÷ plain write+fsync+rename+dir-fsync",
                          root, plain_dir, batch, count, sync=True, old_target=0.8)


def fast_emit(root: Path, plain_dir: Path, batch: int, count: int) -> Figure:
    """c: one writer, sync_writes off, Python API ÷ write+rename."""
    return _single_writer("c", "emit, sync_writes off: Python API ÷ plain write+rename",
                          root, plain_dir, batch, count, sync=False, old_target=0.5)


def _single_writer(key: str, title: str, root: Path, plain_dir: Path, batch: int, count: int, *,
                   sync: bool, old_target: float) -> Figure:
    """A single-writer ratio: reported (its old target in the detail), no longer a target of its own."""
    faber_api = open_api(root)
    run_id = faber_api.new_run("bench-a" if sync else "bench-c").run_id
    emit = _emitter(root, run_id)
    plain = PlainWriter(plain_dir, sync=sync)
    emit(0), plain.write()  # warm up: first-use imports, the state cache
    costs = rounds({"api": lambda: per_operation(emit, batch), "plain": lambda: per_operation(plain.write, batch)},
                   count)
    ratio = paired_ratio(costs["plain"], costs["api"])  # a rate ratio: api/s ÷ plain/s
    return Figure(key, title, ratio, "(reported)", None, f"{count}×{batch}",
                  f"api {fmt_rate(median(costs['api']))}, plain {fmt_rate(median(costs['plain']))}; "
                  f"old target ≥ {old_target}")


def _writer_process(root: Path, run_id: str, count: int, barrier, results) -> None:  # type: ignore[no-untyped-def]
    import time

    faber = open_api(root)
    pending = drafts(count)
    barrier.wait()
    start = time.perf_counter()
    ids = [faber.emit(run_id, **draft).event.event_id for draft in pending]
    results.put((start, time.perf_counter(), ids))


def concurrent_emit(root: Path, plain_dir: Path, writers: int, each: int, count: int) -> Figure:
    """b: ``writers`` processes emitting into one run, aggregate rate ÷ the plain single-writer loop;
    and the ids acknowledged are exactly 1..N, as are the files."""
    context = multiprocessing.get_context("fork")
    run_id = open_api(root).new_run("bench-b").run_id
    plain = PlainWriter(plain_dir, sync=True)
    acknowledged: list[int] = []

    def one_round() -> float:
        barrier, results = context.Barrier(writers), context.Queue()
        processes = [context.Process(target=_writer_process, args=(root, run_id, each, barrier, results))
                     for _ in range(writers)]
        for process in processes:
            process.start()
        spans = [results.get(timeout=600) for _ in processes]
        for process in processes:
            process.join()
            if process.exitcode != 0:
                raise RuntimeError(f"a writer process failed with exit code {process.exitcode}")
        for _start, _end, ids in spans:
            acknowledged.extend(ids)
        return (max(end for _, end, _ in spans) - min(start for start, _, _ in spans)) / (writers * each)

    costs = rounds({"writers": one_round, "plain": lambda: per_operation(plain.write, writers * each)}, count)
    total = writers * each * count
    events_dir = Path(open_api(root).run(run_id).location) / "events"
    on_disk = sorted(int(name.split("-", 1)[0]) for name in os.listdir(events_dir) if name.endswith(".json"))
    exact = sorted(acknowledged) == list(range(1, total + 1)) == on_disk
    ratio = paired_ratio(costs["plain"], costs["writers"])
    return Figure("b", f"durable emit, {writers} processes into 1 run: aggregate ÷ plain single-writer loop",
                  ratio, "≥ 0.5, ids 1..N exact", ratio >= 0.5 and exact, f"{count}×{writers}×{each}",
                  f"{fmt_rate(median(costs['writers']))} vs {fmt_rate(median(costs['plain']))}; "
                  f"ids 1..{total} {'exact' if exact else 'WRONG'}; the old target ≥ 0.8 "
                  f"{'met' if ratio >= 0.8 else 'missed'}")


def emit_cost_growth(root: Path, big_run: str, big_size: int, batch: int, count: int) -> Figure:
    """f: the cost of an emit into a run of ``big_size`` events ÷ into a run of about 100 events
    (sync_writes off, so the disk's noise does not hide what the store itself costs)."""
    small_run = open_api(root).new_run("bench-f").run_id
    fill_run(root, small_run, 100)
    small, big = _emitter(root, small_run), _emitter(root, big_run)
    small(0), big(0)
    costs = rounds({"small": lambda: per_operation(small, batch), "big": lambda: per_operation(big, batch)}, count)
    ratio = paired_ratio(costs["big"], costs["small"])
    return Figure("f", f"emit cost at event {big_size:,} ÷ at event 100 (sync off)", ratio, "≤ 1.2", ratio <= 1.2,
                  f"{count}×{batch}",
                  f"{median(costs['big']) * 1e6:.0f} µs vs {median(costs['small']) * 1e6:.0f} µs")


def emit_cost_state_growth(root: Path, big_steps: int, small_steps: int, batch: int, count: int) -> list[Figure]:
    """s: the cost of an emit at the end of a long workflow (a run of ``big_steps`` completed steps,
    each event adding to its state) ÷ at the start of one (``small_steps``; a new such run every round,
    so it stays small), sync_writes off; through the Python API (a long-lived process) and through the
    one-shot CLI (a new process per event)."""
    big_run = open_api(root).new_run("bench-s").run_id
    fill_steps(root, big_run, big_steps)
    big_drafts = step_drafts(big_steps + 1)
    faber = open_api(root)

    def api(run_id: str, pending: object) -> float:
        # Each emit's position read, as the MCP server answers emit_event with it.
        return per_operation(lambda _index: faber.emit(run_id, **next(pending)).position, batch)  # type: ignore[call-overload]

    def small_api() -> float:
        run_id = open_api(root).new_run("bench-s").run_id
        fill_steps(root, run_id, small_steps)
        pending = step_drafts(small_steps + 1)
        assert faber.emit(run_id, **next(pending)).position  # as for the big run
        return api(run_id, pending)

    # Warm up: imports, and the big run's state read once into this process's cache (what a long-lived
    # process does once per run; then each emit brings it forward and rewrites state.json at times).
    assert faber.emit(big_run, **next(big_drafts)).position
    costs = rounds({"small": small_api, "big": lambda: api(big_run, big_drafts)}, count)
    ratio = paired_ratio(costs["big"], costs["small"])
    figures = [Figure("s", f"emit into a run of {big_steps:,} completed steps ÷ of {small_steps} (API, sync off)",
                      ratio, "≤ 1.5", ratio <= 1.5, f"{count}×{batch}",
                      f"{median(costs['big']) * 1e6:.0f} µs vs {median(costs['small']) * 1e6:.0f} µs")]

    faber_cli = str(Path(sys.executable).with_name("faber"))
    number = iter(range(10**9))

    def one_shot(run_id: str) -> float:
        step = f"cli-{next(number):05d}"
        start = time.perf_counter()
        subprocess.run([faber_cli, "event", "emit", run_id, "step_start", "--phase", "build", "--step", step],
                       cwd=root, stdout=subprocess.DEVNULL, check=True)
        return time.perf_counter() - start

    small_run = open_api(root).new_run("bench-s").run_id
    fill_steps(root, small_run, small_steps)
    one_shot(small_run), one_shot(big_run)
    times = rounds({"small": lambda: one_shot(small_run), "big": lambda: one_shot(big_run)}, 2 * count)
    ratio = median(times["big"]) / median(times["small"])
    figures.append(Figure("s", f"one-shot `faber event emit` into the {big_steps:,}-step run ÷ into a "
                               f"{small_steps}-step run (medians)", ratio, "≤ 1.5", ratio <= 1.5,
                          f"{2 * count}+{2 * count}",
                          f"{fmt_time(median(times['big']))} vs {fmt_time(median(times['small']))}"))
    return figures

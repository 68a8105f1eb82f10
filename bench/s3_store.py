"""Figure t: the record store in a bucket (``s3_store``) against the same S3 endpoint (the testing kit's
moto server on 127.0.0.1, one request at a time as S3 orders writes to one key).

    python -m bench --only t            # in the table
    python -m bench.s3_store --events 200

For 1, 4 and 16 writer processes spread over two project folders, all appending to one run through
the API: emits/s ÷ the same processes doing a plain loop of conditional PUTs (``If-None-Match: *``) of
event-sized bodies (the loops alternate, round after round; the median of the per-round ratios),
with the run's ids checked (1..N, each write once); the S3 requests per event of
the lone writer (counted by botocore's event hooks), and the emit latency percentiles.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from faber_host.api import Faber
from faber_host.init import initialize
from faber_host.testing import S3Server, aws_test_environ, use_s3_store

from .timing import Figure, paired_ratio

WRITERS = (1, 4, 16)


def writer(root: str, run_id: str, count: int, tag: str, plain: bool, go: str) -> None:
    """One writer process: ``count`` emits (or plain conditional PUTs), after ``go`` appears; prints
    its latencies, its request count and when it finished."""
    faber = Faber.open(Path(root), dict(os.environ))
    store = faber.gateway.store
    log = store.writable()  # type: ignore[attr-defined]
    body = b'{"event_id": 1, "type": "checkpoint", "timestamp": "2026-01-01T00:00:00.000Z", ' + b"x" * 200 + b"}\n"
    requests = []
    log.client.meta.events.register("before-send.s3", lambda **kwargs: requests.append(1))
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.005)
    sent = len(requests)
    latencies = []
    for index in range(count):
        started = time.perf_counter()
        if plain:
            log.client.put_object(Bucket=log.bucket, Key=f"plain/{tag}/{index:012d}.json", Body=body, IfNoneMatch="*")
        else:
            faber.emit(run_id, "checkpoint", message=f"{tag}-{index}")
        latencies.append(time.perf_counter() - started)
    print(json.dumps({"latencies": latencies, "requests": len(requests) - sent, "ended": time.time()}), flush=True)


def _round(projects: list[Path], run_id: str, writers: int, each: int, plain: bool, work: Path) -> dict[str, float]:
    go = work / f"go-{writers}-{plain}-{time.monotonic_ns()}"
    processes = [subprocess.Popen(
        [sys.executable, "-m", "bench.s3_store", "--writer", str(projects[n % 2]), run_id, str(each), f"{go.name}-{n}",
         str(int(plain)), str(go)], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
        for n in range(writers)]
    for process in processes:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    started = time.time()
    go.touch()
    reports = [json.loads(process.communicate()[0]) for process in processes]
    latencies = sorted(value for report in reports for value in report["latencies"])
    return {"rate": writers * each / (max(report["ended"] for report in reports) - started),
            "requests": sum(report["requests"] for report in reports) / (writers * each),
            **{f"p{p}": latencies[min(len(latencies) - 1, len(latencies) * p // 100)] for p in (50, 90, 99)}}


def measure(each: int, rounds: int = 3) -> list[Figure]:
    """Figure t: one row per number of writers."""
    environ = aws_test_environ()
    os.environ.update(environ)
    server = S3Server()
    figures = []
    try:
        with tempfile.TemporaryDirectory(prefix="faber-bench-s3-") as scratch:
            work = Path(scratch)
            projects: list[Path] = []
            bucket = server.create_bucket()
            for name in ("machine-a", "machine-b"):  # two folders, one bucket: two machines sharing runs
                root = work / name
                root.mkdir()
                initialize(root, "bench", "s3-store", environ)
                use_s3_store(root, server, bucket)
                projects.append(root)
            for writers in WRITERS:
                faber = Faber.open(projects[0], environ)
                run_id = faber.new_run(f"bench-{writers}").run_id
                store, plain = [], []
                for _ in range(rounds):  # the two loops alternate: a busy machine slows both alike
                    store.append(_round(projects, run_id, writers, each, False, work))
                    plain.append(_round(projects, run_id, writers, each, True, work))
                ids = [event.event_id for event in faber.events(run_id)]
                exact = ids == list(range(1, rounds * writers * each + 1))
                ratio = paired_ratio([1 / r["rate"] for r in plain], [1 / r["rate"] for r in store])
                middle = sorted(store, key=lambda r: r["rate"])[len(store) // 2]
                requests = statistics.median(r["requests"] for r in store)
                figures.append(Figure(
                    "t", f"s3_store emits/s ÷ conditional PUTs/s, {writers} writer(s) over 2 folders", ratio,
                    "≥ 0.7" if writers == 1 else "-", ratio >= 0.7 if writers == 1 else None,
                    f"{rounds}×{writers}×{each}",
                    f"{middle['rate']:.0f} vs {statistics.median(r['rate'] for r in plain):.0f}/s; "
                    f"{requests:.2f} requests/event; p50/p90/p99 {middle['p50'] * 1e3:.1f}/"
                    f"{middle['p90'] * 1e3:.1f}/{middle['p99'] * 1e3:.1f} ms; ids 1..{len(ids)} "
                    f"{'exact' if exact else 'NOT EXACT'}"))
                if writers == 1:
                    figures.append(Figure("t", "s3_store S3 requests per event, lone writer", requests,
                                          "≤ 3", requests <= 3, f"{rounds}×1×{each}"))
    finally:
        server.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--writer"]:
        root, run_id, count, tag, plain, go = args[1:]
        writer(root, run_id, int(count), tag, plain == "1", go)
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.s3_store", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50, help="events per writer and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each loop, alternating")
    options = parser.parse_args(args)
    for figure in measure(options.events, options.rounds):
        print(f"{figure.title}: {figure.value:.2f} (target {figure.target}); {figure.detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

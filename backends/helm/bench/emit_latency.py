"""How long an emit takes with the event stream enabled, with the Helm service up, down, failing or slow.

    .venv/bin/python backends/helm/bench/emit_latency.py [--emits 200]

Each scenario is a fresh project with local_files (fsync on) and, except the baseline, event_stream
pointing at a recording receiver on 127.0.0.1 (the testing kit's). Emits go through the Python API in
this process, one after another; the figures are per emit, in milliseconds. The stream uses the
shipped defaults (emit_timeout_ms 250, backoff 500 ms doubling up to 5 minutes), so during an outage
the first emit pays the failure and the others only append to the outbox.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from faber_host.testing import RecordingReceiver, TestProject


def scenario(
    root: Path, receiver: RecordingReceiver | None, prepare: Callable[[RecordingReceiver], None], emits: int
) -> tuple[list[float], str]:
    """Emit ``emits`` events; then, with the receiver answering again, flush. Returns each emit's
    time and what the flush did."""
    project = TestProject(root)
    if receiver is not None:
        project.enable("event_stream", {"service_url": f"{receiver.url}/v1/events", "api_key_env": None})
        prepare(receiver)
    faber = project.faber()
    run_id = faber.new_run("bench").run_id
    timings = []
    for index in range(emits):
        started = time.perf_counter()
        faber.emit(run_id, "checkpoint", message=f"event {index}")
        timings.append((time.perf_counter() - started) * 1000)
    if receiver is None:
        return timings, ""
    receiver.accept()
    started = time.perf_counter()
    report = faber.flush("event_stream")[0].report
    flushed = (time.perf_counter() - started) * 1000
    assert report is not None
    arrived = sorted({line["event"]["event_id"] for line in receiver.accepted_ndjson()})
    assert arrived == list(range(1, emits + 1)), "every event reached the service"
    return timings, f"then a flush sent {report.delivered} in {flushed:.0f} ms, {report.pending} left"


def describe(name: str, timings: list[float], flush: str) -> None:
    ordered = sorted(timings)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    print(
        f"{name:<34} first {timings[0]:7.1f}  median {statistics.median(timings):6.2f}  "
        f"p95 {p95:6.2f}  max {max(timings):7.1f}  total {sum(timings) / 1000:5.2f} s  {flush}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emits", type=int, default=200)
    args = parser.parse_args()
    print(f"{args.emits} emits per scenario; milliseconds per emit\n")
    cases: list[tuple[str, bool, Callable[[RecordingReceiver], None]]] = [
        ("stream disabled (baseline)", False, lambda r: None),
        ("stream up", True, lambda r: r.accept()),
        ("stream down (connection refused)", True, lambda r: r.refuse()),
        ("stream answering 500", True, lambda r: r.fail(500)),
        ("stream slow (answers after 30 s)", True, lambda r: r.slow(30.0)),
    ]
    with tempfile.TemporaryDirectory() as folder:
        for index, (name, streamed, prepare) in enumerate(cases):
            receiver = RecordingReceiver() if streamed else None
            try:
                timings, flush = scenario(Path(folder) / f"p{index}", receiver, prepare, args.emits)
            finally:
                if receiver is not None:
                    receiver.stop()
            describe(name, timings, flush)


if __name__ == "__main__":
    main()

"""Benchmark: archive a run to an S3-compatible server (moto, started here on 127.0.0.1) and restore it.

    python bench/archive_s3.py --events 20000

Prints the time of each step: consolidate, archive (upload and verify), cleanup, restore (download,
checks, expansion), and checks the restored event files are the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from consolidate import make_run

from faber_host.api import Faber
from faber_host.init import initialize

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(port)
        import boto3

        boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}").create_bucket(Bucket="bench-bucket")
        with tempfile.TemporaryDirectory(prefix="faber-bench-") as scratch:
            root = Path(scratch) / "project"
            root.mkdir()
            initialize(root, "bench", "consolidate", dict(os.environ))
            gateway_file = root / ".fractary/plugins/faber/gateway.json"
            gateway = json.loads(gateway_file.read_text())
            gateway["backends"]["s3_archive"] = {"enabled": True, "config": {
                "bucket": "bench-bucket", "endpoint_url": f"http://127.0.0.1:{port}", "region": "us-east-1"}}
            gateway_file.write_text(json.dumps(gateway))
            runs = root / ".fractary/plugins/faber/runs"
            run_id = str(make_run(str(runs), args.events))
            before = _files(runs / run_id / "events")
            faber = Faber.open(root, dict(os.environ))
            for label, step in (
                ("consolidate", lambda: faber.consolidate_events(run_id)),
                ("archive", lambda: faber.archive_run(run_id, force=True)),
                ("cleanup", lambda: faber.cleanup_runs([run_id])),
                ("restore", lambda: faber.restore_run(run_id)),
            ):
                started = time.perf_counter()
                step()
                print(f"{label:<12} {time.perf_counter() - started:7.2f} s")
            same = _files(runs / run_id / "events") == before
            size = (runs / run_id / "archive" / "manifest.json").stat().st_size
            print(f"{args.events:,} events; restored files identical: {same}; manifest {size} bytes")
    finally:
        server.terminate()
        server.wait(10)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name[0].isdigit()}


def _wait(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto_server did not start")


if __name__ == "__main__":
    main()

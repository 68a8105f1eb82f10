"""Benchmark: archive a run to an S3-compatible server (the testing kit's moto server on 127.0.0.1) and restore it.

    python bench/archive_s3.py --events 20000

Prints the time of each step: consolidate, archive (upload and verify), cleanup, restore (download,
checks, expansion), and checks the restored event files are the same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from consolidate import make_run

from faber_host.api import Faber
from faber_host.init import initialize
from faber_host.testing import S3Server, aws_test_environ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    environ = aws_test_environ()  # the server's test credentials, nothing of this machine's AWS setup
    os.environ.clear()
    os.environ.update(environ)  # boto3 reads the process environment
    server = S3Server()
    try:
        bucket = server.create_bucket("bench-bucket")
        with tempfile.TemporaryDirectory(prefix="faber-bench-") as scratch:
            root = Path(scratch) / "project"
            root.mkdir()
            initialize(root, "bench", "consolidate", environ)
            gateway_file = root / ".fractary/plugins/faber/gateway.json"
            gateway = json.loads(gateway_file.read_text())
            gateway["backends"]["s3_archive"] = {"enabled": True, "config": {
                "bucket": bucket, "endpoint_url": server.url, "region": "us-east-1"}}
            gateway_file.write_text(json.dumps(gateway))
            runs = root / ".fractary/plugins/faber/runs"
            run_id = str(make_run(str(runs), args.events))
            before = _files(runs / run_id / "events")
            faber = Faber.open(root, environ)
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
        server.stop()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name[0].isdigit()}


if __name__ == "__main__":
    main()

"""Figure d: ``faber event emit`` in a new process ÷ ``python -c pass``, for each combination of the
shipped backends (local files alone, with s3_archive, with event_stream, with the contrib jsonl mirror,
and all of them), each loaded through its entry point as every command loads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from faber_host.gateway.plugins import discover_backends

from .timing import Figure, fmt_time, median, paired_ratio, rounds
from .workload import new_project, open_api

PYTHON = sys.executable
FABER = str(Path(sys.executable).with_name("faber"))
TARGET = 10.0


def combinations(services: Services) -> dict[str, dict[str, Callable[[], dict[str, Any]]]]:
    """Each measured combination: the optional backends it enables, with a config maker each."""
    optional: dict[str, Callable[[], dict[str, Any]]] = {
        "s3_archive": services.s3_config,
        "event_stream": lambda: {"service_url": f"{services.receiver().url}/v1/events", "api_key_env": None},
        "jsonl_mirror": lambda: {"path": "mirror"},
    }
    installed = {name: maker for name, maker in optional.items() if name in discover_backends()}
    chosen: dict[str, dict[str, Callable[[], dict[str, Any]]]] = {"local files": {}}
    chosen.update({f"+ {name}": {name: maker} for name, maker in installed.items()})
    if len(installed) > 1:
        chosen["+ all of them"] = installed
    return chosen


class Services:
    """The local servers the optional backends talk to (moto's S3 server, an HTTP receiver), started
    when a combination first needs them."""

    def __init__(self) -> None:
        self._s3: Any = None
        self._receiver: Any = None
        self.environ = {k: v for k, v in os.environ.items() if not k.startswith("FABER_")}
        self.environ["NO_PROXY"] = self.environ["no_proxy"] = "127.0.0.1,localhost"

    def s3_config(self) -> dict[str, Any]:
        from faber_host.testing.s3 import S3Server, aws_test_environ

        if self._s3 is None:
            self._s3 = S3Server()
            self.environ = aws_test_environ(self.environ)
        return {"bucket": self._s3.create_bucket(), "endpoint_url": self._s3.url, "region": "us-east-1"}

    def receiver(self) -> Any:
        from faber_host.testing.receiver import RecordingReceiver

        if self._receiver is None:
            self._receiver = RecordingReceiver()
        return self._receiver

    def stop(self) -> None:
        for server in (self._s3, self._receiver):
            if server is not None:
                server.stop()


def timed(command: list[str], cwd: Path, environ: dict[str, str]) -> float:
    """The wall time of one run of ``command``."""
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=environ, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def cli_emit(work: Path, count: int) -> list[Figure]:
    """d: the median over rounds of (wall time of ``faber event emit RUN checkpoint`` ÷ wall time of
    ``python -c pass``), the two run moments apart, fsync on, for every combination."""
    services = Services()
    figures = []
    try:
        for label, enabled in combinations(services).items():
            root = new_project(work / f"emit-{len(figures)}", sync=True)
            gateway = root / ".fractary/plugins/faber/gateway.json"
            document = json.loads(gateway.read_text())
            for name, settings in document["backends"].items():
                settings["enabled"] = name == "local_files"
            for name, config in enabled.items():
                document["backends"][name] = {"enabled": True, "config": config()}
            gateway.write_text(json.dumps(document, indent=2) + "\n")
            run_id = open_api(root).new_run("bench-d").run_id
            emit = [FABER, "event", "emit", run_id, "checkpoint", "--message", "one-shot"]
            python = [PYTHON, "-c", "pass"]
            timed(emit, root, services.environ), timed(python, root, services.environ)
            times = rounds({"emit": partial(timed, emit, root, services.environ),
                            "python": partial(timed, python, root, services.environ)}, count)
            ratio = paired_ratio(times["emit"], times["python"])
            figures.append(Figure(
                "d", f"one-shot `faber event emit` ÷ `python -c pass`, {label}", ratio, f"≤ {TARGET:g}",
                ratio <= TARGET, f"{count}+{count}",
                f"{fmt_time(median(times['emit']))} vs {fmt_time(median(times['python']))}"
                + ("; the old target (local files alone, without the plugin manager) was ≤ 1.9"
                   if not enabled else ""),
            ))
    finally:
        services.stop()
    return figures

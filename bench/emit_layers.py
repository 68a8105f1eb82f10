"""What d's one-shot `faber event emit` spends, layer by layer: the CPU time (user + sys of the new
process, from ``wait4``) of ``python -c`` importing each layer the emit needs on top of the previous
ones, then of the emit itself, alternating round after round; medians, and each one's ratio to
``python -c pass``. CPU time rather than wall time, so a loaded machine distorts it less.

    .venv/bin/python -m bench.emit_layers [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from .cli_emit import FABER, PYTHON
from .workload import new_project, open_api

_SCAN = "import importlib.metadata as m; m.entry_points(group='faber'); "
LAYERS: tuple[tuple[str, str], ...] = (
    ("python -c pass", "pass"),
    ("+ import importlib.metadata", "import importlib.metadata"),
    ("+ the entry point scan", _SCAN.rstrip("; ")),
    ("+ import pluggy", _SCAN + "import pluggy"),
    ("+ import pydantic", _SCAN + "import pluggy; from pydantic import BaseModel"),
    ("+ the event models", _SCAN + "import pluggy, faber_hookspecs.events"),
    ("+ gateway.json's models", _SCAN + "import pluggy, faber_hookspecs.events, faber_host.gateway.config"),
    ("+ the rest of the emit's imports", _SCAN + "import pluggy, faber_host.cli.emit_command, faber_host.gateway, "
     "faber_host.runlog, faber_host.runner.shell, faber_backend_local_files.plugin"),
)


def cpu_ms(command: list[str], cwd: Path) -> float:
    """The CPU time of one run of ``command`` in a new process."""
    pid = os.fork()
    if pid == 0:  # the child: no output, then the command
        os.chdir(cwd)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        os.execv(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        sys.exit(f"{' '.join(command)} failed ({status})")
    return (usage.ru_utime + usage.ru_stime) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    workdir = Path(__file__).parent / ".work"  # the repository's disk, as for every figure
    workdir.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir) as work:
        root = new_project(Path(work) / "project", sync=True)
        run_id = open_api(root).new_run("bench-layers").run_id
        commands = {label: [PYTHON, "-c", code] for label, code in LAYERS}
        commands["faber event emit"] = [FABER, "event", "emit", run_id, "checkpoint"]
        times: dict[str, list[float]] = {label: [] for label in commands}
        for _ in range(rounds):
            for label, command in commands.items():
                times[label].append(cpu_ms(command, root))
    base = times["python -c pass"]
    previous = None
    for label, values in times.items():
        middle = statistics.median(values)
        ratio = statistics.median(value / first for value, first in zip(values, base, strict=True))
        step = f"  (+{middle - previous:.1f} ms)" if previous is not None else ""
        print(f"{label:34} {middle:7.1f} ms  ÷ pass {ratio:5.1f}{step}")
        previous = middle
    print(f"{rounds} rounds, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

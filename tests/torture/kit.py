"""What the torture tests share: the figures they report, the checks of a run's log, real writers.

Everything here works on the files themselves, the way a suspicious reader would: it lists the events
folder, parses and schema-validates every file, and compares what it finds with what the writers were
told (the ids they acknowledged).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faber_hookspecs.reducer import initial_state_for, reconstruct
from faber_hookspecs.validation import schema_validator, validate_event

RUNS = Path(".fractary/plugins/faber/runs")
EVENT_FILE = re.compile(r"([0-9]+)-(.+)\.json")

SCALE = float(os.environ.get("FABER_TORTURE_SCALE", "1"))
"""Multiplies every torture size (1 = the sizes the issue asks for; CI runs 1). For quick local runs."""


def scaled(size: int, minimum: int = 1) -> int:
    """``size`` times FABER_TORTURE_SCALE, at least ``minimum``."""
    return max(minimum, round(size * SCALE))


# Figures ------------------------------------------------------------------------------------------------

FIGURES: Counter[str] = Counter()
"""Totals across the session, printed at the end of the run (see conftest.py) and quoted by
docs/reliability.md: events written, kills survived, inputs tried, secrets caught."""
DETAILS: dict[str, dict[str, Any]] = {}
"""Per test: its own figures and how long it took."""


def record(test: str, **figures: int | float | str) -> None:
    """Add a test's figures to the session totals (numbers in FIGURE_NAMES add up)."""
    entry = DETAILS.setdefault(test, {})
    for name, value in figures.items():
        if name in FIGURE_NAMES and isinstance(value, int):
            FIGURES[name] += value
            entry[name] = entry.get(name, 0) + value
        else:
            entry[name] = value


FIGURE_NAMES = ("events_written", "kills_survived", "inputs_tried", "secrets_caught")


# Reading a run the hard way -------------------------------------------------------------------------------


@dataclass
class LogCheck:
    """What a run's events folder holds, and every problem found in it."""

    ids: list[int] = field(default_factory=list)
    events: dict[int, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    pending: bool = False
    counter: int | None = None

    @property
    def last_id(self) -> int:
        return self.ids[-1] if self.ids else 0


def check_log(run_dir: Path, run_id: str, *, acknowledged: Iterable[int] = (), known: LogCheck | None = None,
              full_schema: bool = False) -> LogCheck:
    """Check what must hold at every instant, even right after a writer was killed:

    * every visible event file is whole, valid against the event schema, and holds the id and type
      its name says, for this run;
    * ids are exactly 1..N: no gap, no duplicate;
    * every acknowledged id is there;
    * metadata.json and state.json are whole JSON documents.

    ``known`` (an earlier check of the same run) spares re-reading files already checked: events are
    immutable, and a test that wants to prove it compares bytes itself.
    """
    result = LogCheck()
    events_dir = run_dir / "events"
    seen: list[int] = []
    for name in os.listdir(events_dir):
        match = EVENT_FILE.fullmatch(name)
        if not match:
            if name == ".pending":
                result.pending = True
            elif not name.startswith("."):
                result.problems.append(f"unexpected file in events/: {name}")
            continue
        event_id, kind = int(match[1]), match[2]
        seen.append(event_id)
        if known is not None and event_id in known.events:
            result.events[event_id] = known.events[event_id]
            continue
        try:
            event = json.loads((events_dir / name).read_bytes())
            validate_event(event)
            if full_schema:
                errors = list(schema_validator("event").iter_errors(event))
                assert not errors, errors[0].message
        except Exception as problem:  # anything unreadable is a finding, not a crash of the checker
            result.problems.append(f"torn or invalid event file {name}: {problem}")
            continue
        if event["event_id"] != event_id or event["type"] != kind or event["run_id"] != run_id:
            result.problems.append(f"{name} holds event {event['event_id']} of type {event['type']} of {event['run_id']}")
        result.events[event_id] = event
    seen.sort()
    result.ids = seen
    if len(set(seen)) != len(seen):
        result.problems.append(f"duplicate ids: {sorted(i for i, n in Counter(seen).items() if n > 1)[:10]}")
    if seen != list(range(1, len(seen) + 1)):
        missing = sorted(set(range(1, (seen[-1] if seen else 0) + 1)) - set(seen))
        result.problems.append(f"ids are not 1..N: missing {missing[:10]}")
    lost = sorted(set(acknowledged) - set(seen))
    if lost:
        result.problems.append(f"acknowledged events missing: {lost[:10]} ({len(lost)} in all)")
    for name in ("metadata.json", "state.json"):
        try:
            document = json.loads((run_dir / name).read_bytes())
            assert isinstance(document, dict)
        except Exception as problem:
            result.problems.append(f"{name} is not a whole JSON object: {problem}")
    try:
        result.counter = int((events_dir / ".next-id").read_text())
    except (OSError, ValueError):
        result.counter = None
    return result


def check_settled(run_dir: Path, run_id: str, log: LogCheck) -> list[str]:
    """What must hold once a writer has finished normally after any crash: no half-done commit left,
    the counter right after the last event, state.json a whole checkpoint never ahead of the log:
    the state rebuilt from the events up to its last_event_id."""
    problems = []
    if log.pending:
        problems.append("events/.pending is still there")
    if log.counter != log.last_id + 1:
        problems.append(f".next-id is {log.counter}, expected {log.last_id + 1}")
    stored = json.loads((run_dir / "state.json").read_bytes())
    through = stored.get("last_event_id")
    if not isinstance(through, int) or through > log.last_id:
        return [*problems, f"state.json is through event {through!r}, and the log ends at {log.last_id}"]
    rebuilt = rebuilt_state(run_dir, log, through)
    if stored != rebuilt:
        differing = sorted(k for k in set(stored) | set(rebuilt) if stored.get(k) != rebuilt.get(k))
        problems.append(f"state.json differs from the state rebuilt from events 1..{through} in {differing[:6]}")
    return problems


def rebuilt_state(run_dir: Path, log: LogCheck, through: int | None = None) -> dict[str, Any]:
    """The state the reducer makes of the log's events (up to event ``through``, default all)."""
    metadata = json.loads((run_dir / "metadata.json").read_bytes())
    last = log.last_id if through is None else through
    return reconstruct(initial_state_for(metadata), (log.events[i] for i in log.ids if i <= last))


# Real writers ------------------------------------------------------------------------------------------


def files_outside(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` except under ``skip`` (the runs folder): size and modification time,
    to show that a command touched nothing outside the runs folder."""
    found = {}
    for folder, dirs, files in os.walk(root):
        if Path(folder) == skip:
            dirs.clear()
            continue
        for name in files:
            info = os.lstat(os.path.join(folder, name))
            found[os.path.join(folder, name)] = (info.st_size, info.st_mtime_ns)
    return found


def faber_executable() -> str:
    return str(Path(sys.executable).with_name("faber"))


def cli_emit_loop(project: Path, run_id: str, count: int, tag: str, environ: dict[str, str]) -> subprocess.Popen[str]:
    """A shell loop of ``faber event emit`` in its own process group; each acknowledged id is printed."""
    loop = (
        f'for i in $(seq {count}); do "{faber_executable()}" event emit "{run_id}" checkpoint '
        f'--message "{tag}-$i" || exit 1; done'
    )
    return subprocess.Popen(["bash", "-c", loop], cwd=project, env=environ, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the process and everything it started."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@dataclass
class Forked:
    """A child process forked from the test, running a writer function; it reports each acknowledged
    event id on a pipe, so the test knows exactly what the writer was told."""

    pid: int
    reader: int
    acknowledged: list[int] = field(default_factory=list)
    _buffer: bytes = b""

    def wait_for_acks(self, count: int, timeout: float) -> int:
        """Read acknowledgements until ``count`` arrived in all, or ``timeout`` passed, or the child
        closed the pipe; return how many have arrived."""
        deadline = time.monotonic() + timeout
        os.set_blocking(self.reader, False)
        try:
            while self._buffer.count(b"\n") < count and time.monotonic() < deadline:
                try:
                    chunk = os.read(self.reader, 65536)
                except BlockingIOError:
                    time.sleep(0.001)
                    continue
                if not chunk:
                    break
                self._buffer += chunk
        finally:
            os.set_blocking(self.reader, True)
        return self._buffer.count(b"\n")

    def read_acknowledged(self) -> list[int]:
        """Drain the pipe (after the child ended) and return every id it acknowledged."""
        while chunk := os.read(self.reader, 65536):
            self._buffer += chunk
        os.close(self.reader)
        lines = self._buffer.split(b"\n")
        # A line without its newline was being written when the child died: not acknowledged.
        self.acknowledged = [int(line) for line in lines[:-1] if line.strip().isdigit()]
        return self.acknowledged

    def wait(self) -> int:
        """Wait for the child; its status as a signal number (negative) or an exit code."""
        _, status = os.waitpid(self.pid, 0)
        if os.WIFSIGNALED(status):
            return -os.WTERMSIG(status)
        return os.WEXITSTATUS(status)


def fork_writer(body: Callable[[Callable[[int], None]], None]) -> Forked:
    """Run ``body(ack)`` in a forked child; ``ack(event_id)`` reports an acknowledged id. The child
    exits 0 when ``body`` returns, 3 when it raises (the error on stderr)."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            os.close(reader)

            def ack(event_id: int) -> None:
                os.write(writer, b"%d\n" % event_id)

            body(ack)
        except BaseException as problem:  # report, then leave without running pytest's cleanup
            os.write(2, f"writer failed: {type(problem).__name__}: {problem}\n".encode())
            code = 3
        finally:
            os._exit(code)
    os.close(writer)
    return Forked(pid, reader)


def verify_or_repair(faber: Any, run_id: str, run_dir: Path) -> str:
    """`faber runs verify` on the run; when it is not clean, `faber runs repair` must make it clean
    without deleting anything (every event file stays, in events/ or events/.quarantine/, byte for
    byte). Returns "clean" or "repaired"."""
    events_dir = run_dir / "events"
    before = {path.name: path.read_bytes() for path in events_dir.glob("[0-9]*.json")}
    report = faber.verify(run_id)
    if report.ok:
        return "clean"
    repaired = faber.repair(run_id)
    assert repaired.after.ok, [problem.message for problem in repaired.after.problems]
    kept = {path.name: path.read_bytes() for path in events_dir.glob("[0-9]*.json")}
    quarantine = events_dir / ".quarantine"
    if quarantine.is_dir():
        kept.update({path.name: path.read_bytes() for path in quarantine.rglob("*") if path.is_file()})
    lost = [name for name, data in before.items() if kept.get(name) != data]
    assert not lost, f"repair deleted or changed {lost[:5]}"
    return "repaired"

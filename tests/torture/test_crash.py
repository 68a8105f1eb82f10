"""Writers killed with SIGKILL: at random instants (a CLI emit loop, a Python API loop) and at every
step of the commit protocol in turn. After each kill: every acknowledged event is present and valid,
no torn file is visible, ids are 1..N, and the next emit gets the next id and leaves the run settled
(no half-done commit, counter and state.json right)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FABER, clean_environ, write_workflow
from faber_backend_local_files.files import UnnamedFiles
from faber_backend_local_files.store import checkpoint_interval

from faber_host.api import Faber

from .kit import (
    RUNS,
    LogCheck,
    check_log,
    check_settled,
    cli_emit_loop,
    fork_writer,
    kill_group,
    rebuilt_state,
    record,
    scaled,
    verify_or_repair,
)

SEED = int(os.environ.get("FABER_TORTURE_SEED", time.time_ns() % 1_000_000))
# Audit events (PEP 578) raised by the file operations of the store: killing the writer just before
# the n-th of them, for n = 1, 2, 3..., visits every step of a commit.
FILE_OPERATIONS = frozenset({"open", "fcntl.flock", "os.link", "os.remove", "os.rename", "os.truncate", "os.mkdir"})


def settle_and_check(faber: Faber, run_id: str, run_dir: Path, log: LogCheck, what: str) -> LogCheck:
    """The next emit after a kill gets the next id and leaves the run settled."""
    result = faber.emit(run_id, "checkpoint", message=f"after {what}")
    assert result.event.event_id == log.last_id + 1, f"after {what}: got id {result.event.event_id}, expected {log.last_id + 1}"
    settled = check_log(run_dir, run_id, known=log)
    assert not settled.problems, (what, settled.problems)
    assert not check_settled(run_dir, run_id, settled), (what, check_settled(run_dir, run_id, settled))
    assert result.state.model_dump(mode="json") == rebuilt_state(run_dir, settled)
    return settled


def test_cli_emit_loop_killed_at_random_instants(faber: Faber, project_dir: Path) -> None:
    rounds = scaled(200)
    rng = random.Random(SEED)
    run_id = faber.new_run("crash-cli").run_id
    run_dir = project_dir / RUNS / run_id
    acknowledged: set[int] = set()
    log = check_log(run_dir, run_id)
    kills = 0
    verdicts: Counter[str] = Counter()
    for round_number in range(rounds):
        writer = cli_emit_loop(project_dir, run_id, 100, f"round{round_number}", clean_environ())
        # One `faber event emit` (the one-shot path) takes under a hundred milliseconds, most of it
        # starting up, and a few hundred on a loaded machine: the instants are spread over the first
        # few emits so that some land inside a commit.
        time.sleep(rng.uniform(0.0, 0.4))
        kill_group(writer)
        out, _ = writer.communicate(timeout=60)
        kills += writer.returncode == -signal.SIGKILL
        acknowledged |= {int(line) for line in out.split()}
        log = check_log(run_dir, run_id, acknowledged=acknowledged, known=log)
        assert not log.problems, (f"round {round_number} (seed {SEED})", log.problems)
        if round_number % 10 == 0:  # verify reads the whole log: every tenth round
            verdicts[verify_or_repair(faber, run_id, run_dir)] += 1
        log = settle_and_check(faber, run_id, run_dir, log, f"round {round_number} (seed {SEED})")
    final = check_log(run_dir, run_id, acknowledged=acknowledged, full_schema=True)
    assert not final.problems
    assert faber.verify(run_id).ok
    assert kills >= rounds * 0.9, f"only {kills} of {rounds} writers were still running when killed"
    record("test_cli_emit_loop_killed_at_random_instants", events_written=final.last_id, kills_survived=kills,
           acknowledged=len(acknowledged), rounds=rounds, verify_clean=verdicts["clean"],
           verify_repaired=verdicts["repaired"], seed=SEED)


def test_api_writer_killed_at_random_instants(faber: Faber, project_dir: Path) -> None:
    """A process emitting as fast as it can through the Python API spends most of its time inside a
    commit, so random kills land on every step of it."""
    rounds = scaled(500)
    rng = random.Random(SEED + 1)
    run_id = faber.new_run("crash-api").run_id
    run_dir = project_dir / RUNS / run_id
    acknowledged: set[int] = set()
    log = check_log(run_dir, run_id)
    kills = 0
    verdicts: Counter[str] = Counter()
    for round_number in range(rounds):

        def emit_forever(ack: Callable[[int], None], tag: str = f"round{round_number}") -> None:
            for i in range(10_000):
                ack(faber.emit(run_id, "checkpoint", message=f"{tag}-{i}").event.event_id)

        writer = fork_writer(emit_forever)
        writer.wait_for_acks(rng.randint(0, 3), timeout=5)
        time.sleep(rng.uniform(0, 0.004))
        os.kill(writer.pid, signal.SIGKILL)
        status = writer.wait()
        assert status == -signal.SIGKILL, f"the writer ended by itself ({status}) in round {round_number}"
        kills += 1
        acknowledged |= set(writer.read_acknowledged())
        log = check_log(run_dir, run_id, acknowledged=acknowledged, known=log)
        assert not log.problems, (f"round {round_number} (seed {SEED})", log.problems)
        if round_number % 25 == 0:
            verdicts[verify_or_repair(faber, run_id, run_dir)] += 1
        log = settle_and_check(faber, run_id, run_dir, log, f"round {round_number} (seed {SEED})")
    final = check_log(run_dir, run_id, acknowledged=acknowledged, full_schema=True)
    assert not final.problems
    assert faber.verify(run_id).ok
    record("test_api_writer_killed_at_random_instants", events_written=final.last_id, kills_survived=kills,
           acknowledged=len(acknowledged), rounds=rounds, verify_clean=verdicts["clean"],
           verify_repaired=verdicts["repaired"], seed=SEED)


def kill_at_operation(number: int, operations: list[str]) -> Callable[[str, tuple], None]:
    """An audit hook that SIGKILLs this process just before its ``number``-th file operation."""
    count = 0

    def hook(event: str, args: tuple) -> None:
        nonlocal count
        if event in FILE_OPERATIONS:
            count += 1
            operations.append(f"{event} {str(args[0])[-40:] if args else ''}")
            if count == number:
                os.kill(os.getpid(), signal.SIGKILL)

    return hook


@pytest.mark.parametrize("commit", ["nameless", "pending"])
@pytest.mark.parametrize("first", ["writer", "repair"], ids=["writer-settles", "repair-first"])
@pytest.mark.parametrize("sync", [True, False], ids=["sync", "nosync"])
def test_killed_before_each_step_of_a_commit(faber: Faber, project_dir: Path, sync: bool, first: str, commit: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Kill the writer just before its 1st, 2nd, 3rd... file operation of an emit, until an emit runs
    to its end: every step of the protocol is interrupted once, in a real process. After each kill,
    either the next writer settles the run by itself (and verify then finds it clean), or `faber runs
    verify`/`repair` go first (and the next writer carries on). Both ways of committing: a nameless
    file (O_TMPFILE) linked into place, and ``.pending``, where the system has no nameless files."""
    if commit == "pending":
        monkeypatch.setattr(UnnamedFiles, "supported", False)
    if not sync:
        faber.gateway.store.files.sync = False
    run_id = faber.new_run("crash-steps").run_id
    run_dir = project_dir / RUNS / run_id
    for _ in range(2):  # both state buffers exist from here on, as in a long-running run
        faber.emit(run_id, "checkpoint")
    log = check_log(run_dir, run_id)
    points: list[str] = []
    verdicts: Counter[str] = Counter()
    for number in range(1, 200):

        def emit_once(ack: Callable[[int], None], number: int = number) -> None:
            operations: list[str] = []
            sys.addaudithook(kill_at_operation(number, operations))
            event_id = faber.emit(run_id, "step_start", phase="build", step=f"s{number}").event.event_id
            ack(event_id)
            os.write(2, f"{len(operations)} operations\n".encode())

        before = log.last_id
        writer = fork_writer(emit_once)
        status = writer.wait()
        acknowledged = writer.read_acknowledged()
        log = check_log(run_dir, run_id, acknowledged=acknowledged, known=log)
        assert not log.problems, (f"killed before file operation {number}", log.problems)
        if status == 0:
            break  # the emit ran to its end: every earlier step has been interrupted once
        assert status == -signal.SIGKILL
        assert log.last_id in (before, before + 1)
        points.append(f"op{number}: event {'committed' if log.last_id == before + 1 else 'not committed'}")
        if first == "repair":
            verdicts[verify_or_repair(faber, run_id, run_dir)] += 1
        log = settle_and_check(faber, run_id, run_dir, log, f"a kill before file operation {number}")
        if first == "writer":
            assert faber.verify(run_id).ok, f"not settled by the next writer after a kill before operation {number}"
    else:
        pytest.fail("the emit never finished")
    assert len(points) >= 8, f"an emit does fewer file operations than the protocol has steps: {points}"
    committed = sum("event committed" in point for point in points)
    assert 0 < committed < len(points), "some kills must land before the commit point and some after it"
    order = "writer-settles" if first == "writer" else "repair-first"
    record(f"test_killed_before_each_step_of_a_commit[{'sync' if sync else 'nosync'}-{order}-{commit}]",
           kills_survived=len(points), events_written=check_log(run_dir, run_id).last_id,
           committed_when_killed=committed, verify_clean=verdicts["clean"], verify_repaired=verdicts["repaired"])


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "nosync"])
def test_killed_before_each_step_of_a_checkpoint(faber: Faber, project_dir: Path, sync: bool) -> None:
    """In a run whose state is big enough for state.json to be a checkpoint (rewritten every few
    events), kill the writer just before each file operation of an emit that rewrites it (a
    workflow-level event always does): state.json stays whole and never ahead of the log, readers
    see the state through the last event, and the next writer settles the run."""
    if not sync:
        faber.gateway.store.files.sync = False
    run_id = faber.new_run("crash-checkpoint").run_id
    run_dir = project_dir / RUNS / run_id
    faber.emit(run_id, "workflow_start")
    number = 0
    while checkpoint_interval((run_dir / "state.json").stat().st_size) < 4:
        number += 1
        faber.emit(run_id, "checkpoint", artifacts=[{"type": "file", "name": f"n{number}", "path": "d/" + "n" * 1000}])
    log = check_log(run_dir, run_id)
    points: list[str] = []
    for number in range(1, 200):

        def emit_once(ack: Callable[[int], None], number: int = number) -> None:
            sys.addaudithook(kill_at_operation(number, []))
            kind = "workflow_paused" if number % 2 else "workflow_resumed"
            ack(faber.emit(run_id, kind, message=f"before operation {number}").event.event_id)

        before = log.last_id
        writer = fork_writer(emit_once)
        status = writer.wait()
        log = check_log(run_dir, run_id, acknowledged=writer.read_acknowledged(), known=log)
        assert not log.problems, (f"killed before file operation {number}", log.problems)
        checkpoint = json.loads((run_dir / "state.json").read_bytes())  # whole: it parses
        assert checkpoint["last_event_id"] <= log.last_id, f"state.json ahead of the log after kill {number}"
        assert checkpoint == rebuilt_state(run_dir, log, checkpoint["last_event_id"])
        if status == 0:
            break
        assert status == -signal.SIGKILL
        points.append(f"op{number}: event {'committed' if log.last_id == before + 1 else 'not committed'}")
        log = settle_and_check(faber, run_id, run_dir, log, f"a kill before file operation {number}")
        assert faber.run(run_id).state.model_dump(mode="json") == rebuilt_state(run_dir, log)
        assert faber.verify(run_id).ok
    else:
        pytest.fail("the emit never finished")
    committed = sum("event committed" in point for point in points)
    assert len(points) >= 8 and 0 < committed < len(points), points
    record(f"test_killed_before_each_step_of_a_checkpoint[{'sync' if sync else 'nosync'}]",
           kills_survived=len(points), events_written=check_log(run_dir, run_id).last_id,
           committed_when_killed=committed)


def test_killed_before_each_step_of_creating_a_run(faber: Faber, project_dir: Path) -> None:
    """A run appears whole or not at all, whichever step of its creation the writer dies before."""
    runs_root = project_dir / RUNS
    kills = 0
    for number in range(1, 200):
        before = set(faber.gateway.store.find_runs(""))

        def create(ack: Callable[[int], None], number: int = number) -> None:
            sys.addaudithook(kill_at_operation(number, []))
            faber.new_run("crash-create")
            ack(1)

        writer = fork_writer(create)
        status = writer.wait()
        created = writer.read_acknowledged() == [1]
        after = set(faber.gateway.store.find_runs(""))
        new = after - before
        assert len(new) <= 1
        for run_id in new:  # a run that is listed is whole: it can be read and written
            assert faber.run(run_id).state.last_event_id == 0
            assert faber.emit(run_id, "workflow_start").event.event_id == 1
        if created:
            assert new, "new_run returned but the run is not there"
        assert faber.list_runs() is not None
        if status == 0:
            break
        assert status == -signal.SIGKILL
        kills += 1
    else:
        pytest.fail("creating a run never finished")
    # Each creation removes the staging folders killed ones left (their processes are gone).
    leftovers = [p.name for p in runs_root.glob("*/*/.staging/*")]
    assert not leftovers, leftovers
    record("test_killed_before_each_step_of_creating_a_run", kills_survived=kills)


def crash_workflow() -> dict[str, object]:
    """Four quick shell steps in each phase; each execution is appended to steps.log."""
    def step(phase: str, index: int) -> dict[str, object]:
        return {"id": f"{phase[:2]}{index}", "run": 'echo "$FABER_RUN_ID $FABER_PHASE:$FABER_STEP" >> steps.log'}

    return {"id": "crash-loop", "autonomy": {"level": "autonomous"},
            "phases": {phase: {"steps": [step(phase, index) for index in range(4)]}
                       for phase in ("frame", "architect", "build", "evaluate", "release")}}


CRASH_RUN_EVENTS = 52
"""The events of a whole crash-loop run: start, 5 x (phase start, 4 x (step start, complete), phase
complete), complete."""


def run_folders(project_dir: Path) -> set[Path]:
    """Every run folder of the project (not the hidden staging folders of runs being created)."""
    return {path for path in (project_dir / RUNS).glob("*/*/*") if not path.name.startswith(".")}


def logged_events(run_dir: Path | None) -> int:
    try:
        return sum(1 for name in os.listdir(run_dir / "events") if name[:1].isdigit()) if run_dir else 0
    except OSError:
        return 0


def kill_when_logged(process: subprocess.Popen[bytes], run_dir: Callable[[], Path | None], events: int,
                     rng: random.Random) -> None:
    """SIGKILL ``process`` at a random instant once its run holds ``events`` events (0: during start-up,
    before or while the run is created). Instants measured in seconds would depend on the machine's
    speed and load: a faster emit path made most of them land after the run had finished."""
    if events == 0:
        time.sleep(rng.uniform(0.05, 0.5))
    else:
        deadline = time.monotonic() + 120
        while process.poll() is None and logged_events(run_dir()) < events and time.monotonic() < deadline:
            time.sleep(0.003)
        time.sleep(rng.uniform(0, 0.02))  # then anywhere in what follows: a commit, a step, the state
    kill_group(process)


def test_faber_run_killed_at_random_instants_then_resumed(faber: Faber, project_dir: Path) -> None:
    """`faber run` killed at a random instant, then `faber run --resume` killed at another, then resumed
    to completion: the log stays sound after every kill (verify clean, or repair makes it clean), and
    no step that completed runs again."""
    rounds = scaled(20)
    rng = random.Random(SEED + 2)
    write_workflow(project_dir, crash_workflow())
    kills = 0
    verdicts: Counter[str] = Counter()
    events = 0
    for round_number in range(rounds):
        known = set(faber.gateway.store.find_runs(""))
        known_folders = run_folders(project_dir)
        command = [FABER, "run", "crash-loop", "--work-id", f"round-{round_number}"]
        run_id = None
        for attempt in range(2):
            def this_run(run_id: str | None = run_id, known_folders: set[Path] = known_folders) -> Path | None:
                if run_id is not None:
                    return project_dir / RUNS / run_id
                return next(iter(run_folders(project_dir) - known_folders), None)

            # The kill comes after a random number of events in the log, before the last few (so that
            # it lands before the run ends); one first run in ten is killed within its first half
            # second instead, while it starts up and creates the run.
            logged = logged_events(this_run())
            target = 0 if attempt == 0 and rng.random() < 0.1 else logged + rng.randint(
                1, max(1, CRASH_RUN_EVENTS - 4 - logged))
            process = subprocess.Popen(command, cwd=project_dir, env=clean_environ(), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True)
            kill_when_logged(process, this_run, target, rng)
            process.wait(timeout=60)
            kills += process.returncode == -signal.SIGKILL
            if run_id is None:
                new = set(faber.gateway.store.find_runs("")) - known
                if not new:
                    break  # killed before the run was created: nothing to resume
                (run_id,) = new
            run_dir = project_dir / RUNS / run_id
            log = check_log(run_dir, run_id)
            assert not log.problems, (round_number, attempt, log.problems)
            verdicts[verify_or_repair(faber, run_id, run_dir)] += 1
            if process.returncode == 0:
                break  # it finished before the kill
            command = [FABER, "run", "--resume", run_id]
        if run_id is None:
            continue
        finish = subprocess.run([FABER, "run", "--resume", run_id], cwd=project_dir, env=clean_environ(),
                                capture_output=True, text=True, timeout=300)
        state = faber.run(run_id).state
        if state.status != "completed":
            assert finish.returncode == 0, finish.stderr
        assert state.status == "completed", (finish.returncode, finish.stderr)
        run_dir = project_dir / RUNS / run_id
        log = check_log(run_dir, run_id, full_schema=True)
        assert not log.problems and not check_settled(run_dir, run_id, log)
        assert faber.verify(run_id).ok
        completes = Counter(e["step"] for e in log.events.values() if e["type"] == "step_complete")
        starts = Counter(e["step"] for e in log.events.values() if e["type"] == "step_start")
        executions = Counter(line.split()[1].split(":")[1] for line in (project_dir / "steps.log").read_text().splitlines()
                             if line.startswith(run_id))
        assert set(completes) == {step["id"] for phase in crash_workflow()["phases"].values()  # type: ignore[attr-defined]
                                  for step in phase["steps"]}
        assert all(count == 1 for count in completes.values()), f"a completed step ran again: {completes}"
        assert all(executions[step] <= starts[step] for step in completes), (executions, starts)
        events += log.last_id
    assert kills >= rounds, f"only {kills} kills in {rounds} rounds"
    record("test_faber_run_killed_at_random_instants_then_resumed", kills_survived=kills, events_written=events,
           rounds=rounds, verify_clean=verdicts["clean"], verify_repaired=verdicts["repaired"], seed=SEED)

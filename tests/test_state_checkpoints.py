"""A long run's state.json is a checkpoint: rewritten every few events, never ahead of the log, always
whole; every reader (runs show, runs list, resume-context, verify, follow) brings it
forward with the events after it and sees the state through the last event."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import FABER, Cli, clean_environ
from faber_backend_local_files.store import CHECKPOINT_BYTES, checkpoint_interval

from faber_host.api import Faber


def long_run(faber: Faber, size: int = 4 * CHECKPOINT_BYTES) -> tuple[str, Path]:
    """A started run whose state.json is beyond ``size`` bytes (artifacts of about 1 KB each)."""
    run_id = faber.new_run("long").run_id
    faber.emit(run_id, "workflow_start")
    state_file = Path(faber.run(run_id).location) / "state.json"
    number = 0
    while state_file.stat().st_size <= size:
        number += 1
        faber.emit(run_id, "checkpoint", artifacts=[{"type": "file", "name": f"notes-{number}",
                                                     "path": "docs/" + "n" * 1000}])
    return run_id, state_file


def test_every_reader_sees_the_current_state_of_a_long_run(faber: Faber, cli: Cli) -> None:
    run_id, state_file = long_run(faber)
    lagged = 0
    done = 0
    while done < 6:
        context = cli.json("runs", "resume-context", run_id, "--json")
        assert isinstance(context, dict)
        phase, step = context["resume_from"]["phase"], context["resume_from"]["step"]
        if context["next_action"] == "close_phase":
            cli.ok("event", "emit", run_id, "phase_complete", "--phase", phase)
            continue
        assert context["next_action"] == "run_step", context
        done += 1
        # `faber event emit`, a new process each time.
        cli.ok("event", "emit", run_id, "step_start", "--phase", phase, "--step", step)
        event_id = int(cli.ok("event", "emit", run_id, "step_complete", "--phase", phase, "--step", step,
                              "--duration-ms", "5"))
        on_disk = json.loads(state_file.read_bytes())
        interval = checkpoint_interval(state_file.stat().st_size)
        assert interval > 1
        assert 0 <= event_id - on_disk["last_event_id"] < interval, "never ahead, at most an interval behind"
        lagged += on_disk["last_event_id"] < event_id
        shown = cli.json("runs", "show", run_id, "--json")
        assert isinstance(shown, dict) and shown["warnings"] == []
        assert (shown["state"]["last_event_id"], shown["state"]["current_step"]) == (event_id, step)
        listed = cli.json("runs", "list", "--json")
        assert isinstance(listed, list)
        assert [(s["last_event_id"], s["current_step"]) for s in listed if s["run_id"] == run_id] == [
            (event_id, step)]
        moved_on = cli.json("runs", "resume-context", run_id, "--json")
        assert isinstance(moved_on, dict) and moved_on["resume_from"]["step"] != step, "the completed step counts"
        assert cli("runs", "verify", run_id).returncode == 0, "a checkpoint behind the log is no damage"
        assert faber.run(run_id).state.last_event_id == event_id, "the Python API (and MCP's get_run)"
    assert lagged >= 3
    cli.ok("event", "emit", run_id, "workflow_complete")
    assert json.loads(state_file.read_bytes())["status"] == "completed", "a run that ends leaves state.json current"
    followed = subprocess.run([FABER, "events", run_id, "--follow", "--since-id", str(event_id), "--json"],
                              cwd=cli.cwd, env=clean_environ(), capture_output=True, text=True, timeout=60)
    assert [json.loads(line)["type"] for line in followed.stdout.splitlines()] == ["workflow_complete"]


def test_verify_and_repair_judge_the_checkpoint_by_the_events(faber: Faber, cli: Cli) -> None:
    """The cached state is state.json brought forward by the events after it: a checkpoint that differs
    from the state through its event, or that is ahead of the log, is damage that repair mends."""
    run_id, state_file = long_run(faber)
    faber.emit(run_id, "step_start", phase="build", step="compile")
    checkpoint = json.loads(state_file.read_bytes())
    assert cli("runs", "verify", run_id).returncode == 0
    for tampered in ({**checkpoint, "work_id": "someone else's"},
                     {**checkpoint, "last_event_id": checkpoint["last_event_id"] + 50}):
        state_file.write_text(json.dumps(tampered))
        verdict = cli("runs", "verify", run_id)
        assert verdict.returncode != 0 and "state_mismatch" in verdict.stdout, verdict.stdout
        cli.ok("runs", "repair", run_id)
        assert cli("runs", "verify", run_id).returncode == 0
        assert json.loads(state_file.read_bytes()) == faber.reconstruct(run_id)[0].model_dump(mode="json")


def test_a_new_process_leaves_a_long_runs_state_json_alone_between_checkpoints(faber: Faber, cli: Cli) -> None:
    """`faber event emit` (a new process) neither reads nor rewrites state.json unless a checkpoint is due: its cost does
    not grow with the state."""
    run_id, state_file = long_run(faber)
    before = state_file.read_bytes()
    interval = checkpoint_interval(len(before))
    left_alone = 0
    for number in range(interval):
        next_id = int(cli.ok("event", "emit", run_id, "checkpoint", "--message", str(number)))
        if next_id % interval == 0:
            assert json.loads(state_file.read_bytes())["last_event_id"] == next_id, "a checkpoint was due"
            break
        assert state_file.read_bytes() == before and os.stat(state_file).st_size == len(before)
        left_alone += 1
        assert faber.run(run_id).state.last_event_id == next_id
    assert left_alone >= 1

"""A run written by faber and by scripts that behave like the FABER reference's emit-event.sh
(tests/reference_like/emit-event.sh: its flock on events/.next-id.lock, deleted after use, and its
`echo >` writes), as real processes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import Cli, clean_environ
from mixed_writers import SCRIPT, run_trial

from faber_host.api import Faber

RUNS = Path(".fractary/plugins/faber/runs")


def script_emit(project: Path, run_id: str, kind: str, message: str) -> int:
    done = subprocess.run([str(SCRIPT), str(project / RUNS / run_id), run_id, kind, message], capture_output=True,
                          text=True, check=True, timeout=60)
    return int(done.stdout)


def test_faber_follows_a_scripts_writes_and_brings_the_state_up_to_date(project_dir: Path, cli: Cli) -> None:
    run_id = cli.ok("runs", "new", "--work-id", "1").strip()
    for arguments in (["workflow_start"], ["phase_start", "--phase", "frame"]):
        cli.ok("event", "emit", run_id, *arguments)
    assert script_emit(project_dir, run_id, "checkpoint", "from the script") == 3
    assert script_emit(project_dir, run_id, "decision_point", "go on") == 4
    # The script set state.json's last_event_id alone: faber says the file does not reflect the log.
    stored = json.loads((project_dir / RUNS / run_id / "state.json").read_text())
    assert stored["last_event_id"] == 4 and stored["reduced_event_id"] == 2
    shown = cli("runs", "show", run_id)
    assert shown.returncode == 0 and "state.json does not reflect the events" in shown.stderr
    record = Faber.open(project_dir, clean_environ()).run(run_id)
    assert record.state.last_event_id == 4 and record.state.reduced_event_id == 4 and record.warnings
    # faber's next event takes the next id, and state.json holds every event again.
    assert cli.ok("event", "emit", run_id, "phase_start", "--phase", "build").strip() == "5"
    faber = Faber.open(project_dir, clean_environ())
    assert json.loads((project_dir / RUNS / run_id / "state.json").read_text()) == faber.reconstruct(run_id)[0] \
        .model_dump(mode="json")
    assert faber.run(run_id).warnings == [] and cli("runs", "verify", run_id).returncode == 0


def test_a_counter_left_behind_by_a_script_never_reuses_an_id(project_dir: Path, cli: Cli) -> None:
    run_id = cli.ok("runs", "new", "--work-id", "1").strip()
    cli.ok("event", "emit", run_id, "workflow_start")
    for number in range(3):
        script_emit(project_dir, run_id, "checkpoint", f"script {number}")
    events = project_dir / RUNS / run_id / "events"
    (events / ".next-id").write_text("2\n")  # as a script leaves it after reading an empty counter
    assert cli.ok("event", "emit", run_id, "decision_point").strip() == "5"
    assert sorted(path.name for path in events.glob("*.json")) == [
        "001-workflow_start.json", "002-checkpoint.json", "003-checkpoint.json", "004-checkpoint.json",
        "005-decision_point.json"]
    assert (events / ".next-id").read_text() == "6\n"


def test_four_scripts_and_four_faber_emitters_at_once(project_dir: Path, cli: Cli) -> None:
    """Every event faber acknowledged is either in its file or named by `faber runs verify` (the
    scripts' locking, which deletes its lock file, can give a script an id faber took)."""
    run_id = cli.ok("runs", "new", "--work-id", "1").strip()
    trial = run_trial(project_dir, run_id, clean_environ())
    assert trial.acknowledged == 100 and trial.faber_duplicates == 0
    verify = cli("runs", "verify", run_id)
    overwritten = verify.stdout.count("event_overwritten:")
    assert trial.survived + overwritten == trial.acknowledged, verify.stdout
    assert trial.survived >= 50  # figures over 10 trials: docs/migration.md

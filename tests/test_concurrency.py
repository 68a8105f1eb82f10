"""Many writers, one run: ids stay unique and gap-free across real processes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import FABER, Cli, clean_environ
from faber_hookspecs.validation import validate_event

WRITERS = 8
EMITS_EACH = 100


def test_8_processes_x_100_cli_emits_into_one_run(cli: Cli, project_dir: Path) -> None:
    run = cli.ok("runs", "new", "--work-id", "42").strip()
    loop = f'for i in $(seq {EMITS_EACH}); do "{FABER}" event emit "{run}" checkpoint --message "w$W-$i" || exit 1; done'
    writers = [
        subprocess.Popen(["bash", "-c", loop], cwd=project_dir, env=clean_environ(W=str(w)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(WRITERS)
    ]
    acknowledged: list[int] = []
    for writer in writers:
        out, err = writer.communicate(timeout=900)
        assert writer.returncode == 0, err
        acknowledged += [int(line) for line in out.split()]
    total = WRITERS * EMITS_EACH
    assert sorted(acknowledged) == list(range(1, total + 1)), "every emit got its own id"

    events_dir = project_dir / ".fractary/plugins/faber/runs" / run / "events"
    files = sorted(events_dir.glob("*.json"), key=lambda p: int(p.name.split("-")[0]))
    assert [int(p.name.split("-")[0]) for p in files] == list(range(1, total + 1))
    messages = set()
    for path in files:
        event = json.loads(path.read_text())
        validate_event(event)
        assert event["event_id"] == int(path.name.split("-")[0])
        messages.add(event["message"])
    assert len(messages) == total, "no event overwrote another"
    assert (events_dir / ".next-id").read_text() == f"{total + 1}\n"
    state = json.loads((events_dir.parent / "state.json").read_text())
    assert state["last_event_id"] == total
    assert state == cli.json("runs", "reconstruct", run)
    assert not (events_dir / ".pending").exists()
    assert subprocess.run([FABER, "runs", "show", run, "--json"], cwd=project_dir, env=clean_environ(),
                          capture_output=True, text=True).returncode == 0

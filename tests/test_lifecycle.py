"""Finished means finished: the lifecycle table (from each status, which new events a run takes),
checked by the record store under the run's lock, with the same one-line refusal through every door."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import FABER, REPO, Cli, assert_one_line_error, clean_environ, snapshot, write_workflow
from faber_hookspecs.catalogue import EVENT_TYPES
from faber_hookspecs.errors import RunFinished
from faber_hookspecs.reducer import ANY_EVENT, LIFECYCLE
from mcp import Client
from mcp_support import call, fail

from faber_host.api import Faber
from faber_host.mcp.server import build_server

ERROR = {"code": "E1", "message": "boom"}

SETUP: dict[str, list[dict[str, Any]]] = {
    "pending": [],
    "in_progress": [{"type": "workflow_start"}],
    "paused": [{"type": "workflow_start"}, {"type": "workflow_paused"}],
    "failed": [{"type": "workflow_start"}, {"type": "workflow_error", "error": ERROR}],
    "cancelled": [{"type": "workflow_start"}, {"type": "workflow_cancelled"}],
    "denied": [
        {"type": "workflow_start"}, {"type": "approval_request", "phase": "build"},
        {"type": "approval_denied", "phase": "build"}, {"type": "workflow_cancelled", "status": "denied"},
    ],
    "completed": [{"type": "workflow_start"}, {"type": "workflow_complete"}],
}
"""Events that bring a new run to each status of the table."""

RESUMING = {"workflow_resumed", "approval_granted", "approval_denied"}
EXPECTED_ACCEPTED: dict[str, set[str] | None] = {  # None: every event (written out here, not read from the table)
    "pending": None, "in_progress": None, "paused": None,
    "failed": RESUMING, "cancelled": RESUMING, "denied": set(), "completed": set(),
}

FAMILIES: dict[str, list[str]] = {}
for _entry in EVENT_TYPES.values():
    FAMILIES.setdefault(_entry.category, []).append(_entry.name)
FAMILIES["vendor"] = ["x-acme.deploy_start"]


def draft_of(kind: str) -> dict[str, Any]:
    """The smallest valid event of type ``kind``."""
    entry = EVENT_TYPES.get(kind)
    requires = entry.requires if entry else ()
    fields: dict[str, Any] = {"type": kind}
    values = {"phase": "build", "step": "compile", "error": ERROR, "duration_ms": 5}
    fields.update({name: values[name] for name in requires})
    return fields


def brought_to(faber: Faber, status: str) -> str:
    run = faber.new_run("123").run_id
    for fields in SETUP[status]:
        faber.emit_draft(run, fields)
    return run


def expected_refusal(run: str, status: str, kind: str) -> str:
    short = run.rsplit("/", 1)[-1][:8]
    rerun = f"`faber run --rerun {short}` starts a new run with your changes"
    if status == "completed":
        return f"run {run} is completed and takes no new events ({kind} refused): {rerun}"
    if status == "denied":
        return f"run {run} ended as denied and takes no new events ({kind} refused): {rerun}"
    return (f"run {run} is {status} and takes only workflow_resumed, approval_granted, approval_denied until it "
            f"is resumed ({kind} refused): `faber run --resume {short}` continues it, or {rerun}")


def test_every_status_in_the_reducer_is_a_row_of_the_table() -> None:
    assert set(LIFECYCLE) == set(SETUP) == set(EXPECTED_ACCEPTED)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("status", list(SETUP))
def test_each_status_takes_exactly_what_the_table_says(faber: Faber, project_dir: Path, status: str, family: str) -> None:
    accepted = EXPECTED_ACCEPTED[status]
    for kind in FAMILIES[family]:
        run = brought_to(faber, status)
        assert faber.run(run).state.status == ("cancelled" if status == "denied" else status)
        if accepted is None or kind in accepted:
            assert faber.emit_draft(run, draft_of(kind)).event.type == kind
            continue
        before = snapshot(project_dir / ".fractary")
        with pytest.raises(RunFinished) as refused:
            faber.emit_draft(run, draft_of(kind))
        assert str(refused.value) == expected_refusal(run, status, kind)
        assert snapshot(project_dir / ".fractary") == before, "a refusal writes nothing"
        assert faber.reconstruct(run)[0].last_event_id == len(SETUP[status])


def test_the_docs_state_the_same_table() -> None:
    rows = ["| Status | New events accepted |", "| --- | --- |"]
    for status, accepted in LIFECYCLE.items():
        shown = "every event" if ANY_EVENT in accepted else ", ".join(f"`{k}`" for k in accepted) or "none"
        rows.append(f"| `{status}` | {shown} |")
    docs = (REPO / "docs" / "run-id-system.md").read_text()
    section = docs.split("## Lifecycle", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("|")]
    assert table == rows


# The doors -------------------------------------------------------------------------------------------


def test_after_completion_faber_event_emit_refuses_with_one_line(faber: Faber, cli: Cli) -> None:
    run = brought_to(faber, "completed")
    data = json.dumps({"error": ERROR})
    for args, kind in (
        (["event", "emit", run, "workflow_error", "--data", data], "workflow_error"),
        (["event", "emit", run, "step_start", "--phase", "build", "--step", "compile"], "step_start"),
        (["event", "emit", run, "workflow_start"], "workflow_start"),
        # the reference's flags
        (["event", "emit", "--run-id", run, "--type", "workflow_error", "--error", json.dumps(ERROR)], "workflow_error"),
    ):
        line = assert_one_line_error(cli(*args))
        assert line == "faber: error: " + expected_refusal(run, "completed", kind)
    debug = cli("--debug", "event", "emit", run, "checkpoint")  # --debug shows the traceback, same message
    assert debug.returncode != 0  # --debug lets the exception out (exit 1)
    assert debug.stderr.strip().splitlines()[-1].endswith(expected_refusal(run, "completed", "checkpoint"))
    listed = cli.json("runs", "list", "--json")
    assert isinstance(listed, list)
    assert [(r["run_id"], r["status"]) for r in listed] == [(run, "completed")]
    assert faber.run(run).state.last_event_id == 2


@pytest.mark.anyio
async def test_mcp_refuses_with_the_clis_message(faber: Faber, cli: Cli) -> None:
    run = brought_to(faber, "completed")
    async with Client(build_server(faber)) as client:
        message = await fail(client, "emit_event", run=run, type="step_start", phase="build", step="compile")
        assert message == expected_refusal(run, "completed", "step_start")
        assert cli("event", "emit", run, "step_start", "--phase", "build", "--step", "compile").stderr.strip() == (
            "faber: error: " + message)
        failed = brought_to(faber, "failed")
        refused = await fail(client, "emit_event", run=failed, type="checkpoint")
        assert refused == expected_refusal(failed, "failed", "checkpoint")
        resumed = await call(client, "emit_event", run=failed, type="workflow_resumed")
        assert resumed["event_id"] == 3
        assert (await call(client, "emit_event", run=failed, type="checkpoint"))["event_id"] == 4


def test_a_log_with_events_after_its_end_still_loads(faber: Faber, project_dir: Path) -> None:
    """Older logs (and the reference fixtures) may hold events after workflow_complete: replaying them
    is not a new append, so it must not be refused."""
    run = brought_to(faber, "completed")
    events = project_dir / ".fractary/plugins/faber/runs" / run / "events"
    late = json.loads((events / sorted(p.name for p in events.glob("*.json"))[-1]).read_text())
    late.update(event_id=3, type="checkpoint")
    (events / "003-checkpoint.json").write_text(json.dumps(late))
    (events / ".next-id").write_text("4")
    state, _ = faber.reconstruct(run)
    assert state.status == "completed" and state.last_event_id == 3


def test_two_processes_one_completing_one_emitting_never_store_after_completion(faber: Faber, project_dir: Path) -> None:
    run = brought_to(faber, "in_progress")
    env = clean_environ()
    loop = f'for i in $(seq 30); do "{FABER}" event emit {run} checkpoint >/dev/null 2>&1; done'
    emitter = subprocess.Popen(["sh", "-c", loop], cwd=project_dir, env=env)
    completer = subprocess.run([FABER, "event", "emit", run, "workflow_complete"], cwd=project_dir, env=env,
                               capture_output=True, text=True, timeout=120)
    emitter.wait(timeout=300)
    assert completer.returncode == 0, completer.stderr
    types = [event.type for event in faber.events(run)]
    assert types.index("workflow_complete") == len(types) - 1, types


def test_a_failed_run_takes_its_resume_then_continues_and_a_completed_one_is_rerun(
    cli: Cli, faber: Faber, project_dir: Path
) -> None:
    compile_step = {"id": "compile", "run": "test -f fixed"}
    write_workflow(project_dir, {"id": "ci", "autonomy": {"level": "autonomous"},
                                 "phases": {"build": {"steps": [compile_step]}}})
    first = cli("run", "ci", "--work-id", "42")
    assert first.returncode == 1, first.stderr
    (run,) = [state.run_id for state in faber.list_runs()]
    assert faber.run(run).state.status == "failed"
    line = assert_one_line_error(cli("event", "emit", run, "step_start", "--phase", "build", "--step", "compile"))
    assert line == "faber: error: " + expected_refusal(run, "failed", "step_start")
    (project_dir / "fixed").write_text("")
    resumed = cli("run", "--resume", run.rsplit("/", 1)[-1][:8])
    assert resumed.returncode == 0, resumed.stderr
    types = [event.type for event in faber.events(run)]
    assert "workflow_resumed" in types and types[-1] == "workflow_complete"
    assert types.index("workflow_resumed") < types.index("step_complete")  # it continued after the resume
    line = assert_one_line_error(cli("event", "emit", run, "workflow_start"))
    assert line == "faber: error: " + expected_refusal(run, "completed", "workflow_start")
    rerun = cli("run", "--rerun", run.rsplit("/", 1)[-1][:8])  # the way the refusal names: a new run
    assert rerun.returncode == 0, rerun.stderr
    assert faber.run(run).state.status == "completed" and len(faber.list_runs()) == 2

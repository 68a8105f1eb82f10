"""Resume, re-run and verify through MCP: an agent that drives a workflow's steps itself, with nothing
but the tools (in-memory client, both protocol eras)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from conftest import write_workflow
from faber_hookspecs.errors import FaberError
from mcp import Client
from mcp_support import call, fail

from faber_host.api import Faber
from faber_host.mcp.server import build_server

pytestmark = pytest.mark.anyio
RUNS = Path(".fractary/plugins/faber/runs")
AGENTIC = {
    "id": "agentic",
    "autonomy": {"level": "autonomous"},
    "phases": {
        "frame": {"steps": [{"id": "fetch", "prompt": "Read issue {work_id} and summarise it."}]},
        "build": {"steps": [{"id": "implement", "command": "/build", "arguments": {"flavour": "{flavour}"}},
                            {"id": "compile", "command": "/compile"}]},
    },
}


@pytest.fixture(params=["auto", "legacy"])
async def client(request: pytest.FixtureRequest, faber: Faber, project_dir: Path) -> AsyncIterator[Client]:
    write_workflow(project_dir, AGENTIC)
    async with Client(build_server(faber), mode=request.param) as connected:
        yield connected


async def drive(client: Client, run: str, *, fail_step: str | None = None) -> list[str]:
    """Do what resume_context asks until the run needs nothing more; report every step with
    emit_event. With ``fail_step``, that step fails once and the run stops with workflow_error."""
    done: list[str] = []
    for _ in range(20):
        context = await call(client, "resume_context", run=run)
        action = context["next_action"]
        if action == "run_step":
            step = context["next_step"]
            where = {"phase": step["phase"], "step": step["id"]}
            await call(client, "emit_event", run=run, type="step_start", **where)
            if step["id"] == fail_step:
                await call(client, "emit_event", run=run, type="step_error", **where,
                           error={"code": "E_AGENT", "message": "could not do it"})
                await call(client, "emit_event", run=run, type="workflow_error",
                           error={"code": "STEP_FAILED", "message": f"{step['id']} failed"})
                return done
            await call(client, "emit_event", run=run, type="step_complete", duration_ms=10, **where)
            done.append(f"{step['phase']}:{step['id']}")
        elif action == "close_phase":
            await call(client, "emit_event", run=run, type="phase_complete", phase=context["resume_from"]["phase"])
        elif action == "finish":
            await call(client, "emit_event", run=run, type="workflow_complete")
        else:
            assert action == "none", context
            return done
    raise AssertionError("the run never finished")


async def test_an_agent_drives_a_run_fails_resumes_and_finishes(client: Client, faber: Faber) -> None:
    run = (await call(client, "start_run", work_id="42", workflow_id="agentic", params={"flavour": "vanilla"}))["run_id"]
    context = await call(client, "resume_context", run=run)
    assert context["resumable"] is True and context["next_action"] == "run_step"
    assert context["next_step"]["id"] == "fetch" and context["next_step"]["prompt"] == "Read issue 42 and summarise it."
    assert faber.run(run).state.last_event_id == 0, "resume_context has no side effects"

    started = await call(client, "resume_run", run=run)
    assert started["next_step"]["id"] == "fetch" and started["status"] == "in_progress"
    assert await drive(client, run, fail_step="implement") == ["frame:fetch"]
    assert faber.run(run).state.status == "failed"

    failed = await call(client, "resume_context", run=run)
    assert failed["resumable"] is True and failed["next_step"]["id"] == "implement", "a failed step is retried"
    assert failed["next_step"]["arguments"] == {"flavour": "vanilla"} and failed["completed_steps"] == {"frame": ["fetch"]}
    resumed = await call(client, "resume_run", run=run)
    assert resumed["next_step"]["id"] == "implement"
    assert [e.type for e in faber.events(run)][-1] == "workflow_resumed"
    assert await drive(client, run) == ["build:implement", "build:compile"]
    assert faber.run(run).state.status == "completed"

    refused = await fail(client, "resume_run", run=run)
    with pytest.raises(FaberError) as raised:
        faber.resume(run)
    assert refused == str(raised.value) and "rerun" in refused
    assert (await call(client, "verify_run", run=run)) == {
        "run_id": run, "ok": True, "events": faber.run(run).state.last_event_id,
        "last_event_id": faber.run(run).state.last_event_id, "problems": [],
    }


async def test_rerun_run_links_both_runs_and_records_the_changes(client: Client, faber: Faber) -> None:
    original = (await call(client, "start_run", work_id="7", workflow_id="agentic", params={"flavour": "a"},
                           autonomy="autonomous"))["run_id"]
    await call(client, "resume_run", run=original)
    await drive(client, original)
    created = await call(client, "rerun_run", run=original.split("/")[-1][:8], params={"flavour": "b", "extra": "1"})
    new = created["new_run_id"]
    assert created["original_run_id"] == original and new != original
    assert created["parameter_changes"] == {"flavour": {"from": "a", "to": "b"}, "extra": {"from": None, "to": "1"}}
    assert created["context"]["next_step"]["id"] == "fetch" and created["warnings"] == []
    assert faber.run(original).metadata.relationships.child_runs == [new]
    metadata = faber.run(new).metadata
    assert metadata.relationships.rerun_of == original and metadata.params == {"flavour": "b", "extra": "1"}
    assert await drive(client, new) == ["frame:fetch", "build:implement", "build:compile"]

    assert (await fail(client, "rerun_run", run=original, params={"bad name": 1})).startswith("invalid parameter name")
    assert (await fail(client, "rerun_run", run="feedfacecafe")).startswith("no run matches 'feedfacecafe'")


async def test_verify_run_names_each_problem_and_resume_errors_are_one_line(
    client: Client, faber: Faber, project_dir: Path
) -> None:
    run = (await call(client, "start_run", work_id="9", workflow_id="agentic", params={"flavour": "x"}))["run_id"]
    await call(client, "resume_run", run=run)
    await call(client, "emit_event", run=run, type="step_start", phase="frame", step="fetch")
    state_file = project_dir / RUNS / run / "state.json"
    state_file.write_text(json.dumps({**json.loads(state_file.read_text()), "status": "completed"}))

    report = await call(client, "verify_run", run=run)
    assert report["ok"] is False and [p["code"] for p in report["problems"]] == ["state_mismatch"]
    assert (await call(client, "reconstruct_state", run=run, write=True))["written"] is True
    assert (await call(client, "verify_run", run=run))["ok"] is True

    for tool, arguments in (
        ("resume_context", {"run": run, "step": "nowhere"}),
        ("resume_run", {"run": run, "step": "build:nothing"}),
        ("verify_run", {"run": "acme/widget-service/00000000-0000-4000-8000-000000000000"}),
    ):
        message = await fail(client, tool, **arguments)
        expected = _api_error(faber, tool, arguments)
        assert message == expected, (tool, message, expected)


def _api_error(faber: Faber, tool: str, arguments: dict[str, Any]) -> str:
    method = {"resume_context": faber.resume_context, "resume_run": faber.resume, "verify_run": faber.verify}[tool]
    with pytest.raises(FaberError) as raised:
        method(**{("run" if key == "run" else key): value for key, value in arguments.items()})
    return str(raised.value)

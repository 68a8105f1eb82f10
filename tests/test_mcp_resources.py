"""Every MCP resource and resource template through the SDK's in-memory client, including errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mcp import Client, MCPError
from mcp_support import call, read

from faber_host.api import Faber
from faber_host.mcp.errors import RESOURCE_NOT_FOUND
from faber_host.mcp.server import build_server

pytestmark = pytest.mark.anyio
TEMPLATES = {
    "faber://run/{org}/{project}/{uuid}/state",
    "faber://run/{org}/{project}/{uuid}/metadata",
    "faber://run/{org}/{project}/{uuid}/events{?since_id,limit,type,phase}",
    "faber://runs/{+run_id}",
    "faber://runs/{+run_id}/events{?since_id,limit,type,phase}",
    "faber://run/{run}/state",
    "faber://run/{run}/events{?since_id,limit,type,phase}",
}


@pytest.fixture(params=["auto", "legacy"])
async def client(request: pytest.FixtureRequest, faber: Faber) -> AsyncIterator[Client]:
    async with Client(build_server(faber), mode=request.param) as connected:
        yield connected


@pytest.fixture
async def run(client: Client) -> str:
    run_id = str((await call(client, "start_run", work_id="7", params={"ticket": "T-7"}))["run_id"])
    await call(client, "emit_event", run=run_id, type="workflow_start")
    await call(client, "emit_event", run=run_id, type="phase_start", phase="frame")
    await call(client, "emit_event", run=run_id, type="step_start", phase="frame", step="fetch")
    await call(client, "emit_event", run=run_id, type="step_complete", phase="frame", step="fetch", duration_ms=3)
    await call(client, "emit_event", run=run_id, type="phase_complete", phase="frame")
    return run_id


async def test_the_listings(client: Client) -> None:
    runs, runs_list = (await client.list_resources()).resources
    assert str(runs_list.uri) == "faber://runs/list"
    assert str(runs.uri) == "faber://runs" and runs.mime_type == "application/json" and runs.description
    templates = (await client.list_resource_templates()).resource_templates
    assert {t.uri_template for t in templates} == TEMPLATES
    assert all(t.description and t.mime_type == "application/json" for t in templates)


async def test_state_metadata_and_events_of_a_run(client: Client, run: str, faber: Faber) -> None:
    record = faber.run(run)
    state = await read(client, f"faber://run/{run}/state")
    assert state == record.state.model_dump(mode="json")
    assert state["last_event_id"] == 5 and state["phases"]["frame"]["status"] == "completed"
    metadata = await read(client, f"faber://run/{run}/metadata")
    assert metadata == record.metadata.to_json() and metadata["params"] == {"ticket": "T-7"}

    events = await read(client, f"faber://run/{run}/events")
    assert events["run_id"] == run and events["next_since_id"] is None
    assert events["events"] == [event.to_json() for event in faber.events(run)]

    uuid = run.split("/")[-1]
    by_prefix = await read(client, f"faber://run/acme/widget-service/{uuid[:8]}/state")
    assert by_prefix == state, "the uuid may be a unique prefix"


async def test_event_pages_through_the_query(client: Client, run: str) -> None:
    ids: list[int] = []
    since = 0
    while since is not None:
        page = await read(client, f"faber://run/{run}/events?since_id={since}&limit=2")
        assert len(page["events"]) <= 2
        ids += [event["event_id"] for event in page["events"]]
        since = page["next_since_id"]
    assert ids == [1, 2, 3, 4, 5]
    steps = await read(client, f"faber://run/{run}/events?type=step_complete")
    assert [e["event_id"] for e in steps["events"]] == [4]
    later = await read(client, f"faber://run/{run}/events?phase=frame&since_id=3")
    assert [e["event_id"] for e in later["events"]] == [4, 5]


async def test_the_reference_forms(client: Client, run: str, faber: Faber) -> None:
    whole = await read(client, f"faber://runs/{run}")
    assert whole["metadata"]["run_id"] == run and whole["state"]["last_event_id"] == 5 and whole["warnings"] == []
    reference = {"status": "success", "operation": "get-run", "run_id": run, "event_count": 5}
    assert whole == {**reference, **faber.run(run).model_dump(mode="json")}
    events = await read(client, f"faber://runs/{run}/events")
    assert [e["event_id"] for e in events["events"]] == [1, 2, 3, 4, 5]
    uuid = run.split("/")[-1]
    assert (await read(client, f"faber://runs/{uuid}"))["state"] == whole["state"], "a bare uuid names the run"
    page = await read(client, f"faber://runs/{uuid[:8]}/events?limit=1&since_id=1")
    assert [e["event_id"] for e in page["events"]] == [2] and page["next_since_id"] == 2


async def test_runs_newest_first(client: Client) -> None:
    assert (await read(client, "faber://runs")) == {"status": "success", "operation": "list-runs", "runs": [],
                                                    "total": 0, "next_cursor": None}
    made = [(await call(client, "start_run", work_id=str(i)))["run_id"] for i in range(3)]
    listing = await read(client, "faber://runs")
    assert [summary["run_id"] for summary in listing["runs"]] == list(reversed(made))
    assert listing["runs"][0]["status"] == "pending" and listing["next_cursor"] is None


async def test_errors_are_json_rpc_errors_with_the_clis_message(client: Client, run: str, faber: Faber) -> None:
    missing = "acme/widget-service/00000000-0000-4000-8000-000000000000"
    for uri in (f"faber://run/{missing}/state", f"faber://runs/{missing}", f"faber://run/{missing}/events"):
        with pytest.raises(MCPError) as raised:
            await read(client, uri)
        assert raised.value.error.code == RESOURCE_NOT_FOUND
        assert raised.value.error.message == f"no run {missing} in {faber.gateway.project.faber_dir / 'runs'}"

    for uri, message in (
        (f"faber://run/{run}/events?limit=many", "limit must be a whole number, not 'many'"),
        (f"faber://run/{run}/events?limit=0", "limit must be between 1 and 10000"),
        (f"faber://run/{run}/events?since_id=-2", "since_id must be at least 0"),
        (f"faber://run/{run}/events?phase=bild", "unknown phase 'bild': use one of frame, architect, build, evaluate, release"),
        ("faber://run/Acme/widget-service/x/state", "invalid org 'Acme'"),
        ("faber://runs/not/a/run/at/all", "cannot read 'not/a/run/at/all' as a run"),
    ):
        with pytest.raises(MCPError) as raised:
            await read(client, uri)
        assert raised.value.error.code == -32602, uri
        assert raised.value.error.message.startswith(message), (uri, raised.value.error.message)

    with pytest.raises(MCPError) as raised:
        await read(client, "faber://elsewhere")
    assert "Unknown resource" in raised.value.error.message
    assert (await read(client, f"faber://run/{run}/state"))["last_event_id"] == 5, "and the server goes on"

"""The archive through the MCP server's tools, against the real S3-compatible server of these tests:
archive with cleanup on one machine, restore on another, and the one-line errors."""

from __future__ import annotations

import shutil
from typing import Any

import anyio
from mcp import Client
from s3_helpers import Project, emit_failed_run, event_files

from faber_host.mcp.server import build_server

pytest_plugins = ["s3_fixtures"]  # the S3 server and the projects archiving to it: fixtures


async def _call(client: Client, tool: str, **arguments: Any) -> Any:
    result = await client.call_tool(tool, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    return ("error", text) if result.is_error else result.structured_content


def test_archive_and_restore_through_mcp(make_project: Any, bucket: str) -> None:
    laptop: Project = make_project("laptop")
    ci: Project = make_project("ci-machine")
    run_id = emit_failed_run(laptop.api())
    original = event_files(laptop.run_folder(run_id))
    running = laptop.api().new_run("busy").run_id
    laptop.api().emit(running, "workflow_start")

    async def on_the_laptop() -> None:
        async with Client(build_server(laptop.api())) as client:
            refused = await _call(client, "archive_run", run=running.split("/")[-1][:8])
            assert refused[0] == "error" and f"run {running} is in_progress" in refused[1] and "\n" not in refused[1]
            assert (await _call(client, "consolidate_events", run=run_id))["manifest"]["event_count"] == len(original)
            archived = await _call(client, "archive_run", run=run_id.split("/")[-1][:8], cleanup=True)
            assert archived["archived"] is True and archived["event_count"] == len(original)
            assert archived["receipts"][0]["url"] == f"s3://{bucket}/faber/runs/{run_id}/"
            assert archived["cleanup"]["files"] == len(original)
            again = await _call(client, "archive_run", run=run_id)
            assert again["already_archived"] is True
            refused = await _call(client, "emit_event", run=run_id, type="checkpoint")
            assert refused[0] == "error" and "\n" not in refused[1], "a cleaned-up run takes no events"
            resumed = await _call(client, "resume_run", run=run_id)  # restores the events first, by itself
            assert resumed["run_id"] == run_id and resumed["status"] == "in_progress"

    async def on_ci() -> None:
        async with Client(build_server(ci.api())) as client:
            mismatch = await _call(client, "restore_run", run=run_id, expected_manifest_sha256="0" * 64)
            assert mismatch[0] == "error" and "\n" not in mismatch[1]
            assert not ci.run_folder(run_id).exists(), "a refused restore changes nothing"
            restored = await _call(client, "restore_run", run=run_id)
            assert restored["run_id"] == run_id and restored["event_count"] == len(original)
            events = await _call(client, "get_events", run=run_id)
            assert [event["event_id"] for event in events["events"]] == list(range(1, len(original) + 1))
            continued = await _call(client, "emit_event", run=run_id, type="workflow_resumed")
            assert continued["event_id"] == len(original) + 1

    anyio.run(on_the_laptop)
    back = event_files(laptop.run_folder(run_id))
    assert {name: back[name] for name in original} == original and len(back) == len(original) + 1
    shutil.rmtree(laptop.run_folder(run_id))
    anyio.run(on_ci)
    restored_files = event_files(ci.run_folder(run_id))
    assert {name: restored_files[name] for name in original} == original, "the same bytes came back"

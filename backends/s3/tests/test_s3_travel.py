"""Runs that travel: two project folders stand for two machines sharing one bucket (moto, on 127.0.0.1).
A run is named anywhere by a short prefix (the archive's uuid index answers it), read from its bundle
without being restored, and restored by the commands that write to it, which say so."""

from __future__ import annotations

import json
import shutil
from typing import Any

from s3_helpers import emit_failed_run
from test_s3_round_trip import with_workflow

pytest_plugins = ["s3_fixtures"]  # the S3 server, the proxy and the projects: fixtures


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_a_run_that_failed_on_one_machine_is_read_resumed_and_rerun_on_another_by_its_short_name(
    make_project: Any,
) -> None:
    machine_a = with_workflow(make_project("machine-a"))
    machine_b = make_project("machine-b")  # no copy of the workflow file here
    workflow_file = machine_b.root / ".fractary" / "plugins" / "faber" / "workflows" / "flaky.json"
    assert not workflow_file.exists()

    # On A: the run fails (fixed.txt is missing), is archived, and its events are removed.
    assert machine_a.cli("run", "flaky", "--work-id", "77").returncode != 0
    run_id = machine_a.api().list_runs()[0].run_id
    short = run_id.rsplit("/", 1)[1][:8]
    machine_a.ok("archive", short, "--cleanup")
    assert not (machine_a.run_folder(run_id) / "events").exists()

    # On A, the cleaned-up run is read from its bundle: events, report, verify; nothing comes back.
    events = machine_a.ok("events", short, "--json")
    assert [json.loads(line)["type"] for line in lines(events)][-1] == "workflow_error"
    assert machine_a.ok("events", short, "--json", "--follow") == events  # finished: --follow ends
    assert machine_a.json("runs", "verify", short)["ok"] is True
    assert run_id in machine_a.ok("runs", "report", short, "--output", "-")
    assert not (machine_a.run_folder(run_id) / "events").exists()

    # On B, which never saw it: shown, reported and inspected by 8 characters, without a restore.
    shown = machine_b.cli("runs", "show", short)
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    assert run_id in shown.stdout and "failed" in shown.stdout and "compile" in shown.stdout
    report = machine_b.root / "report.html"
    assert machine_b.ok("runs", "report", short, "--output", str(report)).strip() == str(report)
    assert run_id in report.read_text() and "BUILD" in report.read_text().upper()
    context = machine_b.json("runs", "resume-context", short)
    assert context["resumable"] is True and context["resume_from"]["step"] == "compile"
    assert not machine_b.run_folder(run_id).exists(), "reading restored nothing"
    assert machine_b.json("runs", "list") == []

    # On B: resumed by its short name, without the workflow file; restored first, and said so.
    (machine_b.root / "fixed.txt").write_text("fixed\n")
    resumed = machine_b.cli("run", "--resume", short)
    assert resumed.returncode == 0, resumed.stderr
    said = [line for line in lines(resumed.stderr) if "restored from the archive first" in line]
    assert len(said) == 1 and run_id in said[0]
    assert machine_b.api().run(run_id).state.status == "completed"
    assert not workflow_file.exists()

    # On B: re-run by its short name (the workflow comes from the run's record again).
    rerun = machine_b.cli("run", "--rerun", short, "--json")
    assert rerun.returncode == 0, rerun.stderr
    outcome = json.loads(rerun.stdout)
    new_id = outcome["run_id"]
    assert outcome["status"] == "completed" and outcome["rerun_of"] == run_id and new_id != run_id
    assert "restored" not in rerun.stderr, "the original is here now: nothing to restore"

    # Both runs archived from B; both machines list both.
    machine_b.ok("archive", short)
    machine_b.ok("archive", new_id)
    assert {run["run_id"] for run in machine_b.json("runs", "list")} == {run_id, new_id}
    for machine in (machine_a, machine_b):
        listed = {run["run_id"] for run in machine.json("runs", "list", "--archived")}
        assert listed == {run_id, new_id}, machine.root.name

    # On A, the re-run made on B is shown by its short name too.
    shown = machine_a.json("runs", "show", new_id.rsplit("/", 1)[1][:8])
    assert shown["metadata"]["run_id"] == new_id and shown["state"]["status"] == "completed"
    assert shown["metadata"]["relationships"]["rerun_of"] == run_id


def test_a_short_name_is_answered_by_the_index_alone(make_project: Any, s3: Any, bucket: str) -> None:
    """The index answers a prefix with one listing under _index/; a run missing from it is found by
    its full id only, which shows the bucket is not walked."""
    machine_a = make_project("machine-a")
    machine_b = make_project("machine-b")
    faber = machine_a.api()
    run_id = emit_failed_run(faber)
    faber.archive_run(run_id, cleanup=True)
    org, project, uuid = run_id.split("/")
    assert s3.head_object(Bucket=bucket, Key=f"faber/runs/_index/{uuid}/{org}/{project}")["ContentLength"] == 0

    assert machine_b.json("runs", "show", uuid[:8])["metadata"]["run_id"] == run_id
    assert machine_b.json("runs", "show", uuid)["metadata"]["run_id"] == run_id

    s3.delete_object(Bucket=bucket, Key=f"faber/runs/_index/{uuid}/{org}/{project}")
    missing = machine_b.cli("runs", "show", uuid[:8])
    assert missing.returncode != 0 and lines(missing.stderr) == [
        f"faber: error: no run here or in the archive matches {uuid[:8]!r}; `faber runs list` shows the runs here, "
        "`faber runs list --archived` the archive's"
    ]
    assert machine_b.json("runs", "show", run_id)["metadata"]["run_id"] == run_id  # the full id needs no index


def test_a_short_name_costs_one_listing_of_the_index_however_many_runs_the_bucket_holds(
    make_project: Any, proxy: Any, s3: Any, bucket: str
) -> None:
    """With 200 other runs in the bucket, resolving a short name is one ListObjectsV2 request, with
    the index prefix and the short name in it; nothing else is listed."""
    machine_a = make_project("machine-a")
    run_id = emit_failed_run(machine_a.api())
    machine_a.api().archive_run(run_id, cleanup=True)
    for number in range(200):  # other runs: their index entries and a bundle's worth of keys each
        uuid = f"{number:08x}-0000-4000-8000-000000000000"
        s3.put_object(Bucket=bucket, Key=f"faber/runs/_index/{uuid}/acme/widget-service", Body=b"")
        s3.put_object(Bucket=bucket, Key=f"faber/runs/acme/widget-service/{uuid}/manifest.json", Body=b"{}")
    machine_b = make_project("machine-b", endpoint=proxy.url)
    short = run_id.rsplit("/", 1)[1][:8]
    proxy.requests.clear()
    assert machine_b.json("runs", "resume-context", short)["run_id"] == run_id
    listings = [path for method, path in proxy.requests if method == "GET" and "list-type=2" in path]
    assert len(listings) == 1 and f"prefix=faber%2Fruns%2F_index%2F{short}" in listings[0], listings


def test_an_ambiguous_short_name_is_refused_with_the_candidates(make_project: Any, s3: Any, bucket: str) -> None:
    machine = make_project()
    twins = ["0123abcd-0000-4000-8000-000000000001", "0123abcd-0000-4000-8000-000000000002"]
    for uuid in twins:
        s3.put_object(Bucket=bucket, Key=f"faber/runs/_index/{uuid}/acme/widget-service", Body=b"")
    refused = machine.cli("runs", "show", "0123abcd")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert lines(refused.stderr) == [
        "faber: error: '0123abcd' matches 2 runs: acme/widget-service/0123abcd-0000-4000-8000-000000000001, "
        "acme/widget-service/0123abcd-0000-4000-8000-000000000002; give more characters"
    ]
    # One more character settles it; the entry has no bundle behind it, which is said in one line too.
    alone = machine.cli("runs", "show", "0123abcd-0000-4000-8000-000000000002")
    assert alone.returncode != 0 and len(lines(alone.stderr)) == 1 and "no run" in alone.stderr


def test_an_unreachable_archive_fails_a_lookup_in_one_line_and_local_reads_go_on(make_project: Any) -> None:
    machine = make_project()
    run_id = emit_failed_run(machine.api())
    machine.configure(endpoint_url="http://127.0.0.1:9", max_attempts=1, connect_timeout=1)
    unknown = machine.cli("runs", "show", "deadbeef")
    assert unknown.returncode != 0 and len(lines(unknown.stderr)) == 1 and "Traceback" not in unknown.stderr
    assert "archive" in unknown.stderr
    assert machine.json("runs", "show", run_id[-36:][:8])["metadata"]["run_id"] == run_id


def test_writing_to_a_cleaned_up_run_restores_it_first_through_mcp_and_api(make_project: Any) -> None:
    """The API's writers restore first and tell ``notify``; readers never restore."""
    machine = make_project()
    faber = machine.api()
    run_id = emit_failed_run(faber)
    faber.archive_run(run_id, cleanup=True)
    told: list[str] = []
    faber = machine.api()
    faber.notify = told.append
    assert [event.event_id for event in faber.events(run_id)][-1] == 13
    assert faber.resume_context(run_id).status == "failed"
    assert faber.verify(run_id).ok and told == []
    assert not (machine.run_folder(run_id) / "events").exists()
    faber.emit(run_id, "workflow_resumed")
    assert len(told) == 1 and "restored from the archive first (13 events" in told[0]
    assert faber.run(run_id).state.last_event_id == 14 and faber.run(run_id).events_local


def test_a_bundle_without_its_project_workflow_still_checks_drift(make_project: Any) -> None:
    """Where the workflow file exists and differs from the recorded definition, the drift check applies."""
    machine_a = with_workflow(make_project("machine-a"))
    assert machine_a.cli("run", "flaky", "--work-id", "77").returncode != 0
    run_id = machine_a.api().list_runs()[0].run_id
    machine_a.ok("archive", run_id, "--cleanup")
    shutil.rmtree(machine_a.run_folder(run_id))

    machine_b = with_workflow(make_project("machine-b"))
    path = machine_b.root / ".fractary" / "plugins" / "faber" / "workflows" / "flaky.json"
    changed = json.loads(path.read_text())
    changed["phases"]["build"]["steps"][0]["run"] = "true"
    path.write_text(json.dumps(changed))
    context = machine_b.json("runs", "resume-context", run_id)
    assert context["resumable"] is False and "step build:compile changed" in context["workflow_changes"]


def test_the_mcp_reads_an_archived_run_without_restoring_it(make_project: Any) -> None:
    """get_run, get_events, resume_context and verify_run on a run only the archive holds, by its
    short name, through a real MCP client; the run stays in the archive only."""
    import anyio
    from mcp import Client

    from faber_host.mcp.server import build_server

    laptop = make_project("laptop")
    ci = make_project("ci-machine")
    run_id = emit_failed_run(laptop.api())
    laptop.api().archive_run(run_id, cleanup=True)
    short = run_id.rsplit("/", 1)[1][:8]

    async def read() -> None:
        async with Client(build_server(ci.api())) as client:
            async def call(tool: str, **arguments: Any) -> Any:
                result = await client.call_tool(tool, arguments)
                assert not result.is_error, result.content
                return result.structured_content

            assert (await call("get_run", run=short))["metadata"]["run_id"] == run_id
            events = await call("get_events", run=short)
            assert [event["event_id"] for event in events["events"]] == list(range(1, 14))
            assert (await call("resume_context", run=short))["status"] == "failed"
            assert (await call("verify_run", run=short))["ok"] is True
            unknown = await client.call_tool("get_run", {"run": "deadbeef"})
            assert unknown.is_error and "no run here or in the archive" in unknown.content[0].text  # type: ignore[union-attr]

    anyio.run(read)
    assert not ci.run_folder(run_id).exists()

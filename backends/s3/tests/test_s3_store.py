"""The record store in a bucket (``s3_store``): two project folders stand in for two machines, with
several real ``faber`` processes in each appending to one run; faults between a writer and the
bucket; a writer killed mid-append; a service that ignores conditional writes; and the commands
that read and continue a run (resume, rerun, events, report, the MCP server) on it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from fault_proxy import FaultProxy
from mcp import Client
from s3_helpers import FABER, Project, environ

from faber_host.init import initialize
from faber_host.mcp.server import build_server
from faber_host.testing import S3Server, use_s3_store

pytest_plugins = ["s3_fixtures"]  # the S3 server and the fault proxy: fixtures


@pytest.fixture
def machines(tmp_path: Path, faber_s3_server: S3Server, aws_environment: None) -> Any:
    """machines(n, endpoint=...): n project folders keeping their runs in one new bucket."""

    def make(count: int = 2, **config: Any) -> tuple[list[Project], str]:
        bucket = faber_s3_server.create_bucket()
        projects = []
        for number in range(count):
            root = tmp_path / f"machine-{number}"
            root.mkdir()
            initialize(root, "acme", "widget-service", environ())
            use_s3_store(root, faber_s3_server, bucket, **config)  # one bucket for every machine
            projects.append(Project(root))
        return projects, bucket

    return make


def writer(project: Project, run_id: str, name: str, count: int) -> subprocess.Popen[str]:
    """A shell loop of ``count`` one-shot ``faber event emit`` processes; prints ``ack <message>`` for each
    event the CLI acknowledged (exit 0)."""
    script = (f'for i in $(seq 1 {count}); do "{FABER}" event emit "$RUN" checkpoint --message "{name}-$i" '
              f'>/dev/null && echo "ack {name}-$i"; done')
    return subprocess.Popen(["bash", "-c", script], cwd=project.root, env={**environ(), "RUN": run_id},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def acknowledged(processes: list[subprocess.Popen[str]]) -> list[str]:
    acks = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        acks += [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("ack ")]
    return acks


def assert_exact_log(project: Project, run_id: str, acks: list[str], before: int) -> list[dict[str, Any]]:
    """Ids 1..N with no gap, each acknowledged event there exactly once, verify clean."""
    events = [json.loads(line) for line in project.ok("events", run_id, "--json").splitlines()]
    assert [event["event_id"] for event in events] == list(range(1, len(events) + 1))
    messages = Counter(event.get("message") for event in events[before:])
    assert all(messages[ack] == 1 for ack in acks), "every acknowledged event is there once"
    assert all(count == 1 for count in messages.values()), "nothing is stored twice"
    assert project.json("runs", "verify", run_id)["ok"] is True
    return list(events)


def test_the_service_enforces_conditional_writes(s3: Any, bucket: str) -> None:
    """What the store rests on, checked on the test server itself: a create over an object and a
    replace with a stale ETag are both refused (412)."""
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"1", IfNoneMatch="*")
    with pytest.raises(s3.exceptions.ClientError) as created_twice:
        s3.put_object(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")
    assert created_twice.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"3", IfMatch=first["ETag"])
    with pytest.raises(s3.exceptions.ClientError) as stale:
        s3.put_object(Bucket=bucket, Key="k", Body=b"4", IfMatch=first["ETag"])
    assert stale.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.get_object(Bucket=bucket, Key="k")["ETag"] == second["ETag"]


def test_two_machines_several_processes_each_write_one_run(machines: Any) -> None:
    (laptop, ci), _ = machines(2)
    run_id = laptop.api().new_run("shared").run_id
    laptop.api().emit(run_id, "workflow_start")
    processes = [writer(project, run_id, f"{where}{n}", 6) for where, project in (("L", laptop), ("C", ci))
                 for n in range(3)]
    acks = acknowledged(processes)
    assert len(acks) == 36
    events = assert_exact_log(ci, run_id, acks, before=1)
    assert len(events) == 37
    times = [event["timestamp"] for event in events]
    assert times == sorted(times), "times grow with ids, whichever machine wrote them"
    assert laptop.json("runs", "verify", run_id)["last_event_id"] == 37
    assert [run["run_id"] for run in ci.json("runs", "list")] == [run_id]


@pytest.mark.parametrize("kind", ["drop_answer", "error500", "stall", "drop", "cut_request"])
def test_faults_between_a_writer_and_the_bucket_lose_and_duplicate_nothing(
    machines: Any, proxy: FaultProxy, faber_s3_server: S3Server, kind: str
) -> None:
    (direct,), bucket = machines(1)
    faulty = Project(direct.root.parent / "faulty")
    faulty.root.mkdir()
    initialize(faulty.root, "acme", "widget-service", environ())
    use_s3_store(faulty.root, faber_s3_server, bucket, endpoint_url=proxy.url, max_attempts=2, read_timeout=1)
    run_id = direct.api().new_run("faults").run_id

    # Every third event write of the faulty machine fails; the other machine writes meanwhile.
    proxy.add(kind, method="PUT", path_contains="/events/", times=None)
    proxy.faults[-1].times = 4
    others = [writer(direct, run_id, "D", 8)]
    api = faulty.api()
    acks = []
    for number in range(10):
        api.emit(run_id, "checkpoint", message=f"F-{number}")
        acks.append(f"F-{number}")
    acks += acknowledged(others)
    assert len([fault for fault in proxy.injected if fault[0] == kind]) == 4
    events = assert_exact_log(direct, run_id, acks, before=0)
    assert len(events) == 18


def test_a_writer_killed_mid_append_leaves_no_gap(machines: Any) -> None:
    (project,), _ = machines(1)
    run_id = project.api().new_run("killed").run_id
    code = ("import sys; from faber_host.api import Faber; f = Faber.open('.'); "
            "[f.emit(sys.argv[1], 'checkpoint', message=f'{sys.argv[2]}-{i}') for i in range(100000)]")
    for round_ in range(3):
        process = subprocess.Popen([sys.executable, "-c", code, run_id, f"killed{round_}"], cwd=project.root,
                                   env=environ())
        reached = project.api().run(run_id).state.last_event_id + 5
        deadline = time.monotonic() + 120
        while project.api().run(run_id).state.last_event_id < reached and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    acks = acknowledged([writer(project, run_id, "after", 3)])
    events = assert_exact_log(project, run_id, acks, before=0)
    assert [event["message"] for event in events[-3:]] == ["after-1", "after-2", "after-3"]


def test_a_service_without_conditional_writes_is_refused_in_one_line(machines: Any, proxy: FaultProxy) -> None:
    (project,), _ = machines(1, endpoint_url=proxy.url)
    proxy.add("strip_conditions", method="PUT", times=None)
    refused = project.cli("runs", "new", "--work-id", "7")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs an S3 service with conditional writes" in lines[0], refused.stderr
    doctor = project.cli("doctor")
    assert doctor.returncode != 0 and "conditional writes" in doctor.stdout
    proxy.clear()
    assert project.ok("runs", "new", "--work-id", "7").strip()


def test_resume_rerun_events_report_and_mcp_on_the_bucket(machines: Any, tmp_path: Path) -> None:
    (laptop, ci), _ = machines(2)
    flag = tmp_path / "fixed"
    workflow = json.dumps({"id": "ship", "autonomy": {"level": "autonomous"},
                           "phases": {"build": {"steps": [{"id": "compile", "run": f"test -e {flag}"}]}}})
    for project in (laptop, ci):
        (project.root / ".fractary" / "plugins" / "faber" / "workflows" / "ship.json").write_text(workflow)
    assert laptop.cli("run", "ship", "--work-id", "7").returncode == 1
    run_id = laptop.json("runs", "list")[0]["run_id"]
    assert ci.json("runs", "show", run_id)["state"]["status"] == "failed"

    flag.touch()
    ci.ok("run", "--resume", run_id)  # on the other machine
    assert laptop.json("runs", "show", run_id)["state"]["status"] == "completed"
    laptop.ok("run", "--rerun", run_id)
    runs = ci.json("runs", "list")
    assert len(runs) == 2 and {run["status"] for run in runs} == {"completed"}
    page = ci.ok("runs", "report", run_id, "--output", "-")
    assert "<html" in page.lower() and "workflow_resumed" in page
    events = ci.ok("events", run_id)
    assert "workflow_resumed" in events and "workflow_complete" in events
    follow = subprocess.run([FABER, "events", run_id, "--follow", "--json"], cwd=laptop.root, env=environ(),
                            capture_output=True, text=True, timeout=120)
    assert follow.returncode == 0, "follow ends when the run has ended"
    stored = [json.loads(line)["event_id"] for line in ci.ok("events", run_id, "--json").splitlines()]
    assert [json.loads(line)["event_id"] for line in follow.stdout.splitlines()] == stored == list(
        range(1, len(stored) + 1))

    async def read_through_mcp() -> None:
        async with Client(build_server(ci.api())) as client:
            result = await client.call_tool("get_events", {"run": run_id})
            assert not result.is_error
            ids = [event["event_id"] for event in result.structured_content["events"]]  # type: ignore[index]
            assert ids == list(range(1, len(ids) + 1)) and len(ids) > 3

    anyio.run(read_through_mcp)


def test_verify_repair_and_consolidate_on_the_bucket(machines: Any, s3: Any) -> None:
    (project,), bucket = machines(1)
    faber = project.api()
    run_id = faber.new_run("damaged").run_id
    for number in range(6):
        faber.emit(run_id, "checkpoint", message=f"e{number}")
    first = project.json("consolidate", run_id)
    assert project.json("consolidate", run_id) == first, "the same run gives the same bundle"
    events = f"faber/store/{run_id}/events/"
    s3.put_object(Bucket=bucket, Key=f"{events}000000000002.json", Body=b"not json")
    s3.delete_object(Bucket=bucket, Key=f"{events}000000000004.json")

    verified = project.cli("runs", "verify", run_id, "--json")
    report = json.loads(verified.stdout)
    assert verified.returncode == 1 and report["ok"] is False and report["last_event_id"] == 6
    assert {problem["code"] for problem in report["problems"]} == {"event_unreadable", "event_gap"}
    repaired = project.json("runs", "repair", run_id)
    assert repaired["after"]["ok"] is True and repaired["quarantined"] == ["events/.quarantine/000000000002.json"]
    assert s3.get_object(Bucket=bucket, Key=f"{events}.quarantine/000000000002.json")["Body"].read() == (
        b"not json")
    types = [json.loads(line)["type"] for line in project.ok("events", run_id, "--json").splitlines()]
    assert types == ["checkpoint", "log_repaired", "checkpoint", "log_repaired", "checkpoint", "checkpoint"]
    assert project.api().emit(run_id, "checkpoint").event.event_id == 7


def test_one_store_only_and_archive_restore_between_buckets(machines: Any, faber_s3_server: S3Server) -> None:
    (office, elsewhere), _ = machines(2)
    archive = faber_s3_server.create_bucket()
    for project in (office, elsewhere):
        path = project.root / ".fractary" / "plugins" / "faber" / "gateway.json"
        document = json.loads(path.read_text())
        document["backends"]["s3_archive"] = {"enabled": True, "config": {
            "bucket": archive, "endpoint_url": faber_s3_server.url, "region": "us-east-1"}}
        path.write_text(json.dumps(document))
    use_s3_store(elsewhere.root, faber_s3_server)  # the other machine keeps its runs in another bucket
    run_id = office.api().new_run("archived").run_id
    office.api().emit(run_id, "workflow_start")
    office.api().emit(run_id, "workflow_complete")
    assert office.json("archive", run_id)["archived"] is True
    restored = elsewhere.json("restore", run_id)
    assert restored["run_id"] == run_id
    assert [json.loads(line)["type"] for line in elsewhere.ok("events", run_id, "--json").splitlines()] == [
        "workflow_start", "workflow_complete"]
    assert elsewhere.json("runs", "show", run_id)["state"]["status"] == "completed"

    path = office.root / ".fractary" / "plugins" / "faber" / "gateway.json"
    document = json.loads(path.read_text())
    document["backends"]["local_files"]["enabled"] = True
    path.write_text(json.dumps(document))
    both = office.cli("runs", "list")
    assert both.returncode == 2 and both.stderr.count("\n") == 1
    assert "more than one record store (local_files, s3_store)" in both.stderr


def test_a_one_shot_emit_costs_three_requests(machines: Any, proxy: FaultProxy) -> None:
    """A lone writer's `faber event emit`: read the state checkpoint, create the event, replace the
    checkpoint (what docs/s3-store.md prices)."""
    (project,), _ = machines(1, endpoint_url=proxy.url)
    run_id = project.ok("runs", "new", "--work-id", "7").strip()
    for number in range(1, 4):
        before = len(proxy.requests)
        project.ok("event", "emit", run_id, "checkpoint")
        sent = [(method, path.rsplit("/", 1)[-1]) for method, path in proxy.requests[before:]]
        assert sent == [("GET", "state.json"), ("PUT", f"{number:012d}.json"), ("PUT", "state.json")]

"""Archive, clean up, restore and go on, against a real S3-compatible server (moto, on 127.0.0.1)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from s3_helpers import Project, emit_failed_run, event_files

pytest_plugins = ["s3_fixtures"]  # the S3 server, the proxy and the projects: fixtures


def test_round_trip_to_another_project_folder_and_on_to_completion(make_project: Any, s3: Any, bucket: str) -> None:
    """Archive with cleanup in one project folder, delete the run there, restore it in a second one,
    finish it there, and compare the events byte for byte."""
    first: Project = make_project("laptop")
    run_id = emit_failed_run(first.api())
    original = event_files(first.run_folder(run_id))
    assert len(original) == 13

    archived = first.json("archive", run_id, "--cleanup")
    assert archived["archived"] is True and archived["cleanup"]["files"] == 13
    receipt = archived["receipts"][0]
    assert receipt["verified"] and receipt["url"] == f"s3://{bucket}/faber/runs/{run_id}/"
    assert [o["name"] for o in receipt["objects"]] == ["events.jsonl", "state.json", "metadata.json", "manifest.json"]
    folder = first.run_folder(run_id)
    assert not (folder / "events").exists()
    assert (folder / "state.json").exists() and (folder / "metadata.json").exists()
    assert (folder / "archive" / "manifest.json").exists()
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    org, project, uuid = run_id.split("/")
    assert keys == [f"faber/runs/_index/{uuid}/{org}/{project}"] + [
        f"faber/runs/{run_id}/{name}" for name in ("events.jsonl", "manifest.json", "metadata.json", "state.json")]
    recorded = first.api().run(run_id).metadata.archive
    assert recorded is not None and recorded.manifest_sha256 == archived["manifest_sha256"]
    assert recorded.events_removed_at

    shutil.rmtree(folder)  # the run is gone from the first machine

    second: Project = make_project("ci-machine")
    listed = second.json("runs", "list", "--archived")
    assert [run["run_id"] for run in listed] == [run_id]
    restored = second.json("restore", run_id.split("/")[-1][:8])  # a uuid prefix found in the archive
    assert restored["run_id"] == run_id and restored["event_count"] == 13
    assert event_files(second.run_folder(run_id)) == original, "the same event files, byte for byte"
    faber = second.api()
    record = faber.run(run_id)
    assert record.state.status == "failed" and record.warnings == []
    assert record.metadata.archive is not None and record.metadata.archive.restored_at

    # Resume there: retry the failed step and finish the workflow.
    faber.emit(run_id, "workflow_resumed", metadata={"resume_from": {"phase": "build", "step": "implement"}})
    faber.emit(run_id, "step_start", phase="build", step="implement")
    faber.emit(run_id, "step_complete", phase="build", step="implement", duration_ms=5)
    faber.emit(run_id, "phase_complete", phase="build")
    faber.emit(run_id, "workflow_complete")
    finished = event_files(second.run_folder(run_id))
    assert len(finished) == 18
    assert {name: finished[name] for name in original} == original, "the restored events are untouched"
    state = faber.run(run_id).state
    assert state.status == "completed" and state.last_event_id == 18 and len(state.resumes) == 1

    # Archived again from the second machine: the archive now holds all 18 events.
    assert faber.archive_run(run_id, cleanup=True).event_count == 18
    third: Project = make_project("another")
    third.api().restore_run(run_id)
    assert event_files(third.run_folder(run_id)) == finished


def test_restore_in_place_after_cleanup_and_writing_goes_on(make_project: Any) -> None:
    project: Project = make_project()
    faber = project.api()
    run_id = emit_failed_run(faber)
    original = event_files(project.run_folder(run_id))
    faber.archive_run(run_id, cleanup=True)

    # Reading needs no restore: the commands read the bundle, and nothing comes back here.
    listed = project.cli("events", run_id, "--json")
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    assert [json.loads(line)["event_id"] for line in listed.stdout.splitlines()] == list(range(1, 14))
    shown = project.cli("runs", "show", run_id)
    assert shown.returncode == 0 and "archived:" in shown.stdout and shown.stderr == ""
    assert project.json("runs", "verify", run_id)["ok"] is True
    assert not (project.run_folder(run_id) / "events").exists()

    # Writing restores first, by itself, and says so in one line.
    resumed = project.cli("event", "emit", run_id, "workflow_resumed")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.count("\n") == 1 and "restored from the archive first" in resumed.stderr
    assert {**event_files(project.run_folder(run_id)), **original} == event_files(project.run_folder(run_id))
    faber = project.api()
    assert faber.run(run_id).state.last_event_id == 14
    assert faber.restore_run(run_id).already_local is True
    # Changed since its archive: cleanup refuses until it is archived again.
    entry = faber.cleanup_runs([run_id]).entries[0]
    assert entry.action == "skipped" and "since it was archived" in (entry.reason or "")
    assert len(event_files(project.run_folder(run_id))) == 14


def test_archive_is_idempotent_and_refuses_runs_in_progress(make_project: Any) -> None:
    project: Project = make_project()
    faber = project.api()
    run_id = faber.new_run("9").run_id
    faber.emit(run_id, "workflow_start")
    refused = project.cli("archive", run_id)
    assert refused.returncode == 2 and "--force" in refused.stderr and refused.stderr.count("\n") == 1
    first = faber.archive_run(run_id, force=True)
    assert all(o.uploaded for o in first.receipts[0].objects)
    second = faber.archive_run(run_id, force=True)
    assert second.manifest_sha256 == first.manifest_sha256
    assert not any(o.uploaded for o in second.receipts[0].objects), "identical objects are verified, not re-sent"


def test_archive_on_complete_with_cleanup(make_project: Any, s3: Any, bucket: str) -> None:
    project: Project = make_project(archive_on_complete=True, cleanup_local_after_archive=True)
    faber = project.api()
    run_id = faber.new_run("5").run_id
    faber.emit(run_id, "workflow_start")
    done = project.cli("event", "emit", run_id, "workflow_complete")  # the CLI's emit, then archiving
    assert done.returncode == 0 and done.stdout == "2\n"
    assert done.stderr == f"faber: run {run_id} archived and its local events removed (s3_archive)\n"
    assert not (project.run_folder(run_id) / "events").exists()
    assert s3.head_object(Bucket=bucket, Key=f"faber/runs/{run_id}/manifest.json")["ContentLength"] > 0
    assert faber.run(run_id).metadata.archive.events_removed_at  # type: ignore[union-attr]


def test_consolidate_on_complete_only_consolidates(make_project: Any, s3: Any, bucket: str) -> None:
    project: Project = make_project(consolidate_on_complete=True)
    faber = project.api()
    run_id = faber.new_run("5").run_id
    result = faber.emit(run_id, "workflow_complete")
    assert result.warnings == [] and not (project.run_folder(run_id) / "archive").exists(), "a step of its own"
    done = faber.archive_on_complete(run_id)
    assert done is not None and done.action == "consolidated"
    assert (project.run_folder(run_id) / "archive" / "events.jsonl").exists()
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_failed_archive_on_complete_is_a_warning_not_a_failed_emit(make_project: Any, s3_server: str) -> None:
    project: Project = make_project(archive_on_complete=True, bucket="no-such-bucket-faber")
    run_id = project.api().new_run("5").run_id
    result = project.cli("event", "emit", run_id, "workflow_complete")
    assert result.returncode == 0 and result.stdout.strip() == "1"
    assert "warning" in result.stderr and "no-such-bucket-faber" in result.stderr and "faber archive" in result.stderr
    assert (project.run_folder(run_id) / "events" / "001-workflow_complete.json").exists()


def test_multipart_upload_is_verified_by_its_composite_checksum(make_project: Any, s3: Any, bucket: str) -> None:
    project: Project = make_project(multipart_threshold_mb=5, part_size_mb=5, max_concurrency=2)
    faber = project.api()
    run_id = faber.new_run("big").run_id
    blob = "x" * 60_000
    for index in range(200):  # about 12 MB of events: three parts of 5 MiB
        faber.emit(run_id, "checkpoint", message=f"{index} {blob}")
    faber.emit(run_id, "workflow_complete")
    original = event_files(project.run_folder(run_id))
    seen: list[tuple[str, int, int]] = []
    result = faber.archive_run(run_id, cleanup=True, progress=lambda what, done, total: seen.append((what, done, total)))
    key = f"faber/runs/{run_id}/events.jsonl"
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    part = 5 * 1024 * 1024
    digests = b"".join(hashlib.sha256(data[i : i + part]).digest() for i in range(0, len(data), part))
    assert len(data) > 2 * part, "three parts"
    composite = base64.b64encode(hashlib.sha256(digests).digest()).decode()
    assert head["ChecksumSHA256"].split("-")[0] == composite, "uploaded in parts, with a checksum of their checksums"
    events_progress = [done for what, done, total in seen if what == "events.jsonl"]
    assert events_progress[0] == 0 and events_progress[-1] == head["ContentLength"] and len(events_progress) == 4
    assert result.cleanup is not None and result.cleanup.files == 201
    project.api().restore_run(run_id)
    assert event_files(project.run_folder(run_id)) == original


def test_storage_class_and_encryption_are_applied(make_project: Any, s3: Any, bucket: str) -> None:
    project: Project = make_project(storage_class="STANDARD_IA", server_side_encryption="AES256", verify="download")
    run_id = emit_failed_run(project.api())
    project.api().archive_run(run_id)
    for name in ("events.jsonl", "manifest.json"):
        head = s3.head_object(Bucket=bucket, Key=f"faber/runs/{run_id}/{name}")
        assert head["ServerSideEncryption"] == "AES256" and head["StorageClass"] == "STANDARD_IA"
        data = s3.get_object(Bucket=bucket, Key=f"faber/runs/{run_id}/{name}")["Body"].read()
        assert head["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()


def test_prefix_with_or_without_slash_names_the_same_keys(make_project: Any, s3: Any, bucket: str) -> None:
    project: Project = make_project(prefix="team/faber")
    run_id = emit_failed_run(project.api())
    project.api().archive_run(run_id, cleanup=True)
    assert s3.head_object(Bucket=bucket, Key=f"team/faber/{run_id}/manifest.json")
    project.configure(prefix="/team/faber/")
    assert [r.run_id for r in project.api().list_archived_runs()] == [run_id]
    shutil.rmtree(project.run_folder(run_id))
    project.api().restore_run(run_id)
    assert len(event_files(project.run_folder(run_id))) == 13


def test_listing_pages_and_filters(make_project: Any) -> None:
    project: Project = make_project(list_page_size=3)
    faber = project.api()
    made = {}
    for org, name in (("acme", "widget"), ("acme", "gadget"), ("zeta", "widget"), ("zeta", "other")):
        for _ in range(2):
            run_id = faber.new_run("1", org=org, project=name).run_id
            faber.emit(run_id, "workflow_complete")
            made[run_id] = (org, name)
    for run_id in made:
        faber.archive_run(run_id)

    def listed(org: str | None = None, project_name: str | None = None) -> set[str]:
        return {run.run_id for run in faber.list_archived_runs(org=org, project=project_name)}

    assert listed() == set(made), "every run, over several pages of 3 keys"
    assert listed("acme") == {r for r, (o, _) in made.items() if o == "acme"}
    assert listed(None, "widget") == {r for r, (_, p) in made.items() if p == "widget"}
    assert listed("zeta", "widget") == {r for r, (o, p) in made.items() if (o, p) == ("zeta", "widget")}
    assert listed("nobody") == set()
    cli_listed = {run["run_id"] for run in project.json("runs", "list", "--archived", "--project", "widget")}
    assert cli_listed == listed(None, "widget")
    one = project.json("runs", "list", "--archived", "--limit", "1")[0]
    assert one["objects"] == 4 and one["size"] > 0 and one["backend"] == "s3_archive" and one["archived_at"]
    bad = project.cli("runs", "list", "--archived", "--org", "Bad/Org")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    mixed = project.cli("runs", "list", "--archived", "--status", "failed")
    assert mixed.returncode == 2 and "--archived" in mixed.stderr


def test_cleanup_command_keeps_what_is_not_safely_archived(make_project: Any) -> None:
    project: Project = make_project()
    faber = project.api()
    archived = emit_failed_run(faber)
    changed = emit_failed_run(faber)
    never = emit_failed_run(faber)
    faber.archive_run(archived)
    faber.archive_run(changed)
    faber.emit(changed, "workflow_resumed")

    recent = faber.cleanup_runs()  # event_retention.local_days: 30 by default
    assert {e.action for e in recent.entries} == {"skipped"}
    dry = project.json("cleanup", "--older-than", "0d", "--dry-run")
    actions = {e["run_id"]: e["action"] for e in dry["entries"]}
    assert actions == {archived: "would_remove", changed: "skipped", never: "skipped"}
    assert (project.run_folder(archived) / "events").exists()
    done = faber.cleanup_runs(older_than_days=0)
    actions = {e.run_id: (e.action, e.files) for e in done.entries}
    assert actions == {archived: ("removed", 13), changed: ("skipped", 0), never: ("skipped", 0)}
    assert not (project.run_folder(archived) / "events").exists()
    assert len(event_files(project.run_folder(changed))) == 14 and len(event_files(project.run_folder(never))) == 13
    text = project.ok("cleanup", "--older-than", "0d")
    assert "removed the events of 0 of 3 runs" in text
    bad = project.cli("cleanup", "--older-than", "soon")
    assert bad.returncode == 2 and bad.stderr.startswith("faber: error: invalid age")


def test_credentials_in_gateway_json_are_refused(make_project: Any) -> None:
    project: Project = make_project(aws_secret_access_key="oops")
    result = project.cli("runs", "list", "--archived")  # the archive is refused; local reads only warn
    assert result.returncode == 2 and result.stderr.splitlines()[-1].startswith("faber: error: ")
    assert "credentials do not belong in gateway.json" in result.stderr.splitlines()[-1]
    assert "oops" not in result.stderr


def test_missing_credentials_and_bucket_are_clear_errors(make_project: Any, monkeypatch: Any) -> None:
    project: Project = make_project(bucket="faber-no-such-bucket")
    run_id = emit_failed_run(project.api())
    result = project.cli("archive", run_id, "--cleanup")
    assert result.returncode == 1 and "faber-no-such-bucket" in result.stderr and "does not exist" in result.stderr
    assert result.stderr.count("\n") == 1 and "nothing local was removed" in result.stderr
    assert len(event_files(project.run_folder(run_id))) == 13
    unknown = project.cli("restore", "acme/widget-service/0b0e1c9a-5a7e-4c1d-9f0e-2b7d3c4e5f60")
    assert unknown.returncode == 1 and "does not exist" in unknown.stderr


def test_restore_of_a_run_in_no_archive(make_project: Any) -> None:
    project: Project = make_project()
    result = project.cli("restore", "acme/widget-service/0b0e1c9a-5a7e-4c1d-9f0e-2b7d3c4e5f60")
    assert result.returncode == 1 and "in no enabled archive" in result.stderr
    prefix = project.cli("restore", "0b0e1c9a")
    assert prefix.returncode == 2 and "no run here or in the archive" in prefix.stderr
    assert list(Path(project.root, ".fractary", "plugins", "faber").glob(".restore-*")) == []


def test_progress_bars_on_a_terminal_only(make_project: Any) -> None:
    import os
    import pty
    import subprocess

    from s3_helpers import FABER, environ

    project: Project = make_project()
    run_id = emit_failed_run(project.api())
    quiet = project.cli("archive", run_id)
    assert quiet.returncode == 0 and quiet.stderr == "", "no progress output in a pipe"

    shutil.rmtree(project.run_folder(run_id))
    leader, follower = pty.openpty()
    try:
        process = subprocess.run(
            [FABER, "restore", run_id], cwd=project.root, env={**environ(), "TERM": "xterm", "COLUMNS": "100"},
            stdout=subprocess.PIPE, stderr=follower, timeout=180,
        )
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
    assert process.returncode == 0, drawn
    assert b"events.jsonl" in drawn and b"\x1b[" in drawn, "a progress bar was drawn on the terminal"
    assert b"restored" in process.stdout


FLAKY_WORKFLOW = {
    "id": "flaky",
    "description": "Builds only once fixed.txt exists",
    "phases": {
        "frame": {"enabled": True, "steps": [{"id": "fetch", "name": "Fetch", "run": "echo fetched {work_id}"}]},
        "architect": {"enabled": True, "steps": [{"id": "plan", "name": "Plan", "run": "echo planned"}]},
        "build": {"enabled": True, "steps": [{"id": "compile", "name": "Compile", "run": "test -f fixed.txt"}]},
        "evaluate": {"enabled": True, "steps": [{"id": "test", "name": "Test", "run": "echo tested"}]},
        "release": {"enabled": True, "steps": [{"id": "ship", "name": "Ship", "run": "echo shipped"}]},
    },
}


def with_workflow(project: Project) -> Project:
    path = project.root / ".fractary" / "plugins" / "faber" / "workflows" / "flaky.json"
    path.write_text(json.dumps(FLAKY_WORKFLOW, indent=2))
    return project


def test_faber_run_resume_restores_and_finishes_on_another_machine(make_project: Any) -> None:
    """A run fails, is archived and cleaned up; `faber run --resume` restores it first (here, and on a
    machine that never saw it) and finishes it; the archived events stay the same bytes."""
    first = with_workflow(make_project("laptop"))
    assert first.cli("run", "flaky", "--work-id", "77").returncode != 0
    run_id = first.api().list_runs()[0].run_id
    assert first.api().run(run_id).state.status == "failed"
    first.ok("archive", run_id, "--cleanup")
    again = first.cli("run", "--resume", run_id)  # restored first, then fails again: nothing is fixed here
    assert again.returncode != 0 and (first.run_folder(run_id) / "events").is_dir()
    original = event_files(first.run_folder(run_id))
    first.ok("archive", run_id, "--cleanup")
    shutil.rmtree(first.run_folder(run_id))

    second = with_workflow(make_project("ci-machine"))
    (second.root / "fixed.txt").write_text("fixed\n")
    resumed = second.cli("run", "--resume", run_id)  # unknown here: it comes from the archive
    assert resumed.returncode == 0, resumed.stderr
    finished = event_files(second.run_folder(run_id))
    assert {name: finished[name] for name in original} == original, "the restored events are untouched"
    state = second.api().run(run_id).state
    assert state.status == "completed" and len(finished) > len(original) and len(state.resumes) == 2

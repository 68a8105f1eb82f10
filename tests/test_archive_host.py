"""The host's archive rules, with archive backends made for the test: consolidate, archive only what is
verified by every backend, clean up only then, restore through the checks; and the CLI's errors."""

from __future__ import annotations

import hashlib
import json
import shutil
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import Cli, assert_one_line_error, clean_environ
from faber_backend_local_files.run_folder import event_file_name
from faber_hookspecs import hookimpl
from faber_hookspecs.archive import (
    ArchiveBundle,
    ArchivedObject,
    ArchiveManifest,
    ArchiveReceipt,
    RunRef,
)
from faber_hookspecs.errors import ArchiveError, ConfigError, IntegrityError, RunInProgress
from faber_hookspecs.wire import utc_timestamp

from faber_host.api import Faber
from faber_host.archive import ArchiveIncomplete
from faber_host.gateway import Gateway
from faber_host.gateway.plugins import discover_backends
from faber_host.project import Project
from faber_host.runner.display import Display


class FolderArchive:
    """An archive backend that keeps bundles in a folder: small, but verified like a real one."""

    config_model = None
    store: ClassVar[Path]

    def __init__(self, config: dict[str, Any], context: object) -> None:
        pass

    @hookimpl
    def faber_archive_run(self, run: Any, bundle: ArchiveBundle, progress: Any) -> ArchiveReceipt:
        target = self.store / bundle.run_id
        target.mkdir(parents=True, exist_ok=True)
        objects = []
        for entry in bundle.files():
            shutil.copyfile(bundle.path(entry.name), target / entry.name)
            data = (target / entry.name).read_bytes()
            verified = hashlib.sha256(data).hexdigest() == entry.sha256
            objects.append(ArchivedObject(name=entry.name, key=str(target / entry.name), size=len(data),
                                          sha256=entry.sha256, verified=verified))
            progress(entry.name, entry.size, entry.size)
        return ArchiveReceipt(backend="folder", run_id=bundle.run_id, url=f"file://{target}/",
                              manifest_sha256=bundle.manifest_sha256, objects=objects,
                              verified=all(o.verified for o in objects), archived_at=utc_timestamp())

    @hookimpl
    def faber_restore_run(self, run_ref: RunRef, destination: Path, progress: Any) -> ArchiveBundle | None:
        source = self.store / run_ref.run_id
        if not source.is_dir():
            return None
        for path in source.iterdir():
            shutil.copyfile(path, destination / path.name)
        data = (destination / "manifest.json").read_bytes()
        return ArchiveBundle(run_id=run_ref.run_id, directory=destination,
                             manifest=ArchiveManifest.model_validate_json(data),
                             manifest_sha256=hashlib.sha256(data).hexdigest(), manifest_size=len(data),
                             source_backend="folder", source_url=f"file://{source}/")


class UnverifiedArchive(FolderArchive):
    """Copies the bundle but cannot verify it."""

    @hookimpl
    def faber_archive_run(self, run: Any, bundle: ArchiveBundle, progress: Any) -> ArchiveReceipt:
        receipt = super().faber_archive_run(run, bundle, progress)
        return receipt.model_copy(update={"verified": False, "error": "the checksum did not match"})


class CrashingArchive(FolderArchive):
    """A backend with a bug."""

    @hookimpl
    def faber_archive_run(self, run: Any, bundle: ArchiveBundle, progress: Any) -> ArchiveReceipt:
        raise KeyError("oops")


def open_with(project_dir: Path, tmp_path: Path, **archives: str) -> Faber:
    FolderArchive.store = tmp_path / "archive-store"
    gateway_file = project_dir / ".fractary" / "plugins" / "faber" / "gateway.json"
    gateway = json.loads(gateway_file.read_text())
    gateway["backends"]["local_files"]["config"]["sync_writes"] = False
    for name in archives:
        gateway["backends"][name] = {"enabled": True}
    gateway_file.write_text(json.dumps(gateway))
    available = dict(discover_backends())
    available.update({name: EntryPoint(name=name, value=f"{__name__}:{target}", group="faber.backends")
                      for name, target in archives.items()})
    project = Project(project_dir, clean_environ())
    return Faber(project, Gateway.open(project, available))


def finished_run(faber: Faber, events: int = 5) -> str:
    run_id = faber.new_run("42").run_id
    faber.emit(run_id, "workflow_start")
    for index in range(events - 2):
        faber.emit(run_id, "checkpoint", message=f"{index}")
    faber.emit(run_id, "workflow_complete")
    return run_id


def events_of(faber: Faber, run_id: str) -> dict[str, bytes]:
    folder = Path(faber.run(run_id).location) / "events"
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name[0].isdigit()}


def test_archive_cleanup_and_restore_through_the_hooks(project_dir: Path, tmp_path: Path) -> None:
    faber = open_with(project_dir, tmp_path, folder="FolderArchive")
    run_id = finished_run(faber)
    original = events_of(faber, run_id)
    progress: list[str] = []
    result = faber.archive_run(run_id, cleanup=True, progress=lambda what, done, total: progress.append(what))
    assert result.archived and result.cleanup is not None and result.cleanup.files == 5
    assert progress == ["events.jsonl", "state.json", "metadata.json", "manifest.json"]
    record = faber.run(run_id)
    assert record.events_local is False
    assert record.metadata.archive is not None and record.metadata.archive.manifest_sha256 == result.manifest_sha256
    assert record.metadata.archive.locations[0].backend == "folder"
    assert [state.run_id for state in faber.list_runs()] == [run_id]
    restored = faber.restore_run(run_id)
    assert restored.event_count == 5 and events_of(faber, run_id) == original
    assert faber.run(run_id).metadata.archive.restored_at is not None  # type: ignore[union-attr]
    assert faber.archive_run(run_id, cleanup=True).archived


@pytest.mark.parametrize(("backends", "reason"), [
    ({"folder": "FolderArchive", "flaky": "UnverifiedArchive"}, "flaky: the checksum did not match"),
    ({"folder": "FolderArchive", "buggy": "CrashingArchive"}, "buggy: KeyError: 'oops'"),
])
def test_nothing_is_removed_unless_every_backend_verified(
    project_dir: Path, tmp_path: Path, backends: dict[str, str], reason: str
) -> None:
    faber = open_with(project_dir, tmp_path, **backends)
    run_id = finished_run(faber)
    original = events_of(faber, run_id)
    with pytest.raises(ArchiveIncomplete) as failure:
        faber.archive_run(run_id, cleanup=True)
    assert reason in str(failure.value) and "nothing local was removed" in str(failure.value)
    receipts = {r.backend: r.verified for r in failure.value.result.receipts}
    assert receipts == {"folder": True, next(name for name in backends if name != "folder"): False}
    assert events_of(faber, run_id) == original
    assert faber.run(run_id).metadata.archive is None
    assert faber.cleanup_runs([run_id]).entries[0].reason == "not archived (faber archive RUN)"


def test_a_run_in_progress_needs_force(project_dir: Path, tmp_path: Path) -> None:
    faber = open_with(project_dir, tmp_path, folder="FolderArchive")
    run_id = faber.new_run("1").run_id
    faber.emit(run_id, "workflow_start")
    with pytest.raises(RunInProgress, match="--force"):
        faber.archive_run(run_id)
    assert faber.archive_run(run_id, force=True).archived


def test_restore_refuses_a_bundle_that_does_not_match_its_manifest(project_dir: Path, tmp_path: Path) -> None:
    faber = open_with(project_dir, tmp_path, folder="FolderArchive")
    run_id = finished_run(faber)
    faber.archive_run(run_id, cleanup=True)
    stored = FolderArchive.store / run_id / "state.json"
    stored.write_bytes(stored.read_bytes().replace(b"completed", b"failed!!!"))
    with pytest.raises(IntegrityError, match=r"state.json does not match its sha256"):
        faber.restore_run(run_id)
    assert faber.run(run_id).events_local is False
    assert list((project_dir / ".fractary" / "plugins" / "faber").glob(".restore-*")) == []


def test_archive_on_complete_through_the_policy_hook(project_dir: Path, tmp_path: Path) -> None:
    class Policy(FolderArchive):
        @hookimpl
        def faber_archive_policy(self) -> Any:
            from faber_hookspecs.archive import ArchivePolicy

            return ArchivePolicy(backend="folder", archive_on_complete=True, cleanup_local_after_archive=True)

    globals()["PolicyArchive"] = Policy
    faber = open_with(project_dir, tmp_path, folder="PolicyArchive")
    run_id = faber.new_run("1").run_id
    result = faber.emit(run_id, "workflow_complete")
    assert result.warnings == [] and faber.run(run_id).events_local, "the emit records; it archives nothing"
    done = faber.archive_on_complete(run_id)
    assert done is not None and done.action == "cleaned_up"
    assert done.message == f"run {run_id} archived and its local events removed (folder)"
    assert faber.run(run_id).events_local is False
    assert faber.archive_on_complete(faber.new_run("2").run_id) is not None, "asked of any run"


def test_faber_run_says_what_archiving_on_completion_did(project_dir: Path, tmp_path: Path) -> None:
    class Policy(FolderArchive):
        @hookimpl
        def faber_archive_policy(self) -> Any:
            from faber_hookspecs.archive import ArchivePolicy

            return ArchivePolicy(backend="folder", archive_on_complete=True)

    globals()["PolicyArchiveNoCleanup"] = Policy
    faber = open_with(project_dir, tmp_path, folder="PolicyArchiveNoCleanup")
    (faber.project.faber_dir / "workflows" / "tiny.json").write_text(json.dumps(
        {"id": "tiny", "autonomy": {"level": "autonomous"}, "phases": {"build": {"steps": [{"id": "a", "run": "true"}]}}}
    ))
    lines: list[str] = []

    class Notes(Display):
        def note(self, text: str) -> None:
            lines.append(text)

    outcome = faber.run_workflow("tiny", "1", display=Notes())
    assert outcome.status == "completed" and outcome.warnings == []
    assert lines[-1] == f"run {outcome.run_id} archived (folder)"
    assert faber.run(outcome.run_id).metadata.archive is not None and faber.run(outcome.run_id).events_local


# Without an archive backend -------------------------------------------------------------------------


def test_consolidate_from_the_cli(cli: Cli, faber: Faber) -> None:
    run_id = faber.new_run("1").run_id
    for _ in range(12):
        faber.emit(run_id, "checkpoint")
    result = json.loads(cli.ok("consolidate", run_id, "--json"))
    manifest = result["manifest"]
    assert (manifest["event_count"], manifest["first_event_id"], manifest["last_event_id"]) == (12, 1, 12)
    folder = Path(result["directory"])
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    text = cli.ok("consolidate", run_id.split("/")[-1][:8])
    assert "12 events (ids 1..12)" in text and result["manifest_sha256"] in text
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == first
    lines = (folder / "events.jsonl").read_bytes().splitlines()
    names = sorted((p.name for p in (folder.parent / "events").iterdir() if p.name[0].isdigit()),
                   key=lambda name: int(name.split("-")[0]))
    assert [event_file_name(json.loads(line)["event_id"], json.loads(line)["type"]) for line in lines] == names


def test_archive_commands_need_an_archive_backend(cli: Cli, faber: Faber) -> None:
    run_id = faber.new_run("1").run_id
    faber.emit(run_id, "workflow_complete")
    unknown = "acme/widget-service/0b0e1c9a-5a7e-4c1d-9f0e-2b7d3c4e5f60"
    for args in (("archive", run_id), ("restore", unknown), ("runs", "list", "--archived")):
        line = assert_one_line_error(cli(*args), 2)
        assert "no archive backend is enabled" in line and "faber-backend-s3" in line
    with pytest.raises(ConfigError):
        faber.archive_run(run_id)


def test_cleanup_without_archives_keeps_everything(cli: Cli, faber: Faber) -> None:
    run_id = faber.new_run("1").run_id
    faber.emit(run_id, "workflow_complete")
    report = json.loads(cli.ok("cleanup", "--older-than", "0d", "--json"))
    assert report["entries"] == [{"run_id": run_id, "action": "skipped", "reason": "not archived (faber archive RUN)",
                                  "files": 0, "bytes": 0}]
    assert assert_one_line_error(cli("cleanup", "--older-than", "-3d"), 2).startswith("faber: error: invalid age")
    assert "invalid age" in assert_one_line_error(cli("cleanup", "--older-than", "3 weeks"), 2)
    assert assert_one_line_error(cli("consolidate", "nope"), 2)


def test_the_manifest_schema_is_published(cli: Cli) -> None:
    schema = json.loads(cli.ok("schema", "archive-manifest"))
    assert schema["title"] == "FABER archive manifest" and "event_files_sha256" in schema["properties"]


def test_an_archive_error_is_a_runtime_failure() -> None:
    assert ArchiveError.exit_code == 1 and IntegrityError.exit_code == 1 and RunInProgress.exit_code == 2


class MisdescribingArchive(FolderArchive):
    """Describes the manifest it fetched with another sha256 than the file has."""

    @hookimpl
    def faber_restore_run(self, run_ref: RunRef, destination: Path, progress: Any) -> ArchiveBundle | None:
        bundle = super().faber_restore_run(run_ref, destination, progress)
        return None if bundle is None else bundle.model_copy(update={"manifest_sha256": "0" * 64})


class MisnamingArchive(FolderArchive):
    """Answers a restore with a bundle it names as another run's."""

    @hookimpl
    def faber_restore_run(self, run_ref: RunRef, destination: Path, progress: Any) -> ArchiveBundle | None:
        bundle = super().faber_restore_run(run_ref, destination, progress)
        other = "acme/widget-service/0b0e1c9a-5a7e-4c1d-9f0e-2b7d3c4e5f60"
        return None if bundle is None else bundle.model_copy(update={"run_id": other})


@pytest.mark.parametrize("tampering", ["recorded", "described", "run", "named", "size", "sha256"])
def test_each_check_of_a_restore_refuses_its_own_tampering(project_dir: Path, tmp_path: Path, tampering: str) -> None:
    """An archive tampered with in one respect only is refused by the one check of that respect, named
    alone: no check relies on another to catch what it is there for; local files stay as they were."""
    backend = {"described": "MisdescribingArchive", "named": "MisnamingArchive"}.get(tampering, "FolderArchive")
    faber = open_with(project_dir, tmp_path, folder=backend)
    run_id = finished_run(faber)
    original = events_of(faber, run_id)
    archived = faber.archive_run(run_id, cleanup=True)
    stored = FolderArchive.store / run_id
    trust = False
    if tampering == "recorded":  # the same manifest, written otherwise: only its recorded hash differs
        manifest = stored / "manifest.json"
        manifest.write_bytes(json.dumps(json.loads(manifest.read_bytes())).encode())
        expected = (f"manifest.json has sha256 {hashlib.sha256(manifest.read_bytes()).hexdigest()[:12]}..., not the "
                    f"{archived.manifest_sha256[:12]}... recorded when the run was archived")
    elif tampering in ("described", "named"):
        expected = ("manifest.json is not the file the backend described" if tampering == "described"
                    else f"it holds run {run_id}, not {run_id}")
    elif tampering == "run":  # another run's whole, consistent bundle in its place
        other = finished_run(faber, events=3)
        faber.archive_run(other)
        shutil.rmtree(stored)
        shutil.copytree(FolderArchive.store / other, stored)
        trust = True  # its manifest hash differs too: leave that check out, to see this one alone
        expected = f"it holds run {other}, not {run_id}"
    else:
        state = stored / "state.json"
        data = state.read_bytes()
        if tampering == "size":
            state.write_bytes(data + b" ")
            expected = f"state.json has {len(data) + 1} bytes, the manifest says {len(data)}"
        else:
            state.write_bytes(data.replace(b"completed", b"failed!!!"))
            expected = "state.json does not match its sha256 in the manifest"
    with pytest.raises(IntegrityError) as failure:
        faber.restore_run(run_id, trust_archive=trust)
    problems = str(failure.value).split("was refused: ", 1)[1].split("; ")
    assert [problem.split(" (if it was")[0] for problem in problems] == [expected]
    assert faber.run(run_id).events_local is False
    if tampering == "recorded":  # that check alone stood in the way
        faber.restore_run(run_id, trust_archive=True)
        assert events_of(faber, run_id) == original


def _rewrite_bundle(stored: Path, lines: list[bytes]) -> None:
    """Put ``lines`` in the stored events.jsonl and make the stored manifest describe it (a consistent
    rewrite: only what is inside the events can tell)."""
    data = b"".join(lines)
    (stored / "events.jsonl").write_bytes(data)
    manifest = json.loads((stored / "manifest.json").read_bytes())
    for entry in manifest["files"]:
        if entry["name"] == "events.jsonl":
            entry.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    (stored / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def test_a_cleaned_up_run_is_read_and_verified_from_its_archive_without_restoring_it(
    project_dir: Path, tmp_path: Path
) -> None:
    faber = open_with(project_dir, tmp_path, folder="FolderArchive")
    run_id = finished_run(faber)
    expected = [event.to_json() for event in faber.events(run_id)]
    consolidated = faber.consolidate_events(run_id)
    assert (consolidated.run_id, consolidated.manifest.event_count) == (run_id, 5)
    assert Path(consolidated.directory).name == "archive" and len(consolidated.manifest_sha256) == 64
    faber.archive_run(run_id, cleanup=True)

    reader = open_with(project_dir, tmp_path, folder="FolderArchive")
    record = reader.run(run_id)
    assert record.events_local is False and record.state.status == "completed"
    assert [event.to_json() for event in reader.events(run_id)] == expected
    assert [event.event_id for event in reader.events(run_id, since_id=3)] == [4, 5]
    report = reader.verify(run_id)
    assert (report.ok, report.events, report.last_event_id, report.problems) == (True, 5, 5, [])
    assert reader.run(run_id).events_local is False, "read, not restored"

    stored = FolderArchive.store / run_id
    lines = (stored / "events.jsonl").read_bytes().splitlines(keepends=True)
    _rewrite_bundle(stored, [*lines[:2], *lines[3:]])  # event 3 gone
    report = open_with(project_dir, tmp_path, folder="FolderArchive").verify(run_id)
    assert [(p.code, p.message) for p in report.problems] == [("event_gap", "event 4 follows event 2")]
    assert (report.ok, report.events, report.last_event_id) == (False, 4, 5)
    _rewrite_bundle(stored, [*lines[:2], b"{not json\n", *lines[3:]])
    report = open_with(project_dir, tmp_path, folder="FolderArchive").verify(run_id)
    assert [(p.code, p.message) for p in report.problems] == [
        ("event_invalid", "events.jsonl line 3 is not a valid event"), ("event_gap", "event 4 follows event 2")]
    (stored / "events.jsonl").write_bytes(b"".join(lines))  # the manifest no longer describes it
    with pytest.raises(IntegrityError, match=rf"refused: events.jsonl has {len(b''.join(lines))} bytes, the manifest says \d+$"):
        list(open_with(project_dir, tmp_path, folder="FolderArchive").events(run_id))


def test_writing_to_a_cleaned_up_run_restores_it_first(project_dir: Path, tmp_path: Path) -> None:
    from faber_host.archive.restorer import ensure_events_local

    faber = open_with(project_dir, tmp_path, folder="FolderArchive")
    run_id = finished_run(faber)
    original = events_of(faber, run_id)
    assert ensure_events_local(faber.log, run_id) is None, "its events are here"
    faber.archive_run(run_id, cleanup=True)
    restored = ensure_events_local(faber.log, run_id)
    assert restored is not None and restored.event_count == 5 and events_of(faber, run_id) == original
    shutil.rmtree(Path(faber.run(run_id).location))  # known only to the archive now
    again = ensure_events_local(open_with(project_dir, tmp_path, folder="FolderArchive").log, run_id)
    assert again is not None and again.run_id == run_id and events_of(faber, run_id) == original


@pytest.mark.parametrize(("text", "days"), [("30d", 30.0), ("2w", 14.0), ("12h", 0.5), ("90m", 90 / 1440),
                                            ("1.5", 1.5), (" 3D ", 3.0)])
def test_ages_on_the_command_line(text: str, days: float) -> None:
    from faber_host.archive.durations import parse_days

    assert parse_days(text) == pytest.approx(days)


def test_ages_and_moments_refused_or_read() -> None:
    from datetime import UTC, datetime

    from faber_hookspecs.errors import InvalidInput

    from faber_host.archive.durations import age_days, parse_days, parse_moment, parse_timestamp

    for bad in ("-3d", "3 weeks", "d", "", "3y"):
        with pytest.raises(InvalidInput, match="invalid age"):
            parse_days(bad)
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert parse_moment("1d", "--since", now) == "2026-12-05T12:00:00.000Z"
    assert parse_moment("2026-12-01", "--since", now) == "2026-12-01T00:00:00.000Z"
    assert parse_moment("2026-12-01T10:00:00.250+02:00", "--until", now) == "2026-12-01T08:00:00.250Z"
    with pytest.raises(InvalidInput, match="invalid --until 'soon'"):
        parse_moment("soon", "--until", now)
    assert parse_timestamp("2026-11-26T07:13:25.215Z") == datetime(2026, 11, 26, 7, 13, 25, 215000, tzinfo=UTC)
    assert parse_timestamp(None) is None and parse_timestamp("") is None and parse_timestamp("yesterday") is None
    assert parse_timestamp("2026-11-26T07:13:25").tzinfo == UTC, "a time without an offset is UTC"  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match=r"^invalid age 'x{40}': use a number"):
        parse_days("x" * 60)  # an outside value is quoted short
    with pytest.raises(InvalidInput, match=r"^invalid --since 'y{40}': use a date"):
        parse_moment("y" * 60, "--since", now)
    with pytest.raises(InvalidInput, match="invalid age 'None'"):
        parse_days(None)  # type: ignore[arg-type]  # (what a JSON caller may send)
    assert age_days("2026-12-05T00:00:00.000Z", now) == 1.5 and age_days("never", now) is None


class ListingArchive(FolderArchive):
    """Also lists what it holds, newest first by its manifest's time, as an archive with an index does."""

    @hookimpl
    def faber_list_archived_runs(self, query: Any) -> list[Any]:
        import datetime

        from faber_hookspecs.archive import ArchivedRun

        found = []
        for manifest in sorted(self.store.glob("*/*/*/manifest.json")):
            org, project, uuid = manifest.parent.relative_to(self.store).parts
            if (query.org or org) != org or (query.project or project) != project:
                continue
            if not uuid.startswith(query.uuid_prefix or ""):
                continue
            moment = datetime.datetime.fromtimestamp(manifest.stat().st_mtime_ns / 1e9, datetime.UTC)
            found.append(ArchivedRun(run_id=f"{org}/{project}/{uuid}", backend="folder", url=f"file://{manifest.parent}/",
                                     archived_at=moment.isoformat(timespec="microseconds")))
        return found


class BrokenListingArchive(FolderArchive):
    @hookimpl
    def faber_list_archived_runs(self, query: Any) -> list[Any]:
        raise OSError("the index is unreachable")


def test_runs_known_only_to_the_archive_are_listed_and_found_by_a_short_name(project_dir: Path, tmp_path: Path) -> None:
    import time

    from faber_hookspecs.errors import InvalidInput, RunNotFound

    faber = open_with(project_dir, tmp_path, folder="ListingArchive")
    first = finished_run(faber)
    faber.archive_run(first, cleanup=True)
    time.sleep(0.01)
    second = finished_run(faber, events=3)
    faber.archive_run(second, cleanup=True)
    for run_id in (first, second):
        shutil.rmtree(Path(faber.run(run_id).location))  # archived on another machine, as it were
    assert [run.run_id for run in faber.list_archived_runs()] == [second, first], "newest first"
    assert [run.run_id for run in faber.list_archived_runs(org="acme", project="widget-service")] == [second, first]
    assert faber.list_archived_runs(project="other-project") == []
    with pytest.raises(InvalidInput):
        faber.list_archived_runs(org="Not A Slug!")
    reader = open_with(project_dir, tmp_path, folder="ListingArchive")
    record = reader.run(first.split("/")[2][:8])
    assert record.metadata.run_id == first and record.events_local is False
    assert [event.event_id for event in reader.events(second.split("/")[2])] == [1, 2, 3]
    with pytest.raises(RunNotFound, match="no run here or in the archive matches"):
        reader.run("ffffffff")

    broken = open_with(project_dir, tmp_path, folder="BrokenListingArchive")
    with pytest.raises(ArchiveError, match=r"listing the archive of backend 'folder' failed: .*unreachable"):
        broken.list_archived_runs()
    with pytest.raises(ArchiveError, match=r"the archive of backend 'folder' could not be searched: .*unreachable"):
        broken.run(first.split("/")[2][:8])

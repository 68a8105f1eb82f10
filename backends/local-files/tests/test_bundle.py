"""The archive bundle on local files: consolidation, byte-exact expansion, and the safe cleanup."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import orjson
import pytest
from faber_backend_local_files.archiving import cleanup_run, consolidate_run, import_run
from faber_backend_local_files.bundle import event_forms, event_names, expand_events, expand_line
from faber_backend_local_files.run_folder import event_file_name
from faber_backend_local_files.store import LocalRunStore
from faber_hookspecs.archive import ArchiveBundle, ArchiveManifest
from faber_hookspecs.errors import ArchiveError, EventsNotLocal, IntegrityError, RunNotFound, StorageError
from faber_hookspecs.run_id import RunId
from faber_hookspecs.wire import dump_event, utc_timestamp
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.fixture
def store(tmp_path: Path) -> LocalRunStore:
    return LocalRunStore(str(tmp_path / "runs"), sync=False)


def new_run(store: LocalRunStore, events: int = 0) -> RunId:
    run_id = RunId.generate("acme", "widget-service")
    store.create_run({"run_id": str(run_id), "work_id": "7", "workflow_id": "default", "created_at": utc_timestamp()})
    for index in range(events):
        store.append(run_id, {"type": "checkpoint", "message": f"step {index} — é", "metadata": {"i": index}})
    return run_id


def event_files(store: LocalRunStore, run_id: RunId) -> dict[str, bytes]:
    """The events folder's files and their bytes; the lock files' only by name (they note the last
    commit a writer began, which a run imported elsewhere has not seen); the reference scripts' lock
    not at all (faber makes it at its first commit)."""
    folder = store.folder(run_id)
    return {name: b"" if name == ".lock" else Path(folder.events_dir, name).read_bytes()
            for name in os.listdir(folder.events_dir) if name != ".next-id.lock"}


def bundle_bytes(bundle: ArchiveBundle) -> dict[str, bytes]:
    return {entry.name: bundle.path(entry.name).read_bytes() for entry in bundle.files()}


# Consolidation -----------------------------------------------------------------------------------------


def test_consolidation_orders_numerically_and_describes_itself(store: LocalRunStore) -> None:
    run_id = new_run(store, 1002)
    bundle = consolidate_run(store, run_id)
    lines = bundle.path("events.jsonl").read_bytes().splitlines()
    ids = [json.loads(line)["event_id"] for line in lines]
    assert ids == list(range(1, 1003)), "numeric order: 999, 1000, 1001..."
    events = list(store.iter_events(run_id))
    assert [json.loads(line) for line in lines] == events
    assert lines[0] == json.dumps(events[0], ensure_ascii=False, separators=(",", ":")).encode()
    manifest = bundle.manifest
    assert (manifest.event_count, manifest.first_event_id, manifest.last_event_id) == (1002, 1, 1002)
    assert manifest.verbatim == []
    for entry in manifest.files:
        data = bundle.path(entry.name).read_bytes()
        assert (entry.size, entry.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    manifest_bytes = bundle.path("manifest.json").read_bytes()
    assert bundle.manifest_sha256 == hashlib.sha256(manifest_bytes).hexdigest()
    assert ArchiveManifest.model_validate_json(manifest_bytes) == manifest
    state = json.loads(bundle.path("state.json").read_bytes())
    assert state == store.reconstruct(run_id)


def test_consolidating_again_gives_the_same_bytes_and_leaves_nothing_behind(store: LocalRunStore) -> None:
    run_id = new_run(store, 30)
    first = bundle_bytes(consolidate_run(store, run_id))
    second = consolidate_run(store, run_id)
    assert bundle_bytes(second) == first
    folder = Path(store.folder(run_id).path)
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".state")) == [
        "archive", "events", "metadata.json", "state.json"
    ]
    assert sorted(p.name for p in (folder / "archive").iterdir()) == [
        "events.jsonl", "manifest.json", "metadata.json", "state.json"
    ]


def test_a_new_event_makes_a_new_bundle(store: LocalRunStore) -> None:
    run_id = new_run(store, 3)
    first = consolidate_run(store, run_id)
    store.append(run_id, {"type": "checkpoint"})
    second = consolidate_run(store, run_id)
    assert second.manifest_sha256 != first.manifest_sha256
    assert second.manifest.last_event_id == 4


def test_an_empty_run_consolidates(store: LocalRunStore) -> None:
    bundle = consolidate_run(store, new_run(store))
    assert bundle.manifest.event_count == 0 and bundle.manifest.first_event_id is None
    assert bundle.path("events.jsonl").read_bytes() == b""


def test_the_archive_record_in_metadata_is_not_part_of_the_bundle(store: LocalRunStore) -> None:
    run_id = new_run(store, 2)
    before = bundle_bytes(consolidate_run(store, run_id))
    store.update_metadata(run_id, lambda metadata: {**metadata, "archive": {"url": "s3://b/x/"}})
    assert bundle_bytes(consolidate_run(store, run_id)) == before


def test_a_stale_state_file_is_rebuilt_before_it_is_bundled(store: LocalRunStore) -> None:
    run_id = new_run(store, 5)
    folder = store.folder(run_id)
    Path(folder.state_file).write_text(json.dumps({"run_id": str(run_id), "status": "weird"}))
    bundle = consolidate_run(store, run_id)
    assert json.loads(bundle.path("state.json").read_bytes())["last_event_id"] == 5


def test_an_unreadable_event_file_stops_consolidation(store: LocalRunStore) -> None:
    run_id = new_run(store, 3)
    Path(store.folder(run_id).events_dir, "002-checkpoint.json").write_bytes(b"{not json")
    with pytest.raises(StorageError, match=r"002-checkpoint.json"):
        consolidate_run(store, run_id)
    assert not Path(store.folder(run_id).path, "archive").exists()


# Files in other formats come back byte for byte -------------------------------------------------------


FOREIGN = {
    "4-space indent": lambda event: json.dumps(event, indent=4).encode() + b"\n",
    "jq-style ASCII escapes": lambda event: json.dumps(event, indent=2, ensure_ascii=True).encode() + b"\n",
    "no final newline": lambda event: json.dumps(event, indent=2, ensure_ascii=False).encode(),
    "CRLF": lambda event: json.dumps(event, indent=2, ensure_ascii=False).replace("\n", "\r\n").encode() + b"\r\n",
    "one line": lambda event: json.dumps(event).encode() + b"\n",
}


@pytest.mark.parametrize("form", sorted(FOREIGN))
def test_event_files_in_other_forms_are_kept_verbatim(store: LocalRunStore, tmp_path: Path, form: str) -> None:
    run_id = new_run(store, 3)
    folder = store.folder(run_id)
    name = "002-checkpoint.json"
    event = json.loads(Path(folder.events_dir, name).read_bytes())
    event["message"] = "naïve ☃"
    Path(folder.events_dir, name).write_bytes(FOREIGN[form](event))
    bundle = consolidate_run(store, run_id)
    assert [(v.line, v.name) for v in bundle.manifest.verbatim] == [(2, name)]
    assert_round_trip(store, run_id, bundle, tmp_path)


def test_floats_that_orjson_writes_differently_are_kept_exactly(store: LocalRunStore, tmp_path: Path) -> None:
    run_id = new_run(store)
    values = [1e-05, 1e16, 1.5e-07, 0.1, 123456789.125, -2.5e-300, 1e22]
    for value in values:
        store.append(run_id, {"type": "checkpoint", "metadata": {"score": value, "ratio": [value, 0.5]}})
    bundle = consolidate_run(store, run_id)
    lines = bundle.path("events.jsonl").read_bytes().splitlines()
    assert [json.loads(line)["metadata"]["score"] for line in lines] == values
    assert all(b"0.00001" not in line for line in lines), "lines use the standard library's number forms"
    assert_round_trip(store, run_id, bundle, tmp_path)


def test_a_renamed_event_file_keeps_its_name(store: LocalRunStore, tmp_path: Path) -> None:
    run_id = new_run(store, 3)
    events_dir = store.folder(run_id).events_dir
    os.rename(Path(events_dir, "003-checkpoint.json"), Path(events_dir, "003-custom.json"))
    bundle = consolidate_run(store, run_id)
    verbatim = bundle.manifest.verbatim
    assert [(v.line, v.name, v.content_base64) for v in verbatim] == [(3, "003-custom.json", None)]
    assert_round_trip(store, run_id, bundle, tmp_path)


def test_reference_fixture_runs_round_trip(tmp_path: Path) -> None:
    """Runs written by the FABER reference's bash and jq scripts come back byte for byte."""
    fixtures = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "reference-runs" / "runs"
    shutil.copytree(fixtures, tmp_path / "runs")
    store = LocalRunStore(str(tmp_path / "runs"), sync=False)
    run_ids = list(store.run_ids())
    assert run_ids
    for run_id in run_ids:
        before = event_files(store, run_id)
        bundle = consolidate_run(store, run_id)
        assert bundle.manifest.event_count == sum(1 for name in before if name[0].isdigit())
        assert_round_trip(store, run_id, bundle, tmp_path / f"out-{run_id.uuid}")


def assert_round_trip(store: LocalRunStore, run_id: RunId, bundle: ArchiveBundle, scratch: Path) -> None:
    target = scratch / "expanded"
    target.mkdir(parents=True)
    expand_events(bundle, str(target), 0o600)
    original = {k: v for k, v in event_files(store, run_id).items() if not k.startswith(".")}
    restored = {p.name: p.read_bytes() for p in target.iterdir() if not p.name.startswith(".")}
    assert restored == original
    next_id = (bundle.manifest.last_event_id or 0) + 1
    assert (target / ".next-id").read_text() == f"{next_id}\n"


# Expansion checks everything --------------------------------------------------------------------------


def test_a_tampered_events_file_is_refused(store: LocalRunStore, tmp_path: Path) -> None:
    run_id = new_run(store, 5)
    bundle = consolidate_run(store, run_id)
    path = bundle.path("events.jsonl")
    path.write_bytes(path.read_bytes().replace(b"step 3", b"step 9"))
    target = tmp_path / "expanded"
    target.mkdir()
    with pytest.raises(IntegrityError, match="refused"):
        expand_events(bundle, str(target), 0o600)


def test_a_line_missing_from_the_events_file_is_refused(store: LocalRunStore, tmp_path: Path) -> None:
    run_id = new_run(store, 5)
    bundle = consolidate_run(store, run_id)
    path = bundle.path("events.jsonl")
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))
    target = tmp_path / "expanded"
    target.mkdir()
    with pytest.raises(IntegrityError, match="4 events instead of the manifest's 5"):
        expand_events(bundle, str(target), 0o600)


# Cleanup ------------------------------------------------------------------------------------------------


def test_cleanup_removes_the_events_and_keeps_state_metadata_and_manifest(store: LocalRunStore) -> None:
    run_id = new_run(store, 12)
    bundle = consolidate_run(store, run_id)
    folder = store.folder(run_id)
    metadata, state = Path(folder.metadata_file).read_bytes(), Path(folder.state_file).read_bytes()
    expected_bytes = sum(len(data) for data in _files_of(bundle).values())
    removed = cleanup_run(store, run_id, bundle.manifest_sha256, dry_run=False)
    assert (removed.files, removed.dry_run, removed.bytes) == (12, False, expected_bytes)
    assert not Path(folder.events_dir).exists()
    assert sorted(p.name for p in Path(folder.path).iterdir() if not p.name.startswith(".")) == [
        "archive", "metadata.json", "state.json"
    ]
    assert sorted(p.name for p in Path(folder.path, "archive").iterdir() if not p.name.startswith(".")) == [
        "manifest.json"
    ]
    assert (Path(folder.metadata_file).read_bytes(), Path(folder.state_file).read_bytes()) == (metadata, state)
    with pytest.raises(EventsNotLocal, match="faber restore"):
        store.append(run_id, {"type": "checkpoint"})
    with pytest.raises(EventsNotLocal):
        list(store.iter_events(run_id))
    assert [s["run_id"] for s in store.list_states()] == [str(run_id)]
    assert store.load_metadata(run_id)["run_id"] == str(run_id)
    again = cleanup_run(store, run_id, bundle.manifest_sha256, dry_run=False)
    assert again.files == 0


def _files_of(bundle: ArchiveBundle) -> dict[str, bytes]:
    verbatim = {entry.line: entry for entry in bundle.manifest.verbatim}
    out = {}
    for number, line in enumerate(bundle.path("events.jsonl").read_bytes().splitlines(), 1):
        assert number not in verbatim
        event, data = expand_line(line)
        out[event_file_name(event["event_id"], event["type"])] = data
    return out


def test_cleanup_dry_run_removes_nothing(store: LocalRunStore) -> None:
    run_id = new_run(store, 4)
    bundle = consolidate_run(store, run_id)
    before = event_files(store, run_id)
    removed = cleanup_run(store, run_id, bundle.manifest_sha256, dry_run=True)
    assert (removed.files, removed.dry_run) == (4, True)
    assert event_files(store, run_id) == before


def test_cleanup_refuses_when_an_event_came_after_the_archive(store: LocalRunStore) -> None:
    run_id = new_run(store, 4)
    bundle = consolidate_run(store, run_id)
    store.append(run_id, {"type": "checkpoint"})
    with pytest.raises(ArchiveError, match=r"events were added|changed since"):
        cleanup_run(store, run_id, bundle.manifest_sha256, dry_run=False)
    assert len([n for n in event_files(store, run_id) if n[0].isdigit()]) == 5


def test_cleanup_refuses_a_changed_event_file(store: LocalRunStore) -> None:
    run_id = new_run(store, 4)
    bundle = consolidate_run(store, run_id)
    path = Path(store.folder(run_id).events_dir, "002-checkpoint.json")
    path.write_bytes(path.read_bytes().replace(b"step 1", b"step X"))
    with pytest.raises(ArchiveError, match=r"002-checkpoint.json of run .* differs"):
        cleanup_run(store, run_id, bundle.manifest_sha256, dry_run=False)
    assert path.exists()


def test_cleanup_refuses_files_the_archive_does_not_hold(store: LocalRunStore) -> None:
    run_id = new_run(store, 2)
    bundle = consolidate_run(store, run_id)
    quarantine = Path(store.folder(run_id).events_dir, ".quarantine")
    quarantine.mkdir()
    (quarantine / "007-broken.json").write_bytes(b"{")
    with pytest.raises(ArchiveError, match=r"\.quarantine"):
        cleanup_run(store, run_id, bundle.manifest_sha256, dry_run=False)
    assert (quarantine / "007-broken.json").exists()


def test_cleanup_reconsolidates_when_the_local_bundle_is_gone(store: LocalRunStore) -> None:
    run_id = new_run(store, 3)
    bundle = consolidate_run(store, run_id)
    sha = bundle.manifest_sha256
    shutil.rmtree(bundle.directory)
    assert cleanup_run(store, run_id, sha, dry_run=True).files == 3
    assert not Path(store.folder(run_id).path, "archive").exists(), "a dry run writes no bundle"
    assert cleanup_run(store, run_id, sha, dry_run=False).files == 3


def test_cleanup_refuses_another_manifest(store: LocalRunStore) -> None:
    run_id = new_run(store, 3)
    consolidate_run(store, run_id)
    with pytest.raises(ArchiveError, match="changed since it was archived"):
        cleanup_run(store, run_id, "0" * 64, dry_run=False)
    assert len(event_files(store, run_id)) > 3


# Import -------------------------------------------------------------------------------------------------


def test_import_restores_a_cleaned_run_and_writing_goes_on(store: LocalRunStore, tmp_path: Path) -> None:
    run_id = new_run(store, 6)
    original = event_files(store, run_id)
    bundle = consolidate_run(store, run_id)
    downloaded = tmp_path / "download"
    shutil.copytree(bundle.directory, downloaded)
    cleanup_run(store, run_id, bundle.manifest_sha256, dry_run=False)
    import_run(store, bundle.model_copy(update={"directory": downloaded}))
    restored = event_files(store, run_id)
    assert restored == original
    event, _ = store.append(run_id, {"type": "checkpoint"})
    assert event["event_id"] == 7
    assert store.reconstruct(run_id)["last_event_id"] == 7


def test_import_creates_a_run_unknown_here(store: LocalRunStore, tmp_path: Path) -> None:
    run_id = new_run(store, 4)
    original = event_files(store, run_id)
    bundle = consolidate_run(store, run_id)
    elsewhere = LocalRunStore(str(tmp_path / "elsewhere"), sync=True)
    with pytest.raises(RunNotFound):
        elsewhere.load_metadata(run_id)
    import_run(elsewhere, bundle)
    assert event_files(elsewhere, run_id) == original
    assert elsewhere.reconstruct(run_id) == store.reconstruct(run_id)
    with pytest.raises(ArchiveError, match="already has its events"):
        import_run(elsewhere, bundle)


def test_a_damaged_bundle_changes_nothing_on_import(store: LocalRunStore, tmp_path: Path) -> None:
    run_id = new_run(store, 4)
    bundle = consolidate_run(store, run_id)
    manifest = bundle.manifest.model_copy(update={"event_files_sha256": "1" * 64})
    elsewhere = LocalRunStore(str(tmp_path / "elsewhere"))
    with pytest.raises(IntegrityError, match="would not be the same bytes"):
        import_run(elsewhere, bundle.model_copy(update={"manifest": manifest}))
    parent = tmp_path / "elsewhere" / "acme" / "widget-service"
    left = list(parent.rglob("*")) if parent.exists() else []
    assert left in ([], [parent / ".staging"]), "no staging folder or half run is left"


# The two JSON libraries agree where it is assumed ------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_event_forms_match_the_standard_library(event: dict[str, object]) -> None:
    """Whatever orjson does, a file and its line are exactly the standard library's forms."""
    try:
        standard_file = (json.dumps(event, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return  # lone surrogates cannot be written as UTF-8 files at all
    parsed, line, standard = event_forms(standard_file)
    assert standard, "a file in the standard form is recognised as such"
    assert line == json.dumps(parsed, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert expand_line(line)[1] == standard_file
    # orjson's own form of the file is standard only when it is byte for byte the same
    own = orjson.dumps(parsed, option=orjson.OPT_INDENT_2) + b"\n"
    assert event_forms(own)[2] == (own == standard_file)


def test_event_names_sort_numerically(tmp_path: Path) -> None:
    for event_id in (1, 2, 10, 99, 100, 999, 1000, 1001, 10000, 123456):
        (tmp_path / event_file_name(event_id, "checkpoint")).write_bytes(b"{}")
    (tmp_path / ".next-id").write_text("1")
    (tmp_path / "notes.txt").write_text("x")
    names = event_names(str(tmp_path))
    assert [int(name.split("-")[0]) for name in names] == [1, 2, 10, 99, 100, 999, 1000, 1001, 10000, 123456]
    (tmp_path / "0005-odd.json").write_bytes(b"{}")
    assert [int(name.split("-")[0]) for name in event_names(str(tmp_path))][:4] == [1, 2, 5, 10]


def test_verbatim_content_is_base64_of_the_file(store: LocalRunStore) -> None:
    run_id = new_run(store, 1)
    path = Path(store.folder(run_id).events_dir, "001-checkpoint.json")
    raw = json.dumps(json.loads(path.read_bytes()), indent=4).encode()
    path.write_bytes(raw)
    bundle = consolidate_run(store, run_id)
    assert base64.b64decode(bundle.manifest.verbatim[0].content_base64 or "") == raw


def test_dump_event_is_the_standard_form() -> None:
    event = {"event_id": 3, "type": "checkpoint", "timestamp": utc_timestamp(), "run_id": "a/b/c", "message": "é"}
    assert event_forms(dump_event(event))[2]


def _sole_problems(failure: pytest.ExceptionInfo[IntegrityError]) -> list[str]:
    """The problems an expansion's refusal lists (``...was refused: a; b``)."""
    return str(failure.value).split("was refused: ", 1)[1].split("; ")


@pytest.mark.parametrize("change", ["events_sha256", "event_count", "first_event_id", "last_event_id",
                                    "event_files_sha256"])
def test_each_manifest_check_of_an_expansion_refuses_its_own_tampering(
    store: LocalRunStore, tmp_path: Path, change: str
) -> None:
    """A manifest changed in one respect only is refused by the one check of that respect, named alone:
    no check leans on another to catch what it is there for."""
    run_id = new_run(store, 4)
    bundle = consolidate_run(store, run_id)
    manifest = bundle.manifest
    if change == "events_sha256":
        files = [entry.model_copy(update={"sha256": "0" * 64}) if entry.name == "events.jsonl" else entry
                 for entry in manifest.files]
        tampered = manifest.model_copy(update={"files": files})
        expected = "events.jsonl does not match its sha256 in the manifest"
    elif change == "event_count":
        tampered = manifest.model_copy(update={"event_count": 5})
        expected = "4 events instead of the manifest's 5"
    elif change == "event_files_sha256":
        tampered = manifest.model_copy(update={"event_files_sha256": "0" * 64})
        expected = "the event files would not be the same bytes as the archived ones"
    else:
        tampered = manifest.model_copy(update={change: 2 if change == "first_event_id" else 3})
        expected = "the first or last event id differs from the manifest"
    target = tmp_path / "expanded"
    target.mkdir()
    with pytest.raises(IntegrityError) as failure:
        expand_events(bundle.model_copy(update={"manifest": tampered}), str(target), 0o600)
    assert _sole_problems(failure) == [expected]
    assert not (target / ".next-id").exists(), "nothing is set up for a refused expansion"


def test_an_events_file_cut_short_or_naming_a_file_twice_or_elsewhere_is_refused(
    store: LocalRunStore, tmp_path: Path
) -> None:
    run_id = new_run(store, 3)
    bundle = consolidate_run(store, run_id)
    path = bundle.path("events.jsonl")
    original = path.read_bytes()
    lines = original.splitlines(keepends=True)
    cases = {
        original[:-1]: "does not end with a newline",
        lines[0] + lines[0] + lines[2]: "holds the event file 001-checkpoint.json twice",
        lines[0] + b"[1]\n" + lines[2]: "line 2 is not a JSON object",
        lines[0] + b'{"event_id": 2}\n' + lines[2]: "line 2 has no event_id and type to name its file by",
        lines[0] + b'{"event_id": 2, "type": "x/../../y"}\n' + lines[2]: "which is not an event file",
    }
    for number, (data, said) in enumerate(cases.items()):
        path.write_bytes(data)
        target = tmp_path / f"expanded-{number}"
        target.mkdir()
        with pytest.raises(IntegrityError, match=re.escape(said)):
            expand_events(bundle, str(target), 0o600)

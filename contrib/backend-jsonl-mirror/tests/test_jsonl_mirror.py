"""The example backend, tested with the fixtures faber-host ships (faber_project, faber_gateway,
faber_events): what a third-party backend's own tests look like."""

from __future__ import annotations

import json
from pathlib import Path

from faber_hookspecs.records import BackendContext
from faber_jsonl_mirror import JsonlMirror, JsonlMirrorConfig

from faber_host.api import Faber
from faber_host.testing import EventFactory, GatewayFactory, TestProject


def mirrored(project: TestProject, run_id: str) -> list[dict[str, object]]:
    org, slug, uuid = run_id.split("/")
    path = project.root / ".fractary/plugins/faber/mirror" / org / slug / f"{uuid}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_installed_and_discovered_but_not_enabled_by_default(faber_project: TestProject) -> None:
    listed = {info["name"]: info for info in faber_project.cli("backends", "--json").json()}
    mirror = listed["jsonl_mirror"]
    assert mirror["distribution"] == "faber-jsonl-mirror" and mirror["installed"] is True
    assert mirror["enabled"] is False
    assert mirror["hooks"] == ["faber_check_health", "faber_emit_event"]


def test_every_event_of_a_run_is_mirrored_in_order(
    faber_project: TestProject, faber_gateway: GatewayFactory, faber_events: EventFactory
) -> None:
    faber = Faber(faber_project.project, faber_gateway("jsonl_mirror"))
    run_id = faber.new_run("123").run_id
    for draft in faber_events.workflow(fail_at="build:implement"):
        result = faber.emit_draft(run_id, draft.model_dump(mode="json", exclude_none=True))
        assert result.warnings == []
    stored = [event.to_json() for event in faber.events(run_id)]
    assert mirrored(faber_project, run_id) == stored
    assert [line["type"] for line in mirrored(faber_project, run_id)][-2:] == ["step_error", "workflow_error"]


def test_types_filter(
    faber_project: TestProject, faber_gateway: GatewayFactory, faber_events: EventFactory
) -> None:
    gateway = faber_gateway("jsonl_mirror", config={"jsonl_mirror": {"types": ["step_error", "workflow_error"]}})
    faber = Faber(faber_project.project, gateway)
    run_id = faber.new_run("123").run_id
    for draft in faber_events.workflow(fail_at="frame:classify"):
        faber.emit_draft(run_id, draft.model_dump(mode="json", exclude_none=True))
    assert [line["type"] for line in mirrored(faber_project, run_id)] == ["step_error", "workflow_error"]


def test_enabled_from_gateway_json_through_the_cli(faber_project: TestProject) -> None:
    faber_project.enable("jsonl_mirror", {"path": "mirror"})
    run_id = faber_project.cli("runs", "new", "--work-id", "9").stdout.strip()
    assert faber_project.cli("event", "emit", run_id, "workflow_start").exit_code == 0
    org, slug, uuid = run_id.split("/")
    lines = (faber_project.root / "mirror" / org / slug / f"{uuid}.jsonl").read_text().splitlines()
    assert [json.loads(line)["event_id"] for line in lines] == [1]
    doctor = faber_project.cli("doctor", "--json").json()
    assert {"area": "jsonl_mirror", "name": "mirror writable", "verdict": "ok",
            "detail": str(faber_project.root / "mirror")} in doctor["checks"]


def test_a_misspelled_config_key_is_one_clear_line(faber_project: TestProject) -> None:
    faber_project.enable("jsonl_mirror", {"pathh": "mirror"})
    # The mirror fails alone: the store's commands go on with one warning line, doctor fails it.
    result = faber_project.cli("runs", "list")
    assert result.exit_code == 0 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("faber: warning: backend 'jsonl_mirror' is not loaded")
    assert "backends.jsonl_mirror.config.pathh: unknown key" in result.stderr
    doctor = faber_project.cli("doctor", "--json")
    assert doctor.exit_code == 1
    (loads,) = [c for c in doctor.json()["checks"] if (c["area"], c["name"]) == ("jsonl_mirror", "loads")]
    assert loads["verdict"] == "fail" and "pathh: unknown key" in loads["detail"]


def test_the_hook_called_directly_with_factory_events(tmp_path: Path, faber_events: EventFactory) -> None:
    context = BackendContext(root=tmp_path, faber_dir=tmp_path / ".f", config_file=tmp_path / "gateway.json")
    mirror = JsonlMirror(JsonlMirrorConfig(path="m"), context)
    run_id = faber_events.run_id()
    events = [faber_events.event("workflow_start", run_id=run_id), faber_events.event("checkpoint", run_id=run_id)]
    for index, event in enumerate(events):
        mirror.faber_emit_event(event=event, state=faber_events.state(events[: index + 1]))
    assert [json.loads(line)["event_id"] for line in mirror.mirror_file(run_id).read_text().splitlines()] == [1, 2]


def test_an_unwritable_mirror_fails_its_health_check(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    context = BackendContext(root=tmp_path, faber_dir=tmp_path / ".f", config_file=tmp_path / "gateway.json")
    (check,) = JsonlMirror(JsonlMirrorConfig(path="file/m"), context).faber_check_health()
    assert check.verdict == "fail" and str(tmp_path / "file/m") in check.detail

"""`faber init`: creates the FABER folder, and rewrites old files only after keeping a backup."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import FIXTURES, Cli

FABER = Path(".fractary/plugins/faber")


def ids(workflow: dict) -> dict[str, list[str]]:
    return {
        phase: [step["id"] for part in ("pre_steps", "steps", "post_steps") for step in body.get(part, [])]
        for phase, body in workflow["phases"].items()
    }


def test_init_creates_everything(tmp_path: Path) -> None:
    output = Cli(tmp_path).ok("init", "--org", "acme", "--project", "widget")
    for name in ("config.json", "gateway.json", "workflows/core.json", "workflows/default.json"):
        assert (tmp_path / FABER / name).is_file()
        assert f"created   {FABER / name}" in output
    assert (tmp_path / FABER / "runs").is_dir()
    config = json.loads((tmp_path / FABER / "config.json").read_text())
    assert (config["org"], config["project"]) == ("acme", "widget")
    for name in ("core", "default"):
        ours = json.loads((tmp_path / FABER / f"workflows/{name}.json").read_text())
        reference = json.loads((FIXTURES / f"reference-config/config__workflows__{name}.json").read_text())
        assert ids(ours) == ids(reference)
        assert ours["id"] == reference["id"]


def test_init_twice_changes_nothing(tmp_path: Path) -> None:
    Cli(tmp_path).ok("init", "--org", "acme", "--project", "widget")
    output = Cli(tmp_path).ok("init")
    assert output.count("unchanged") == 5  # the four files and .gitignore
    assert not list((tmp_path / FABER).rglob("*.bak-*"))


def test_init_rewrites_old_files_after_a_backup(tmp_path: Path) -> None:
    faber_dir = tmp_path / FABER
    (faber_dir / "workflows").mkdir(parents=True)
    reference_config = (FIXTURES / "reference-config/config__faber.example.json").read_text()
    (faber_dir / "config.json").write_text(reference_config)
    (faber_dir / "gateway.json").write_text("{ this is not json")
    (faber_dir / "workflows/default.json").write_text('"nope"')
    output = Cli(tmp_path).ok("init", "--org", "acme", "--project", "widget")

    backups = {p.name.split(".bak-")[0]: p for p in faber_dir.rglob("*.bak-*")}
    assert set(backups) == {"config.json", "gateway.json", "default.json"}
    assert backups["config.json"].read_text() == reference_config
    assert backups["gateway.json"].read_text() == "{ this is not json"
    assert "rewritten config.json" not in output  # paths are shown relative to the root
    assert f"rewritten {FABER / 'config.json'}" in output and "added org, project" in output
    assert f"rewritten {FABER / 'gateway.json'}" in output and "not readable JSON" in output

    config = json.loads((faber_dir / "config.json").read_text())
    kept = json.loads(reference_config)
    assert config["safety"] == kept["safety"] and config["integrations"] == kept["integrations"]
    assert config["org"] == "acme"
    assert json.loads((faber_dir / "gateway.json").read_text())["backends"]["local_files"]["enabled"] is True
    assert json.loads((faber_dir / "workflows/default.json").read_text())["id"] == "default"


def test_init_keeps_a_valid_gateway_and_a_users_workflow(tmp_path: Path) -> None:
    Cli(tmp_path).ok("init", "--org", "acme", "--project", "widget")
    gateway = tmp_path / FABER / "gateway.json"
    document = json.loads(gateway.read_text())
    document["backends"]["local_files"]["config"]["sync_writes"] = False
    gateway.write_text(json.dumps(document))
    workflow = tmp_path / FABER / "workflows/default.json"
    custom = json.loads(workflow.read_text())
    custom["description"] = "ours"
    workflow.write_text(json.dumps(custom, indent=2) + "\n")
    Cli(tmp_path).ok("init")
    assert json.loads(gateway.read_text())["backends"]["local_files"]["config"]["sync_writes"] is False
    assert json.loads(workflow.read_text())["description"] == "ours"

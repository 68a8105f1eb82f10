"""``faber init``: write config.json, gateway.json, the ``core`` and ``default`` workflows, the runs folder
and a .gitignore under ``.fractary/plugins/faber/``. An existing file is rewritten in the current format
(keeping what is still valid) only after a copy to ``NAME.bak-<timestamp>``, and each file's fate is
reported: nothing is lost and nothing changes silently."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from faber_hookspecs.errors import ConfigError, StorageError

from .gateway.config import parse_gateway_config
from .project import FABER_DIR, Project

WORKFLOW_TEMPLATES = ("core", "default")


@dataclass(frozen=True)
class FileChange:
    """What ``faber init`` did to one file."""

    path: Path
    action: str  # "created", "unchanged" or "rewritten"
    backup: Path | None = None
    detail: str = ""

    def describe(self, root: Path) -> str:
        relative = self.path.relative_to(root)
        text = f"{self.action:<9} {relative}"
        if self.backup:
            text += f" (old file kept as {self.backup.name})"
        return text + (f": {self.detail}" if self.detail else "")


def initialize(
    root: Path, org: str | None, project: str | None, environ: dict[str, str]
) -> tuple[Project, list[FileChange]]:
    """Create or upgrade the FABER folder of ``root``; return the project and what changed."""
    target = Project(root.resolve(), environ)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    _refuse_links(target.root, [*FABER_DIR.parts, "workflows"], [*FABER_DIR.parts, "runs"])
    try:
        target.workflows_dir.mkdir(parents=True, exist_ok=True)
        (target.faber_dir / "runs").mkdir(mode=0o700, exist_ok=True)
    except OSError as problem:
        raise StorageError(f"cannot create {root / FABER_DIR}: {problem.strerror}") from None

    old_config, config_note = _read_old(target.config_file)
    chosen_org, chosen_project = _identity(target, old_config, org, project)
    changes = [
        _write(target.config_file, _config(old_config, chosen_org, chosen_project), config_note, stamp),
        _write(target.gateway_file, *_gateway(target), stamp),
    ]
    for name in WORKFLOW_TEMPLATES:
        path = target.workflows_dir / f"{name}.json"
        changes.append(_write(path, *_workflow(path, name), stamp))
    changes.append(_write_gitignore(target.faber_dir / ".gitignore"))
    return target, changes


GITIGNORE = """\
# Written by `faber init`. What faber keeps for this machine only stays out of git: runs, outboxes,
# mirrors, runner locks, restore downloads and s3_store's scratch. Nothing in them (a symbolic link included) can then
# arrive with a clone. config.json, gateway.json and workflows/ are meant to be committed.
/runs/
/outbox/
/mirror/
/runners/
/s3-store/
/.restore-*
*.bak-*
"""


def _write_gitignore(path: Path) -> FileChange:
    """Create the FABER folder's .gitignore; one that exists is the user's and is kept as it is."""
    if os.path.lexists(path):
        return FileChange(path, "unchanged", detail="" if path.is_file() and not path.is_symlink() else "not a file")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(GITIGNORE)
    except OSError as problem:
        raise StorageError(f"cannot write {path}: {problem.strerror}") from None
    return FileChange(path, "created")


def _refuse_links(root: Path, *paths: list[str]) -> None:
    """Refuse to write through a symbolic link under the project (one could arrive with a clone and
    lead init's writes, a backup copy included, anywhere)."""
    for parts in paths:
        path = root
        for part in parts:
            path = path / part
            if path.is_symlink():
                raise StorageError(f"{path} is a symbolic link; faber init never writes through links under "
                                   f"{FABER_DIR.parts[0]}/: remove it and run faber init again")


def template(name: str) -> dict[str, Any]:
    """A bundled template (``gateway.json``, ``workflows/default.json``...) as a JSON object."""
    text = files("faber_host").joinpath("templates", name).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def _identity(target: Project, old_config: dict[str, Any], org: str | None, project: str | None) -> tuple[str, str]:
    # The old config.json may be invalid; only its org/project strings matter here.
    usable = {key: old_config[key] for key in ("org", "project") if isinstance(old_config.get(key), str)}
    return target.identity(org, project, config=usable)


def _config(old: dict[str, Any], org: str, project: str) -> dict[str, Any]:
    fresh = template("config.json")
    config = {**fresh, **{key: value for key, value in old.items() if key not in ("org", "project")}}
    config["org"], config["project"] = org, project
    if not isinstance(config.get("workflows"), list):
        config["workflows"] = fresh["workflows"]
    return config


def _gateway(target: Project) -> tuple[dict[str, Any], str]:
    old, note = _read_old(target.gateway_file)
    if not old:
        return template("gateway.json"), note
    try:
        # Validate without expanding ${VAR}: the file keeps its references.
        parse_gateway_config(old, target.gateway_file, environ=_Permissive())
    except ConfigError as problem:
        return template("gateway.json"), f"the old file was invalid ({problem}); replaced with the default"
    fresh = template("gateway.json")
    merged = {**fresh, **old, "backends": {**fresh["backends"], **old.get("backends", {})}}
    return merged, note


def _workflow(path: Path, name: str) -> tuple[dict[str, Any], str]:
    old, note = _read_old(path)
    if old and isinstance(old.get("phases"), dict) and isinstance(old.get("id"), str):
        return old, note  # the user's own edits of a workflow are kept
    fresh = template(f"workflows/{name}.json")
    return fresh, note or ("" if not path.exists() else "the old file was not a FABER workflow; replaced")


def _read_old(path: Path) -> tuple[dict[str, Any], str]:
    """The current file as a JSON object, or ({}, why not) when it is absent or unusable."""
    if not path.exists():
        return {}, ""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as problem:
        return {}, f"the old file was not readable JSON ({problem}); replaced"
    except RecursionError:
        return {}, "the old file was nested too deeply to be read; replaced"
    if not isinstance(document, dict):
        return {}, "the old file was not a JSON object; replaced"
    return document, ""


def _write(path: Path, document: dict[str, Any], note: str, stamp: str) -> FileChange:
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    _refuse_links(path.parent, [path.name])
    try:
        if path.exists():
            old_text = path.read_bytes()
            if old_text == text.encode("utf-8"):
                return FileChange(path, "unchanged")
            backup = path.with_name(f"{path.name}.bak-{stamp}")
            shutil.copy2(path, backup)
            detail = note or _summarize(old_text, document)
            path.write_text(text, encoding="utf-8")
            return FileChange(path, "rewritten", backup, detail)
        path.write_text(text, encoding="utf-8")
    except OSError as problem:
        raise StorageError(f"cannot write {path}: {problem.strerror}") from None
    return FileChange(path, "created")


def _summarize(old_text: bytes, new: dict[str, Any]) -> str:
    try:
        old = json.loads(old_text)
    except ValueError:
        return "replaced"
    if not isinstance(old, dict):
        return "replaced"
    added = [key for key in new if key not in old]
    removed = [key for key in old if key not in new]
    changed = [key for key in new if key in old and old[key] != new[key]]
    parts = [f"{label} {', '.join(keys)}" for label, keys in
             (("added", added), ("removed", removed), ("changed", changed)) if keys]
    return "; ".join(parts) or "reformatted"


class _Permissive(dict[str, str]):
    """An environment in which every variable is set, to validate a file's shape, not its values."""

    def get(self, key: str, default: Any = None) -> str:
        return "x"

    def __getitem__(self, key: str) -> str:
        return "x"

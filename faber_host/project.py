"""A FABER project: a folder holding ``.fractary/plugins/faber/``, and who it belongs to.

The project is found from the current folder upwards, or named by ``--root`` or ``FABER_ROOT``. Its
org and project slugs (the first two parts of every run id) come from ``--org``/``--project``, else
config.json, else the git remote, else the folder name.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faber_hookspecs.errors import ConfigError, InvalidRunId
from faber_hookspecs.run_id import slugify, validate_slug

from .project_root import find_project_root

FABER_DIR = Path(".fractary") / "plugins" / "faber"
DEFAULT_ORG = "local"
"""The org of a project that has no config, no git remote and so nothing better to go by."""


@dataclass(frozen=True)
class Project:
    """A project root and the environment it is read with."""

    root: Path
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def faber_dir(self) -> Path:
        return self.root / FABER_DIR

    @property
    def config_file(self) -> Path:
        return self.faber_dir / "config.json"

    @property
    def gateway_file(self) -> Path:
        return self.faber_dir / "gateway.json"

    @property
    def workflows_dir(self) -> Path:
        return self.faber_dir / "workflows"

    @classmethod
    def find(cls, root: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Project:
        """The project named by ``root`` or FABER_ROOT, else the nearest one above the current folder."""
        environ = dict(os.environ) if environ is None else environ
        return cls(Path(find_project_root(os.fspath(root) if root else None, environ)), environ)

    def read_config(self) -> dict[str, Any]:
        """config.json as a JSON object ({} when absent). Unknown keys are the FABER plugin's own."""
        return read_json_object(self.config_file, missing_ok=True)

    def identity(
        self, org: str | None = None, project: str | None = None, config: dict[str, Any] | None = None
    ) -> tuple[str, str]:
        """The org and project slugs for new runs; see the module docstring for the order.
        ``config`` replaces reading config.json (``faber init`` passes what it salvaged)."""
        config = self.read_config() if config is None else config
        remote = None
        if not (org or config.get("org")) or not (project or config.get("project")):
            remote = git_remote_identity(self.root)
        chosen_org = org or config.get("org") or (remote[0] if remote else None) or DEFAULT_ORG
        chosen_project = project or config.get("project") or (remote[1] if remote else None)
        chosen_project = chosen_project or slugify(self.root.name) or "project"
        source = "--org/--project" if org or project else f"{self.config_file}"
        try:
            return validate_slug(chosen_org, "org"), validate_slug(chosen_project, "project")
        except InvalidRunId as problem:
            raise ConfigError(f"{problem} (from {source})") from None


def read_json_object(path: Path, *, missing_ok: bool = False) -> dict[str, Any]:
    """A JSON object file, or a ConfigError naming the file and what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise ConfigError(f"{path} is missing; run `faber init`") from None
    except (OSError, UnicodeDecodeError) as problem:
        raise ConfigError(f"cannot read {path}: {problem}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as problem:
        raise ConfigError(f"{path} is not valid JSON: {problem.msg} at line {problem.lineno}") from None
    except RecursionError:
        raise ConfigError(f"{path} is nested too deeply to be a configuration file") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path} must hold a JSON object, not {type(document).__name__}")
    return document


_REMOTE_RE = re.compile(r"[:/]([^/:]+)/([^/]+?)(?:\.git)?/?$")


def git_remote_identity(root: Path) -> tuple[str, str] | None:
    """(org, project) from the ``origin`` remote, as slugs, or None outside git or without a remote."""
    url = _git(root, "config", "--get", "remote.origin.url")
    match = _REMOTE_RE.search(url or "")
    if not match:
        return None
    org, project = slugify(match[1]), slugify(match[2])
    return (org, project) if org and project else None


def git_environment(root: Path) -> tuple[str | None, str | None]:
    """The current branch and commit, or None for each outside a git checkout."""
    return _git(root, "rev-parse", "--abbrev-ref", "HEAD"), _git(root, "rev-parse", "HEAD")


def _git(root: Path, *args: str) -> str | None:
    import subprocess  # only new runs ask git: an emit does not import it

    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    output = result.stdout.strip()
    return output if result.returncode == 0 and output else None

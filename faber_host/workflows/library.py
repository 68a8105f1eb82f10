"""Where workflows come from: find a workflow file by id, and read and validate it.

A workflow is named by its id (``default``), by a namespaced id (``fractary-faber:core``, as the
FABER reference writes ``extends``; ``project:deploy``), or by the path of its file. An id is looked
up in config.json's ``workflows`` list, then as ``workflows/<id>.json`` in the project, then among the
workflows bundled with faber-host (``core`` and ``default``, which ``faber init`` copies).
The ``fractary-faber:`` namespace means the same search; ``project:`` leaves out the bundled ones.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

from faber_hookspecs.errors import ConfigError
from faber_hookspecs.workflow import WorkflowDefinition
from pydantic import ValidationError

from ..project import Project

NAMESPACES = ("fractary-faber", "project")


class WorkflowLibrary:
    """The workflows one project can run. Files are read once per library."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._read: dict[Path, WorkflowDefinition] = {}

    @property
    def bundled_dir(self) -> Path:
        """The workflows shipped with faber-host."""
        return Path(str(files("faber_host").joinpath("templates", "workflows")))

    def is_path(self, ref: str) -> bool:
        """True when ``ref`` names a file rather than a workflow id."""
        return ref.endswith(".json") or "/" in ref or "\\" in ref

    def find(self, ref: str) -> Path:
        """The file of the workflow ``ref`` (an id, a namespaced id, or a path)."""
        if self.is_path(ref):
            path = Path(ref).expanduser()
            path = path if path.is_absolute() else Path.cwd() / path
            if not path.is_file():
                raise ConfigError(f"workflow file {ref} does not exist")
            return path.resolve()
        namespace, _, workflow_id = ref.rpartition(":")
        if namespace and namespace not in NAMESPACES:
            raise ConfigError(
                f"unknown workflow namespace {namespace!r} in {ref!r}: use {' or '.join(NAMESPACES)}, or a bare id"
            )
        for candidate in self._candidates(workflow_id, bundled=namespace != "project"):
            if candidate.is_file():
                return candidate.resolve()
        known = ", ".join(self.known_ids()) or "none"
        raise ConfigError(
            f"no workflow {ref!r}: not in {self.project.config_file.name}'s workflows list, no "
            f"{self.project.workflows_dir / (workflow_id + '.json')} (known workflows: {known})"
        )

    def known_ids(self) -> list[str]:
        """The ids a user can name: listed in config.json, in the workflows folder, or bundled."""
        ids = {entry["id"] for entry in self._config_entries()}
        for folder in (self.project.workflows_dir, self.bundled_dir):
            if folder.is_dir():
                ids.update(path.stem for path in folder.glob("*.json"))
        return sorted(ids)

    def read(self, path: Path) -> WorkflowDefinition:
        """The validated definition in ``path``; a ConfigError names the file and the JSON path."""
        if path not in self._read:
            self._read[path] = parse_definition(read_document(path), self.display(path))
        return self._read[path]

    def display(self, path: Path) -> str:
        """How a workflow file is named in messages and records: relative to the project root."""
        try:
            return str(path.relative_to(self.project.root))
        except ValueError:
            return str(path)

    def _candidates(self, workflow_id: str, *, bundled: bool) -> list[Path]:
        found = []
        for entry in self._config_entries():
            if entry["id"] == workflow_id:
                found.append(self.project.config_file.parent / entry["file"])
        found.append(self.project.workflows_dir / f"{workflow_id}.json")
        if bundled:
            found.append(self.bundled_dir / f"{workflow_id}.json")
        return found

    def _config_entries(self) -> list[dict[str, str]]:
        workflows = self.project.read_config().get("workflows")
        if not isinstance(workflows, list):
            return []
        return [
            entry for entry in workflows
            if isinstance(entry, dict) and isinstance(entry.get("id"), str) and isinstance(entry.get("file"), str)
        ]


def read_document(path: Path) -> dict[str, Any]:
    """A workflow file as a JSON object, or a ConfigError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as problem:
        raise ConfigError(f"cannot read workflow file {path}: {problem}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as problem:
        raise ConfigError(
            f"{path}: not valid JSON: {problem.msg} at line {problem.lineno}, column {problem.colno}"
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: $: a workflow must be a JSON object, not {type(document).__name__}")
    return document


def parse_definition(document: dict[str, Any], where: str) -> WorkflowDefinition:
    """Validate a workflow document; the error names ``where`` and the JSON path of the first problem."""
    try:
        return WorkflowDefinition.model_validate(document)
    except ValidationError as problem:
        errors = problem.errors()
        error = errors[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (see `faber schema workflow` for the keys a workflow may have)"
        elif error["type"] == "string_pattern_mismatch" and error["loc"][-1] == "id":
            message = f"{message} (ids use letters, digits, '.', '_' and '-')"
        more = len(errors) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(f"{where}: {json_path(error['loc'])}: {message}{suffix}") from None


def json_path(location: tuple[Any, ...] | list[Any]) -> str:
    """``('phases', 'build', 'steps', 0, 'run')`` as ``$.phases.build.steps[0].run``."""
    text = "$"
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif str(part).isidentifier():
            text += f".{part}"
        else:
            text += f"[{json.dumps(str(part))}]"
    return text

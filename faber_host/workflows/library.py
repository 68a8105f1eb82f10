"""Where workflows come from: a workflow is named, never located. ``deploy`` is ``deploy.json`` in the
project's workflows folder, else among the bundled ones; ``fractary-faber:deploy`` is the same search and
``project:deploy`` skips the bundled ones. A name that is not an id, or a file whose real path leaves its
folder, is an unknown workflow, with a message that does not tell whether some file exists."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

from faber_hookspecs.errors import ConfigError
from faber_hookspecs.workflow import WORKFLOW_REF_PATTERN, WorkflowDefinition
from pydantic import ValidationError

from ..project import Project

NAMESPACES = ("fractary-faber", "project")
_NAME = re.compile(WORKFLOW_REF_PATTERN)


class WorkflowLibrary:
    """The workflows one project can run. Files are read once per library."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._read: dict[Path, WorkflowDefinition] = {}

    @property
    def bundled_dir(self) -> Path:
        """The workflows shipped with faber-host."""
        return Path(str(files("faber_host").joinpath("templates", "workflows")))

    def find(self, ref: str) -> Path:
        """The file of the workflow named ``ref`` (an id or a namespaced id)."""
        namespace, _, workflow_id = ref.rpartition(":")
        if _NAME.fullmatch(ref) and (not namespace or namespace in NAMESPACES):
            for folder in self._folders(bundled=namespace != "project"):
                path = _inside(folder, f"{workflow_id}.json")
                if path is not None:
                    return path
        known = ", ".join(self.known_ids()) or "none"
        raise ConfigError(f"unknown workflow {ref[:100]!r}: the project's workflows are {known}")

    def known_ids(self) -> list[str]:
        """The names a user can give: the workflows folder's and the bundled ones."""
        return sorted({
            path.stem for folder in self._folders(bundled=True) if folder.is_dir() for path in folder.glob("*.json")
            if _NAME.fullmatch(path.stem) and _inside(folder, path.name) is not None
        })

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

    def _folders(self, *, bundled: bool) -> list[Path]:
        return [self.project.workflows_dir, self.bundled_dir] if bundled else [self.project.workflows_dir]


def _inside(folder: Path, name: str) -> Path | None:
    """The real path of ``folder / name`` when it is a file in ``folder`` (not a link out of it); else None."""
    path = folder / name
    try:
        real, real_folder = path.resolve(strict=True), folder.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return None
    return real if real.parent == real_folder and real.is_file() else None


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

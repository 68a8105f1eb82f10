"""Fill ``{work_id}``, ``{run_id}`` and ``{param}`` placeholders in a workflow's steps.

Placeholders are filled in ``run``, ``command``, ``prompt`` and every string inside ``arguments``.
In ``run`` (a shell command) a value is quoted for the shell, so a parameter can never inject a
command: write ``echo {greeting}``, not ``echo "{greeting}"``. ``${HOME}`` is the shell's, never a
placeholder, and ``{{name}}`` stands for a literal ``{name}``.

A placeholder with no value is an error in ``run`` (the shell would get the braces) and is left as
written elsewhere, where it may be meant for the agent that executes the step.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from faber_hookspecs.errors import InvalidInput
from faber_hookspecs.workflow import ResolvedStep, ResolvedWorkflow

PLACEHOLDER_RE = re.compile(
    r"\{\{(?P<escaped>[A-Za-z_][A-Za-z0-9_]*)\}\}|(?<!\$)\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}"
)
FILLED_FIELDS = ("run", "command", "prompt")


def placeholder_values(work_id: str | None, run_id: str, params: Mapping[str, Any]) -> dict[str, str]:
    """The values placeholders take in a run: its parameters, its work id and its run id."""
    values = {name: str(value) for name, value in params.items()}
    values["run_id"] = run_id
    if work_id is not None:
        values["work_id"] = work_id
    return values


def check_placeholders(workflow: ResolvedWorkflow, names: set[str]) -> None:
    """Refuse a workflow whose shell commands use a placeholder that has no value; the error names
    the file, the JSON path and the parameters that do exist."""
    for step in workflow.steps():
        if step.run is None:
            continue
        for match in PLACEHOLDER_RE.finditer(step.run):
            name = match["name"]
            if name is not None and name not in names:
                known = ", ".join(sorted(names)) or "none"
                raise InvalidInput(
                    f"{step.file}: {step.json_path}.run: uses {{{name}}}, which this run does not define; "
                    f"pass --param {name}=VALUE (defined: {known})"
                )


def fill_placeholders(workflow: ResolvedWorkflow, values: Mapping[str, str]) -> ResolvedWorkflow:
    """The workflow with every placeholder that has a value filled in."""
    check_placeholders(workflow, set(values))
    phases = [
        phase.model_copy(update={"steps": [fill_step(step, values) for step in phase.steps]})
        for phase in workflow.phases
    ]
    return workflow.model_copy(update={"phases": phases})


def fill_step(step: ResolvedStep, values: Mapping[str, str]) -> ResolvedStep:
    """One step with its placeholders filled."""
    update: dict[str, Any] = {}
    for field in FILLED_FIELDS:
        text = getattr(step, field)
        if text is not None:
            update[field] = fill_text(text, values, quote=shlex.quote if field == "run" else None)
    update["arguments"] = _fill_value(step.arguments, values)
    return step.model_copy(update=update)


def fill_text(text: str, values: Mapping[str, str], quote: Callable[[str], str] | None = None) -> str:
    """``text`` with its placeholders replaced; unknown ones are left as written."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"] is not None:
            return "{" + match["escaped"] + "}"
        value = values.get(match["name"])
        if value is None:
            return match[0]
        return quote(value) if quote else value

    return PLACEHOLDER_RE.sub(replace, text)


def _fill_value(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return fill_text(value, values)
    if isinstance(value, list):
        return [_fill_value(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill_value(item, values) for key, item in value.items()}
    return value

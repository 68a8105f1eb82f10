"""Resolve a workflow's ``extends`` chain into the steps a run executes, by the FABER reference's rule:
per phase, ancestors' pre_steps first, then the phase's own steps (the nearest workflow that declares
``steps``, so extending never silently drops work; ``"steps": []`` means none), then post_steps, ancestors
last; ``skip_steps`` of any link are left out. ``enabled``, ``require_approval`` and ``autonomy`` come
from the nearest workflow that sets them. Step ids must be unique; errors name the file and JSON path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from faber_hookspecs.catalogue import PHASES
from faber_hookspecs.errors import ConfigError
from faber_hookspecs.workflow import (
    Autonomy,
    PhaseDefinition,
    ResolvedPhase,
    ResolvedStep,
    ResolvedWorkflow,
    StepDefinition,
    StepPosition,
    WorkflowDefinition,
)

from .library import WorkflowLibrary

MAX_CHAIN = 16
_COPIED = {"id", "name", "description", "run", "command", "prompt", "skill", "arguments", "retries", "timeout"}


@dataclass(frozen=True)
class _Link:
    """One workflow of the chain and where it was read from."""

    definition: WorkflowDefinition
    path: Path
    where: str  # the file as messages name it


def resolve_workflow(library: WorkflowLibrary, ref: str) -> ResolvedWorkflow:
    """The workflow named ``ref`` (an id or a namespaced id) with its ``extends`` chain merged."""
    chain = _chain(library, library.find(ref))
    phases = [_merge_phase(chain, name) for name in PHASES]
    phases = _skip(chain, phases)
    _check_unique(phases)
    autonomy = next((link.definition.autonomy for link in chain if link.definition.autonomy), None) or Autonomy()
    leaf = chain[0]
    return ResolvedWorkflow(
        id=leaf.definition.id,
        description=leaf.definition.description,
        file=leaf.where,
        inheritance_chain=[link.definition.id for link in chain],
        files=[link.where for link in chain],
        phases=phases,
        autonomy=autonomy,
        skipped_steps=sorted({step_id for link in chain for step_id in link.definition.skip_steps}),
    )


def _chain(library: WorkflowLibrary, path: Path) -> list[_Link]:
    chain = [_Link(library.read(path), path, library.display(path))]
    while chain[-1].definition.extends:
        child = chain[-1]
        assert child.definition.extends is not None
        try:
            parent_path = library.find(child.definition.extends)
        except ConfigError as problem:
            raise ConfigError(f"{child.where}: $.extends: {problem}") from None
        if any(link.path == parent_path for link in chain):
            cycle = " → ".join([*(link.definition.id for link in chain), library.read(parent_path).id])
            raise ConfigError(f"{child.where}: $.extends: workflows extend each other in a circle ({cycle})")
        if len(chain) >= MAX_CHAIN:
            raise ConfigError(f"{child.where}: $.extends: more than {MAX_CHAIN} workflows deep")
        chain.append(_Link(library.read(parent_path), parent_path, library.display(parent_path)))
    return chain


def _merge_phase(chain: list[_Link], name: str) -> ResolvedPhase:
    steps: list[ResolvedStep] = []
    for link in reversed(chain):
        steps += _steps(link, name, "pre_step", "pre_steps")
    owner = next((link for link in chain if _declares_steps(link, name)), chain[0])
    steps += _steps(owner, name, "step", "steps")
    for link in chain:
        steps += _steps(link, name, "post_step", "post_steps")
    found: list[PhaseDefinition | None] = [getattr(link.definition.phases, name) for link in chain]
    defined = [phase for phase in found if phase is not None]
    enabled = next((phase.enabled for phase in defined if phase.enabled is not None), True)
    approval = next((phase.require_approval for phase in defined if phase.require_approval is not None), False)
    return ResolvedPhase(name=name, enabled=enabled, require_approval=approval, steps=steps)


def _declares_steps(link: _Link, phase_name: str) -> bool:
    phase = getattr(link.definition.phases, phase_name)
    return phase is not None and "steps" in phase.model_fields_set


def _steps(link: _Link, phase_name: str, position: StepPosition, key: str) -> list[ResolvedStep]:
    phase = getattr(link.definition.phases, phase_name)
    if phase is None:
        return []
    definitions: list[StepDefinition] = getattr(phase, key)
    return [
        ResolvedStep(**step.model_dump(include=_COPIED), phase=phase_name, position=position,
                     source=link.definition.id, file=link.where, json_path=f"$.phases.{phase_name}.{key}[{index}]")
        for index, step in enumerate(definitions)
    ]


def _skip(chain: list[_Link], phases: list[ResolvedPhase]) -> list[ResolvedPhase]:
    present = {step.id for phase in phases for step in phase.steps}
    for link in chain:
        for index, step_id in enumerate(link.definition.skip_steps):
            if step_id not in present:
                raise ConfigError(
                    f"{link.where}: $.skip_steps[{index}]: no step {step_id!r} in the workflow "
                    f"(its steps: {', '.join(sorted(present)) or 'none'})"
                )
    skipped = {step_id for link in chain for step_id in link.definition.skip_steps}
    return [
        phase.model_copy(update={"steps": [step for step in phase.steps if step.id not in skipped]})
        for phase in phases
    ]


def _check_unique(phases: list[ResolvedPhase]) -> None:
    seen: dict[str, ResolvedStep] = {}
    for phase in phases:
        for step in phase.steps:
            first = seen.get(step.id)
            if first is not None:
                raise ConfigError(
                    f"{step.file}: {step.json_path}.id: step id {step.id!r} is already used at "
                    f"{first.file}: {first.json_path}; step ids must be unique in the resolved workflow"
                )
            seen[step.id] = step

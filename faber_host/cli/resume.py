"""``faber runs resume-context | resume | rerun | approve``: continuing runs without executing steps.

These are for agents that drive steps themselves (and for people deciding approvals); ``faber run
--resume`` and ``faber run --rerun`` are the executing counterparts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from faber_hookspecs.resume import ResumeContext

from .context import RunArgument, open_faber, parse_params
from .output import print_json, warn

StepOption = Annotated[
    Optional[str], typer.Option(metavar="PHASE:STEP", help="Continue at this step (it and the later ones run again).")
]


def resume_context(
    ctx: typer.Context,
    run: RunArgument,
    step: StepOption = None,
    force: Annotated[bool, typer.Option("--force", help="Judge as `faber run --resume --force` would.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the context as JSON.")] = False,
) -> None:
    """What the run has done and what it needs next; no side effects."""
    context = open_faber(ctx).resume_context(run, step=step, force=force)
    if as_json:
        print_json(context.model_dump(mode="json"))
    else:
        print_context(context)


def resume(
    ctx: typer.Context,
    run: RunArgument,
    step: StepOption = None,
    force: Annotated[bool, typer.Option("--force", help="Go on although the workflow changed.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the context as JSON.")] = False,
) -> None:
    """Record that a run continues and print its next step, without executing it.

    Records workflow_resumed (after asking the backends). For an agent that executes the steps
    itself; `faber run --resume RUN` executes them.
    """
    context = open_faber(ctx).resume(run, step=step, force=force)
    if as_json:
        print_json(context.model_dump(mode="json"))
    else:
        print_context(context)


def rerun(
    ctx: typer.Context,
    run: RunArgument,
    param: Annotated[Optional[list[str]], typer.Option(help="A changed parameter key=value (repeatable).")] = None,
    phases: Annotated[Optional[str], typer.Option(help="Only these phases, comma-separated.")] = None,
    autonomy: Annotated[Optional[str], typer.Option(help="A different autonomy level.")] = None,
    work_id: Annotated[Optional[str], typer.Option("--work-id", help="A different work item.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the new run, the changes and its context as JSON.")
    ] = False,
) -> None:
    """Create a re-run of RUN with changed parameters, without executing it.

    The new run is linked to RUN both ways and records the changes. Prints the new run id (or, with
    --json, the changes and the new run's resume context).
    `faber run --resume NEW` executes it; `faber run --rerun RUN` does both at once.
    """
    phase_list = [p.strip() for p in phases.split(",") if p.strip()] if phases is not None else None
    result = open_faber(ctx).rerun(run, params=parse_params(param), phases=phase_list, autonomy=autonomy,
                                   work_id=work_id)
    for message in result.warnings:
        warn(message)
    if as_json:
        print_json(result.model_dump(mode="json", by_alias=True))
    else:
        print(result.new_run_id)


def approve(
    ctx: typer.Context,
    run: RunArgument,
    deny: Annotated[bool, typer.Option("--deny", help="Refuse instead: a resumed run then ends as denied.")] = False,
    reason: Annotated[Optional[str], typer.Option(help="Why, recorded with the decision.")] = None,
    phase: Annotated[
        Optional[str], typer.Option(help="The phase decided (default: the pending request's, or the denied one's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
) -> None:
    """Approve (or --deny) the phase a guarded run waits for.

    `faber run --resume RUN` then continues, or ends the run as denied.
    """
    result = open_faber(ctx).approve(run, deny=deny, reason=reason, phase=phase)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    print(f"{result.phase} {result.decision} for run {result.run_id} (event {result.event_id})")
    print(f"next: {result.hint}")


def print_context(context: ResumeContext) -> None:
    """A resume context for a person."""
    verdict = "resumable" if context.resumable else "not resumable"
    print(f"run {context.run_id}: {context.status}, {verdict}")
    if context.reason:
        print(f"  why: {context.reason}")
    if context.next_step is not None:
        step = context.next_step
        what = step.run or step.command or step.prompt or step.skill or ""
        state = f"{step.status}, {step.attempts} attempt(s) so far" if step.attempts else step.status
        print(f"next: {step.phase}:{step.id} ({step.kind}: {what}) [{state}]")
    elif context.next_action != "none":
        print(f"next: {context.next_action.replace('_', ' ')}" + (f" {context.resume_from.phase}"
                                                                    if context.resume_from and context.resume_from.phase
                                                                    else ""))
    done = "; ".join(f"{phase}: {', '.join(steps)}" for phase, steps in context.completed_steps.items())
    print(f"done: {done or 'nothing yet'}")
    if context.remaining_steps:
        print(f"remaining: {', '.join(context.remaining_steps)}")
    for change in context.workflow_changes:
        print(f"workflow change: {change}")
    if context.hint:
        print(f"hint: {context.hint}")

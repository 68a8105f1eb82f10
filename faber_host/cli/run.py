"""``faber run``: execute a workflow as a tracked run, resume a stopped run, or re-run one."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from faber_hookspecs.catalogue import AUTONOMY_LEVELS
from faber_hookspecs.errors import InvalidInput

from ..gateway.logging_off import OffStore
from .context import open_faber, parse_params
from .output import note, print_json

EXIT_CODES_HELP = "Exit codes: 0 completed, 1 failed, 2 bad usage, 3 paused, 4 approval denied, 130/143 cancelled."


def run(
    ctx: typer.Context,
    workflow: Annotated[
        Optional[str],
        typer.Argument(help="The workflow to run, by id: a file's name in .fractary/plugins/faber/workflows "
                                "(without .json), or a bundled one (default, fractary-faber:core).",
                       show_default=False),
    ] = None,
    work_id: Annotated[
        Optional[str], typer.Option("--work-id", help="The work item (issue, ticket) of a new run.")
    ] = None,
    param: Annotated[
        Optional[list[str]], typer.Option(help="A parameter key=value, filled into {key} placeholders (repeatable).")
    ] = None,
    resume: Annotated[
        Optional[str], typer.Option("--resume", metavar="RUN", help="Continue this run where it stopped (same run id).")
    ] = None,
    rerun: Annotated[
        Optional[str],
        typer.Option("--rerun", metavar="RUN", help="Start a new run of this run's work, with --param changes."),
    ] = None,
    step: Annotated[
        Optional[str], typer.Option(metavar="PHASE:STEP", help="With --resume: start at this step (it runs again).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="With --resume: go on although the workflow changed since the run started.")
    ] = False,
    phases: Annotated[
        Optional[str], typer.Option(help="Only these phases, comma-separated (frame,architect,build,evaluate,release).")
    ] = None,
    autonomy: Annotated[
        Optional[str], typer.Option(help=f"Override the workflow's autonomy: {', '.join(AUTONOMY_LEVELS)}.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print how the run ended as JSON (progress goes to stderr).")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Leave the steps' output out of the progress.")] = False,
) -> None:
    """Execute a FABER workflow as a tracked run, resume a stopped run, or re-run one with changes.

    \b
    faber run WORKFLOW --work-id W [--param k=v]...   a new run
    faber run --resume RUN [--step phase:step]        the same run, from the first
                                                      step not completed
    faber run --rerun RUN [--param k=v]...            a new run of the same work

    Exit codes: 0 completed, 1 failed, 2 bad usage, 3 paused (an approval or an agent step),
    4 approval denied, 130/143 cancelled (Ctrl-C/SIGTERM; the run can be resumed).
    """
    modes = [name for name, given in (("WORKFLOW", workflow), ("--resume", resume), ("--rerun", rerun)) if given]
    if len(modes) != 1:
        raise InvalidInput(
            "give a WORKFLOW to start a new run, --resume RUN or --rerun RUN" if not modes
            else f"{' and '.join(modes)} cannot be used together"
        )
    if not resume and (step or force):
        raise InvalidInput("--step and --force go with --resume")
    if resume and (param or phases or autonomy or work_id):
        raise InvalidInput("--param, --phases, --autonomy and --work-id do not go with --resume: the run keeps its "
                           "settings (use --rerun for a new run with changes)")
    if workflow and not work_id:
        raise InvalidInput("a new run needs --work-id (the issue or ticket it works on)")
    phase_list = [p.strip() for p in phases.split(",") if p.strip()] if phases is not None else None
    params = parse_params(param)

    from ..runner.display import choose_display

    faber = open_faber(ctx)
    if isinstance(faber.gateway.store, OffStore) and not resume and not rerun:
        note(f"{faber.gateway.store.notice}: the workflow runs, but nothing is recorded and it cannot be resumed")
    display = choose_display(sys.stderr if as_json else sys.stdout, quiet=quiet)
    try:
        if resume:
            outcome = faber.resume_workflow(resume, step=step, force=force, display=display)
        elif rerun:
            outcome = faber.rerun_workflow(rerun, params=params, phases=phase_list, autonomy=autonomy,
                                           work_id=work_id, display=display)
        else:
            assert workflow is not None and work_id is not None
            outcome = faber.run_workflow(workflow, work_id, params=params, phases=phase_list, autonomy=autonomy,
                                         display=display)
        display.finish(outcome)
    finally:
        display.close()
    if as_json:
        print_json(outcome.model_dump(mode="json", by_alias=True))
    raise typer.Exit(outcome.exit_code)

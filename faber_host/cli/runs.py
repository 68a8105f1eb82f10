"""``faber runs``: create, list, show and rebuild runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from faber_hookspecs.catalogue import AUTONOMY_LEVELS
from faber_hookspecs.errors import InvalidInput
from faber_hookspecs.metadata import Relationships
from faber_hookspecs.run_id import RunId
from faber_hookspecs.state import RUN_STATUSES, RunState

from .context import RunArgument, open_faber, parse_params
from .output import print_json, print_table, warn
from .screen import print_coloured_table, print_long_table, stdout_is_terminal, terminal_console, write_text_file

app = typer.Typer(help="Create, list, show and rebuild runs.", no_args_is_help=True)

TIMELINE_LIMIT = 100_000
"""``faber runs show`` draws the timeline of runs up to this many events unless told otherwise."""



@app.command("new")
def new(
    ctx: typer.Context,
    work_id: Annotated[str, typer.Option("--work-id", help="The work item (issue, ticket) the run is for.")],
    workflow: Annotated[str, typer.Option(help="The workflow id.")] = "default",
    param: Annotated[Optional[list[str]], typer.Option(help="A run parameter key=value (repeatable).")] = None,
    org: Annotated[Optional[str], typer.Option(help="Override the org of the run id.")] = None,
    project: Annotated[Optional[str], typer.Option(help="Override the project of the run id.")] = None,
    target: Annotated[Optional[str], typer.Option(help="What the work targets (a service, a package).")] = None,
    autonomy: Annotated[Optional[str], typer.Option(help=", ".join(AUTONOMY_LEVELS) + ".")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's metadata as JSON.")] = False,
    run_id: Annotated[Optional[str], typer.Option("--run-id", help="Use this id (org/project/uuid), made by "
                                                                    "the caller.")] = None,
    source_type: Annotated[Optional[str], typer.Option("--source-type", help="Where the work item lives.")] = None,
    phases: Annotated[Optional[str], typer.Option(help="Only these phases, comma-separated.")] = None,
    parent_run: Annotated[Optional[str], typer.Option("--parent-run", help="The run that started this one.")] = None,
    rerun_of: Annotated[Optional[str], typer.Option("--rerun-of", help="The run this one re-runs.")] = None,
) -> None:
    """Start a new run and print its id."""
    faber = open_faber(ctx)
    metadata = faber.new_run(
        work_id, workflow_id=workflow, params=parse_params(param), org=org, project=project,
        target=target, autonomy=autonomy, run_id=run_id, source_type=source_type,
        phases=[name for name in phases.split(",") if name] if phases is not None else None,
        relationships=Relationships(parent_run_id=_run_id_or_none(parent_run, "--parent-run"),
                                    rerun_of=_run_id_or_none(rerun_of, "--rerun-of")),
    )
    if as_json:
        print_json(metadata.to_json())
    else:
        print(metadata.run_id)


@app.command("new-id")
def new_id(
    ctx: typer.Context,
    org: Annotated[Optional[str], typer.Option(help="Override the org of the run id.")] = None,
    project: Annotated[Optional[str], typer.Option(help="Override the project of the run id.")] = None,
) -> None:
    """Print a new run id (org/project/uuid) without creating the run (`runs new --run-id` does)."""
    faber = open_faber(ctx)
    print(RunId.generate(*faber.project.identity(org, project)))


def _run_id_or_none(text: str | None, option: str) -> str | None:
    """A run id given as an option, checked (one line naming the option when it is not one)."""
    if text is None:
        return None
    try:
        return str(RunId.parse(text))
    except InvalidInput as problem:
        raise InvalidInput(f"{option}: {problem}") from None


@app.command("list")
def list_runs(
    ctx: typer.Context,
    status: Annotated[Optional[str], typer.Option(help=f"Only runs with this status: {', '.join(RUN_STATUSES)}.")]
    = None,
    work_id: Annotated[Optional[str], typer.Option("--work-id", help="Only runs of this work item.")] = None,
    workflow: Annotated[Optional[str], typer.Option(help="Only runs of this workflow id.")] = None,
    since: Annotated[
        Optional[str],
        typer.Option(help="Only runs started (else created) at or after this: a date, a UTC date-time or an "
                          "age such as 30d or 12h."),
    ] = None,
    until: Annotated[
        Optional[str], typer.Option(help="Only runs started (else created) at or before this: as --since.")
    ] = None,
    org: Annotated[Optional[str], typer.Option(help="Only runs of this org.")] = None,
    project: Annotated[Optional[str], typer.Option(help="Only runs of this project.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="At most this many runs.")] = None,
    archived: Annotated[
        bool, typer.Option("--archived", help="List the runs in the archive (the S3 bucket), not the local ones.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List runs, newest first: status, work id, workflow, start, duration and last activity."""
    if archived:
        _list_archived(ctx, org, project, limit, as_json, status=status, work_id=work_id, workflow=workflow,
                       since=since, until=until)
        return
    # Ten thousand states, their models and their rows all stay alive until the table is written: the
    # cyclic collector would walk them again and again and find nothing to free (none of it forms cycles),
    # so it is paused for the command (and restored, for callers in the same process).
    import gc

    collecting = gc.isenabled()
    gc.disable()
    try:
        states = open_faber(ctx).list_runs(status=status, work_id=work_id, org=org, project=project, limit=limit,
                                           workflow_id=workflow, since=since, until=until)
        _print_local(states, as_json)
    finally:
        if collecting:
            gc.enable()


def _print_local(states: list[RunState], as_json: bool) -> None:
    if as_json:
        print_json([state.model_dump(mode="json") for state in states])
        return
    from ..views.run_list import COLUMNS, run_rows
    from ..views.times import utc_now

    rows = run_rows(states, utc_now())
    if stdout_is_terminal():
        print_coloured_table(COLUMNS, rows, "STATUS")
    else:
        print_long_table(COLUMNS, rows)


@app.command("show")
def show(
    ctx: typer.Context,
    run: RunArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print metadata, state and warnings as JSON.")] = False,
    timeline: Annotated[
        Optional[bool],
        typer.Option("--timeline/--no-timeline", show_default=False,
                     help=f"Draw the timeline (it reads every event). Default: for runs of up to "
                          f"{TIMELINE_LIMIT:,} events."),
    ] = None,
) -> None:
    """Show a run: what it is, where it stands, and its timeline of phases and steps.

    On a terminal the timeline is drawn in colour; in a pipe it is plain text.
    """
    faber = open_faber(ctx)
    record = faber.run(run)
    if as_json:
        print_json(
            {
                "metadata": record.metadata.to_json(),
                "state": record.state.model_dump(mode="json"),
                "location": record.location,
                "warnings": record.warnings,
            }
        )
        return
    for message in record.warnings:
        warn(message)
    events = record.state.last_event_id
    draw = timeline if timeline is not None else events <= TIMELINE_LIMIT
    drawn = faber.timeline_of(record) if draw else None
    related = faber.related_runs(record)
    if stdout_is_terminal():
        from ..views.terminal import print_run

        print_run(terminal_console(), record, drawn, related)
    else:
        from ..views.text import render_text

        sys.stdout.write(render_text(record, drawn, related))
    if not draw and timeline is None:
        warn(f"the timeline was not drawn: the run has {events:,} events; --timeline draws it (reading them all)")


@app.command("report")
def report(
    ctx: typer.Context,
    run: RunArgument,
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o",
                     help="The HTML file to write ('-' for stdout). Default: report-<uuid>.html here.",
                     show_default=False),
    ] = None,
    max_events: Annotated[
        Optional[int],
        typer.Option("--max-events", help="List at most this many events in the table (0: all). Default 5000.",
                     show_default=False),
    ] = None,
) -> None:
    """Write a run as one self-contained HTML page (timeline, metadata, lineage, artifacts, events)
    that opens offline and can be attached to a pull request."""
    from ..views.html_report import report_filename_hint

    faber = open_faber(ctx)
    run_id = str(faber.resolve(run))
    page = faber.report(run_id, max_events=max_events)
    if output is not None and str(output) == "-":
        sys.stdout.write(page)
        return
    target = output or Path(report_filename_hint(run_id))
    write_text_file(target, page)
    print(target)


@app.command("reconstruct")
def reconstruct(
    ctx: typer.Context,
    run: RunArgument,
    write: Annotated[bool, typer.Option("--write", help="Also replace the stored state (state.json).")] = False,
) -> None:
    """Rebuild a run's state from its events and print it as JSON."""
    state, warnings = open_faber(ctx).reconstruct(run, write=write)
    for message in warnings:
        warn(message)
    print_json(state.model_dump(mode="json"))


def _list_archived(
    ctx: typer.Context, org: str | None, project: str | None, limit: int | None, as_json: bool, **local_only: object
) -> None:
    used = [f"--{name.replace('_', '-')}" for name, value in local_only.items() if value is not None]
    if used:
        raise InvalidInput(
            f"{', '.join(used)} cannot be combined with --archived (the archive lists runs by org and project)"
        )
    if limit is not None and limit < 1:
        raise InvalidInput("--limit must be at least 1")
    runs = open_faber(ctx).list_archived_runs(org=org, project=project)[:limit]
    if as_json:
        print_json([run.model_dump(mode="json") for run in runs])
        return
    print_table(
        ["RUN", "ARCHIVED", "SIZE", "BACKEND", "URL"],
        ([r.run_id, r.archived_at, r.size, r.backend, r.url] for r in runs),
    )

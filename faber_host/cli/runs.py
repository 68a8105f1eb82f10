"""``faber runs``: create, list, show and rebuild runs."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from faber_hookspecs.errors import InvalidInput
from faber_hookspecs.records import RunRecord

from .context import open_faber, parse_params
from .output import print_json, print_table, warn

app = typer.Typer(help="Create, list, show and rebuild runs.", no_args_is_help=True)

RunArgument = Annotated[str, typer.Argument(help="The run: org/project/uuid, a uuid, or a unique uuid prefix.")]


@app.command("new")
def new(
    ctx: typer.Context,
    work_id: Annotated[str, typer.Option("--work-id", help="The work item (issue, ticket) the run is for.")],
    workflow: Annotated[str, typer.Option(help="The workflow id.")] = "default",
    param: Annotated[Optional[list[str]], typer.Option(help="A run parameter key=value (repeatable).")] = None,
    org: Annotated[Optional[str], typer.Option(help="Override the org of the run id.")] = None,
    project: Annotated[Optional[str], typer.Option(help="Override the project of the run id.")] = None,
    target: Annotated[Optional[str], typer.Option(help="What the work targets (a service, a package).")] = None,
    autonomy: Annotated[Optional[str], typer.Option(help="dry-run, assisted, guarded or autonomous.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's metadata as JSON.")] = False,
) -> None:
    """Start a new run and print its id."""
    faber = open_faber(ctx)
    metadata = faber.new_run(
        work_id, workflow_id=workflow, params=parse_params(param), org=org, project=project,
        target=target, autonomy=autonomy,
    )
    if as_json:
        print_json(metadata.to_json())
    else:
        print(metadata.run_id)


@app.command("list")
def list_runs(
    ctx: typer.Context,
    status: Annotated[Optional[str], typer.Option(help="Only runs with this status.")] = None,
    work_id: Annotated[Optional[str], typer.Option("--work-id", help="Only runs of this work item.")] = None,
    org: Annotated[Optional[str], typer.Option(help="Only runs of this org.")] = None,
    project: Annotated[Optional[str], typer.Option(help="Only runs of this project.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="At most this many runs.")] = None,
    archived: Annotated[
        bool, typer.Option("--archived", help="List the runs in the archive (the S3 bucket), not the local ones.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List runs, newest first."""
    if archived:
        _list_archived(ctx, org, project, limit, as_json, status=status, work_id=work_id)
        return
    states = open_faber(ctx).list_runs(status=status, work_id=work_id, org=org, project=project, limit=limit)
    if as_json:
        print_json([state.model_dump(mode="json") for state in states])
        return
    print_table(
        ["RUN", "STATUS", "WORK", "WORKFLOW", "CREATED", "EVENTS"],
        ([s.run_id, s.status, s.work_id, s.workflow_id, s.created_at, s.last_event_id] for s in states),
    )


@app.command("show")
def show(
    ctx: typer.Context,
    run: RunArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print metadata, state and warnings as JSON.")] = False,
) -> None:
    """Show a run: what it is, where it stands, and its phases and steps."""
    record = open_faber(ctx).run(run)
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
    _print_run(record)


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


def _archive_line(record: RunRecord) -> str | None:
    archive = record.metadata.archive
    if archive is None:
        return None
    line = f"{archive.url} at {archive.archived_at or 'an unknown time'} ({archive.event_count} events)"
    if not record.events_local:
        line += "; events removed here (faber restore RUN brings them back)"
    elif archive.last_event_id != record.state.last_event_id:
        line += f"; {record.state.last_event_id - (archive.last_event_id or 0)} events since"
    return line


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


def _print_run(record: RunRecord) -> None:
    metadata, state = record.metadata, record.state
    links = metadata.relationships
    lines = [
        ("run", metadata.run_id),
        ("status", state.status + (f" ({state.paused_reason})" if state.paused_reason else "")),
        ("work", metadata.work_id),
        ("workflow", metadata.workflow_id),
        ("created", f"{metadata.created_at} by {metadata.created_by or 'unknown'}"),
        ("started", state.started_at),
        ("updated", state.updated_at),
        ("completed", state.completed_at),
        ("events", str(state.last_event_id)),
        ("params", ", ".join(f"{k}={v}" for k, v in metadata.params.items()) or None),
        ("re-run of", links.rerun_of),
        ("parent", links.parent_run_id),
        ("re-runs", ", ".join(links.child_runs) or None),
        ("folder", record.location),
        ("archived", _archive_line(record)),
    ]
    for label, value in lines:
        if value:
            print(f"{label + ':':<11}{value}")
    print()
    for name, phase in state.phases.items():
        print(f"  {name:<10} {phase.status}")
        for step in phase.steps:
            extra = []
            if step.duration_ms is not None:
                extra.append(f"{step.duration_ms} ms")
            if step.attempts > 1:
                extra.append(f"{step.attempts} attempts")
            if step.last_error and step.status == "failed":
                extra.append(f"{step.last_error.code}: {step.last_error.message}")
            print(f"    {step.id:<30} {step.status:<12} {'; '.join(extra)}".rstrip())
    if state.errors:
        print()
        print(f"errors ({state.error_count}):")
        for error in state.errors[-5:]:
            where = "/".join(part for part in (error.phase, error.step) if part)
            print(f"  #{error.event_id} {error.type} {where}: {error.code}: {error.message}")
    if state.artifacts:
        print()
        print("artifacts:")
        for key, artifact in state.artifacts.items():
            print(f"  {key} ({artifact.get('type')}) {artifact.get('path') or artifact.get('url') or ''}".rstrip())

"""``faber event emit`` and ``faber events``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from faber_hookspecs.catalogue import PHASES

from .context import open_faber, read_json_option
from .output import print_json, print_json_line, print_table, warn

event_app = typer.Typer(help="Record events.", no_args_is_help=True)

RunArgument = Annotated[str, typer.Argument(help="The run: org/project/uuid, a uuid, or a unique uuid prefix.")]


@event_app.command("emit")
def emit(
    ctx: typer.Context,
    run: RunArgument,
    event_type: Annotated[str, typer.Argument(metavar="TYPE", help="An event type (see `faber schema`).")],
    phase: Annotated[Optional[str], typer.Option(help=f"One of {', '.join(PHASES)}.")] = None,
    step: Annotated[Optional[str], typer.Option(help="The step id.")] = None,
    status: Annotated[Optional[str], typer.Option(help="started, completed, failed...")] = None,
    message: Annotated[Optional[str], typer.Option(help="What happened, for a person.")] = None,
    data: Annotated[
        Optional[str],
        typer.Option(help='More event fields as a JSON object: {"metadata": {...}, "artifacts": [...], '
                          '"error": {"code": ..., "message": ...}, "correlation_id": ...}; @FILE reads it from a '
                          'file, - from standard input.'),
    ] = None,
    duration_ms: Annotated[Optional[int], typer.Option("--duration-ms", help="How long it took (ms).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored event as JSON.")] = False,
) -> None:
    """Record an event durably and print its id."""
    fields = read_json_option(data, "--data") if data is not None else {}
    options = {"type": event_type, "phase": phase, "step": step, "status": status,
               "message": message, "duration_ms": duration_ms}
    fields.update({key: value for key, value in options.items() if value is not None})
    faber = open_faber(ctx)
    result = faber.emit_draft(run, fields, source="faber-cli")
    for message_text in result.warnings:
        warn(message_text)
    if as_json:
        print_json(result.event.to_json())
    else:
        print(result.event.event_id)


def list_events(
    ctx: typer.Context,
    run: RunArgument,
    event_type: Annotated[Optional[str], typer.Option("--type", help="Only events of this type.")] = None,
    phase: Annotated[Optional[str], typer.Option(help="Only events of this phase.")] = None,
    since_id: Annotated[int, typer.Option("--since-id", help="Only events after this id.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines, one event per line.")] = False,
) -> None:
    """Show a run's events in order."""
    faber = open_faber(ctx)
    events = faber.events(run, type=event_type, phase=phase, since_id=since_id)
    if as_json:
        for event in events:
            print_json_line(event.model_dump(mode="json", exclude_none=True))
        return
    print_table(
        ["ID", "TIME", "TYPE", "WHERE", "STATUS", "MESSAGE"],
        (
            [event.event_id, event.timestamp, event.type,
             "/".join(part for part in (event.phase, event.step) if part), event.status,
             event.message or (event.error.message if event.error else None)]
            for event in events
        ),
    )


def register(app: typer.Typer) -> None:
    """Add ``event`` and ``events`` to the application."""
    app.add_typer(event_app, name="event")
    app.command("events")(list_events)

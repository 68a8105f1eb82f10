"""``faber event emit`` (run by ``emit_command``) and ``faber events``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from faber_hookspecs.catalogue import PHASES
from faber_hookspecs.errors import InvalidInput

from .context import RunArgument, open_faber
from .output import print_json_line, print_table

if TYPE_CHECKING:
    from faber_hookspecs.events import Event

event_app = typer.Typer(help="Record events.", no_args_is_help=True)



@event_app.command(
    "emit", add_help_option=False,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False},
)
def emit(ctx: typer.Context) -> None:
    """Record an event durably and print its id (see `faber event emit --help`)."""
    from .emit_command import run

    root = (ctx.find_root().obj or {}).get("root")
    run(ctx.args, str(root) if root is not None else None)


def list_events(
    ctx: typer.Context,
    run: RunArgument,
    event_type: Annotated[Optional[str], typer.Option("--type", help="Only events of this type.")] = None,
    phase: Annotated[Optional[str], typer.Option(help="Only events of this phase.")] = None,
    since_id: Annotated[int, typer.Option("--since-id", help="Only events after this id.")] = 0,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events as they are written, until the run "
                                                   "ends (completed, failed or cancelled) or Ctrl-C.")
    ] = False,
    interval: Annotated[float, typer.Option(help="With --follow: seconds between looks for new events.")] = 0.5,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines, one event per line.")] = False,
) -> None:
    """Show a run's events in order; with --follow, also the ones still to come (like tail -f)."""
    faber = open_faber(ctx)
    if not follow:
        events = faber.events(run, type=event_type, phase=phase, since_id=since_id)
        if as_json:
            for event in events:
                print_json_line(event.model_dump(mode="json", exclude_none=True))
            return
        print_table(EVENT_COLUMNS, (_event_row(event) for event in events))
        return
    if phase is not None and phase not in PHASES:
        raise InvalidInput(f"unknown phase {phase!r}: use one of {', '.join(PHASES)}")
    if not as_json:
        print(_follow_line(EVENT_COLUMNS), flush=True)
    stream = faber.follow(run, since_id=since_id, interval=interval)
    try:
        for event in stream:
            if (event_type is None or event.type == event_type) and (phase is None or event.phase == phase):
                if as_json:
                    print_json_line(event.model_dump(mode="json", exclude_none=True))
                else:
                    print(_follow_line(_event_row(event)))
                sys.stdout.flush()  # a reader at the other end of a pipe sees each event at once
    except KeyboardInterrupt:
        # Ctrl-C is how a person stops following: not an error.
        stream.close()


EVENT_COLUMNS = ["ID", "TIME", "TYPE", "WHERE", "STATUS", "MESSAGE"]
_FOLLOW_WIDTHS = (5, 24, 18, 28, 10)
"""Column widths when following: the table's widths cannot be known before the events are."""


def _event_row(event: Event) -> list[Any]:
    return [
        event.event_id, event.timestamp, event.type, "/".join(part for part in (event.phase, event.step) if part),
        event.status, event.message or (event.error.message if event.error else None),
    ]


def _follow_line(cells: Sequence[Any]) -> str:
    shown = ["-" if cell is None or cell == "" else " ".join(str(cell).split()) for cell in cells]
    widths = _FOLLOW_WIDTHS
    padded = [text.ljust(width) for text, width in zip(shown, widths, strict=False)] + shown[len(widths) :]
    return "  ".join(padded).rstrip()

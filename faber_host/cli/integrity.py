"""``faber runs verify`` and ``faber runs repair``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from faber_hookspecs.integrity import VerifyReport

from .context import RunArgument, open_faber
from .output import print_json


def verify(
    ctx: typer.Context,
    run: RunArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a run's files; exit 0 only when they are sound.

    Checks that event ids run 1..N without gaps or duplicates, that every event file is valid, that
    state.json equals the state rebuilt from the events and that .next-id is right; names each problem.
    """
    report = open_faber(ctx).verify(run)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        print_report(report)
    raise typer.Exit(0 if report.ok else 1)


def repair(
    ctx: typer.Context,
    run: RunArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was done as JSON.")] = False,
) -> None:
    """Repair a run's files without deleting anything; exit 0 when it is then sound.

    Rebuilds state.json and .next-id from the events, moves unreadable files to events/.quarantine/
    (an event's id is then held by a log_repaired event), and verifies again.
    """
    report = open_faber(ctx).repair(run)
    if as_json:
        print_json(report.model_dump(mode="json"))
    else:
        for action in report.actions or ["nothing to repair"]:
            print(f"repair: {action}")
        print_report(report.after)
    raise typer.Exit(0 if report.after.ok else 1)


def print_report(report: VerifyReport) -> None:
    """A verify report for a person."""
    if report.ok:
        print(f"run {report.run_id}: ok ({report.events} events, last id {report.last_event_id})")
        return
    count = len(report.problems)
    print(f"run {report.run_id}: {count} problem{'s' if count != 1 else ''} ({report.events} event files)")
    for problem in report.problems:
        print(f"  {problem.code}: {problem.message}")
    print(f"`faber runs repair {report.run_id}` fixes what can be rebuilt from the events; it deletes nothing")

"""``faber backends``: what is installed and enabled; ``faber backends flush``: send what waits."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .context import open_faber
from .output import print_json, print_table, warn

app = typer.Typer(
    help="List the backends (installed, enabled, hooks) and flush what they hold back.",
    invoke_without_command=True,
)


def _root(ctx: typer.Context) -> object:
    return (ctx.find_root().obj or {}).get("root")


@app.callback(invoke_without_command=True)
def backends(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every discovered backend: distribution, version, enabled, and the hooks it implements."""
    if ctx.invoked_subcommand is not None:
        return
    from ..api import describe_backends

    report = describe_backends(_root(ctx))  # type: ignore[arg-type]
    if as_json:
        print_json([info.to_json() for info in report])
        return
    print_table(
        ["NAME", "ENABLED", "DISTRIBUTION", "VERSION", "HOOKS"],
        (
            [info.name, "yes" if info.enabled else "no", info.distribution,
             info.version if info.installed else "not installed",
             f"error: {info.error}" if info.error else ", ".join(info.hooks)]
            for info in report
        ),
    )


@app.command("flush")
def flush(
    ctx: typer.Context,
    name: Annotated[
        Optional[str], typer.Argument(help="The backend (for example event_stream). Omit for every one.")
    ] = None,
    run: Annotated[Optional[str], typer.Option("--run", help="Only this run (id, uuid or uuid prefix).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Deliver now what backends hold back, such as the event stream's outbox. Exits 1 when
    something could not be delivered."""
    outcomes = open_faber(ctx).flush(name, run)
    if as_json:
        print_json([outcome.to_json() for outcome in outcomes])
    elif not outcomes:
        print("no enabled backend holds anything back")
    else:
        for outcome in outcomes:
            if outcome.error:
                warn(outcome.error)
                continue
            report = outcome.report
            assert report is not None
            print(
                f"{outcome.backend}: delivered {report.delivered} event(s) of {report.runs} run(s); "
                f"{report.pending} pending"
            )
            if report.error:
                warn(f"{outcome.backend}: {report.error}")
    if not all(outcome.ok for outcome in outcomes):
        raise typer.Exit(1)

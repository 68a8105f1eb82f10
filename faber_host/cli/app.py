"""The typer application: global options, and the command groups assembled from their modules."""

from __future__ import annotations

import inspect
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from . import archive, backends, doctor, events, integrity, mcp, migrate, resume, run, runs, setup

app = typer.Typer(
    name="faber",
    help="Run IDs, durable event logs, resume and re-run for FABER workflows.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion and --show-completion
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"faber-host {version('faber-host')}")
        except PackageNotFoundError:
            typer.echo("faber-host (not installed)")
        raise typer.Exit()


@app.callback()
def root_options(
    ctx: typer.Context,
    root: Annotated[
        Optional[Path],
        typer.Option("--root", help="The project folder (default: FABER_ROOT, else the nearest one above).",
                     show_default=False),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """faber: every FABER workflow run gets a run id, a durable typed event log, and a state you can
    resume from."""
    ctx.obj = {"root": root, "debug": debug}


app.command("init")(setup.init)
app.command("schema")(setup.schema)
app.command("run", epilog=run.EXIT_CODES_HELP)(run.run)
app.add_typer(events.event_app, name="event")
app.command("events")(events.list_events)
app.command("mcp")(mcp.mcp)
app.command("migrate")(migrate.migrate)
app.command("consolidate")(archive.consolidate)
app.command("archive")(archive.archive)
app.command("restore")(archive.restore)
app.command("cleanup")(archive.cleanup)
runs.app.command("resume-context")(resume.resume_context)
runs.app.command("resume")(resume.resume)
runs.app.command("rerun")(resume.rerun)
runs.app.command("approve")(resume.approve)
runs.app.command("verify")(integrity.verify)
runs.app.command("repair")(integrity.repair)
app.add_typer(runs.app, name="runs")
app.add_typer(backends.app, name="backends")
app.command("doctor")(doctor.doctor)


def build_command() -> Any:
    """The click command behind the typer app (what ``main`` runs; typer vendors its own click, so
    the type is typer's), with its help made to read well."""
    command = typer.main.get_command(app)
    _tidy_help(command)
    return command


def _tidy_help(command: Any) -> None:
    """Help that reads as prose: each paragraph reflowed to the terminal (a docstring's own line
    breaks would cut phrases in two; a paragraph that starts with ``\b`` keeps its lines), a flag
    shown without a ``<bool>`` placeholder, and a value shown by its name (``--work-id WORK_ID``)
    rather than its Python type."""
    if command.help:
        paragraphs = inspect.cleandoc(command.help).split("\n\n")
        command.help = "\n\n".join(
            p.removeprefix("\b\n") if p.startswith("\b") else " ".join(p.split()) for p in paragraphs
        )
    help_option = command.get_help_option(typer.Context(command, help_option_names=["-h", "--help"]))
    for param in [*command.params, *([help_option] if help_option else [])]:
        if param.metavar is None:
            flag = getattr(param, "is_flag", False)
            param.metavar = "" if flag else (param.name or "value").upper()
    for sub in getattr(command, "commands", {}).values():
        _tidy_help(sub)

"""``faber migrate``: import the old single-file FABER state as a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .context import open_faber
from .output import print_json, warn


def migrate(
    ctx: typer.Context,
    file: Annotated[
        Optional[Path],
        typer.Option("--file", help="The old state file (default: .fractary/plugins/faber/state.json).",
                     show_default=False),
    ] = None,
    work_id: Annotated[Optional[str], typer.Option("--work-id", help="The work id, when the file names none.")] = None,
    workflow: Annotated[Optional[str], typer.Option(help="The workflow id (the old file does not name it).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be imported; change nothing.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Import again even if this file was already migrated.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Import the old single-file state (from before run IDs) as a run, with its events rebuilt as far
    as the file allows; say what could not be recovered. The old file is kept as it is."""
    result = open_faber(ctx).migrate(file, work_id=work_id, workflow_id=workflow, dry_run=dry_run, force=force)
    for warning in result.warnings:
        warn(warning)
    if as_json:
        print_json(result.to_json())
        return
    if result.already_migrated:
        print(f"{result.source} was already migrated to run {result.run_id} (nothing done; --force imports it again)")
        return
    if result.dry_run:
        print(f"would migrate {result.source} to a new run with {result.event_count} events (nothing written):")
        for event in result.events:
            where = "/".join(part for part in (event.get("phase"), event.get("step")) if part)
            timing = event["metadata"]["reconstructed"]["timing"]
            print(f"  {event['event_id']:>3}  {event['timestamp']}{'~' if timing == 'approximate' else ' '} "
                  f"{event['type']:<18} {where}".rstrip())
    else:
        count = f"{result.event_count} event{'s' if result.event_count != 1 else ''}"
        print(f"migrated {result.source} to run {result.run_id} ({count})")
    print("recovered:")
    for line in result.recovered:
        print(f"  - {line}")
    print("could not recover:")
    for line in result.not_recovered:
        print(f"  - {line}")
    if not result.dry_run:
        print(f"the old file is kept as it was: {result.source}")
        print(f"see the run: faber runs show {str(result.run_id).rsplit('/', 1)[-1][:8]}")

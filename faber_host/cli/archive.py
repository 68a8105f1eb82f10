"""``faber consolidate``, ``faber archive``, ``faber restore`` and ``faber cleanup``."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from faber_hookspecs.errors import ArchiveError

from .context import RunArgument, open_faber
from .output import print_json, print_table

# The archive's results and the progress bar are imported by these commands when they run, not when the
# CLI starts. (faber_host.api and the hook specifications still import the archive's models, which are
# most of that cost: see "i misses its target" in docs/performance.md.)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def consolidate(ctx: typer.Context, run: RunArgument, as_json: JsonOption = False) -> None:
    """Write the run's events to events.jsonl (numeric id order) with a checksummed manifest.json, in the
    run's archive/ folder. Running it again gives the same bytes."""
    result = open_faber(ctx).consolidate_events(run)
    if as_json:
        print_json(result.to_json())
        return
    manifest = result.manifest
    ids = f"ids {manifest.first_event_id}..{manifest.last_event_id}" if manifest.event_count else "no events"
    size = manifest.file("events.jsonl").size
    print(f"consolidated {result.run_id}: {manifest.event_count} events ({ids}), events.jsonl {_size(size)}")
    print(f"manifest sha256 {result.manifest_sha256}")
    print(f"in {result.directory}")


def archive(
    ctx: typer.Context,
    run: RunArgument,
    cleanup: Annotated[
        bool, typer.Option("--cleanup", help="After the archive is verified, remove the local event files.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Archive a run that is still in progress.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Consolidate the run, upload it to the archive with checksums, verify every object, and record the
    archive in the run's metadata. Nothing local is removed unless every copy is verified."""
    from ..archive import ArchiveIncomplete
    from .progress import transfer_progress

    faber = open_faber(ctx)
    try:
        with transfer_progress() as progress:
            result = faber.archive_run(run, cleanup=cleanup, force=force, progress=progress)
    except ArchiveIncomplete as problem:
        if as_json:
            print_json(problem.result.to_json())
        raise
    if as_json:
        print_json(result.to_json())
        return
    if result.already_archived:
        print(f"{result.run_id} is archived and its events were removed here already; nothing to do")
        return
    for receipt in result.receipts:
        uploaded = sum(1 for item in receipt.objects if item.uploaded)
        print(
            f"archived {result.run_id} to {receipt.url} ({receipt.backend}): {len(receipt.objects)} objects verified"
            + (f", {uploaded} uploaded" if uploaded != len(receipt.objects) else "")
        )
    print(f"{result.event_count} events, manifest sha256 {result.manifest_sha256}")
    if result.cleanup is not None:
        print(f"removed {result.cleanup.files} local event files ({_size(result.cleanup.bytes)})")


def restore(
    ctx: typer.Context,
    run: RunArgument,
    manifest_sha256: Annotated[
        Optional[str],
        typer.Option("--manifest-sha256", help="Insist on the archive with this manifest sha256."),
    ] = None,
    trust_archive: Annotated[
        bool,
        typer.Option(
            "--trust-archive",
            help="Accept an archive other than the one recorded here (the run was archived again elsewhere).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Download an archived run, check every checksum, and expand its events back into files, the same
    bytes as before. Works here after a cleanup, and on any other machine."""
    from .progress import transfer_progress

    faber = open_faber(ctx)
    with transfer_progress() as progress:
        result = faber.restore_run(
            run, expected_manifest_sha256=manifest_sha256, trust_archive=trust_archive, progress=progress
        )
    if as_json:
        print_json(result.to_json())
    elif result.already_local:
        print(f"the events of {result.run_id} are here already; nothing to restore")
    else:
        source = f" from {result.source_url}" if result.source_url else ""
        print(f"restored {result.run_id}: {result.event_count} events{source}")
        print(f"into {result.location}")


def cleanup(
    ctx: typer.Context,
    runs: Annotated[Optional[list[str]], typer.Argument(help="Only these runs (default: every run here).")] = None,
    older_than: Annotated[
        Optional[str],
        typer.Option("--older-than", help="Only runs whose last event is older than this: 30d, 2w, 12h "
                                          "(default: event_retention.local_days in gateway.json)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and report; remove nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Remove local event files of runs whose archive is verified (state.json, metadata.json and the
    manifest stay). Every file is first proven to come back byte for byte from the archived bundle."""
    from ..archive.durations import parse_days

    days = parse_days(older_than) if older_than is not None else None
    result = open_faber(ctx).cleanup_runs(runs, older_than_days=days, dry_run=dry_run)
    if as_json:
        print_json(result.to_json())
    else:
        print_table(
            ["RUN", "ACTION", "FILES", "SIZE", "REASON"],
            ([e.run_id, e.action.replace("_", " "), e.files or None, _size(e.bytes) if e.bytes else None, e.reason]
             for e in result.entries),
        )
        done = [e for e in result.entries if e.action in ("removed", "would_remove")]
        verb = "would remove" if dry_run else "removed"
        total = sum(e.bytes for e in done)
        print(f"{verb} the events of {len(done)} of {len(result.entries)} runs ({_size(total)})")
    if result.failed:
        first = result.failed[0]
        raise ArchiveError(f"cleanup failed for {len(result.failed)} run(s); {first.run_id}: {first.reason}")


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{count} B"

"""``faber doctor``: one verdict per check, and a non-zero exit when any check fails."""

from __future__ import annotations

from typing import Annotated

import typer

from .output import print_json

MARKS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check the project: config files, that enabled backends load, that the runs folder is writable
    and that the bucket and the stream answer. Exits 1 when a check fails."""
    from ..api import doctor as run_checks

    checks = run_checks((ctx.find_root().obj or {}).get("root"))
    failed = [check for check in checks if check.verdict == "fail"]
    warned = [check for check in checks if check.verdict == "warn"]
    if as_json:
        print_json({"ok": not failed, "checks": [check.to_json() for check in checks]})
    else:
        width = max(len(f"{check.area}: {check.name}") for check in checks)
        for check in checks:
            label = f"{check.area}: {check.name}"
            print(f"{MARKS[check.verdict]}  {label:<{width}}  {' '.join(check.detail.split())}".rstrip())
        print()
        if failed:
            print(f"verdict: {len(failed)} check(s) failed, {len(warned)} warning(s)")
        else:
            print(f"verdict: ready ({len(checks)} checks passed, {len(warned)} with a warning)")
    if failed:
        raise typer.Exit(1)

"""``faber init`` and ``faber schema``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from faber_hookspecs.catalogue import EVENT_TYPES, is_vendor_type
from faber_hookspecs.errors import InvalidInput

from .output import print_json, print_table


def init(
    ctx: typer.Context,
    org: Annotated[Optional[str], typer.Option(help="The org of this project's run ids.")] = None,
    project: Annotated[Optional[str], typer.Option(help="The project of this project's run ids.")] = None,
) -> None:
    """Prepare .fractary/plugins/faber/ here (or in --root): config, gateway, workflows, runs folder.

    Existing files are rewritten in the current format; each old file is kept as NAME.bak-<time>.
    """
    from ..init import initialize

    root = (ctx.find_root().obj or {}).get("root") or os.environ.get("FABER_ROOT") or Path.cwd()
    target, changes = initialize(Path(root), org, project, dict(os.environ))
    org_name, project_name = target.identity()
    for change in changes:
        print(change.describe(target.root))
    print(f"runs will be named {org_name}/{project_name}/<uuid>; run one with `faber run WORKFLOW --work-id ID`")
    old_state = target.faber_dir / "state.json"
    if old_state.is_file() and not old_state.with_name("state.json.migrated").exists():
        print(f"{old_state.relative_to(target.root)} is the old single-file state: `faber migrate` imports it as a run")


DOCUMENT_SCHEMAS = ("event", "run-state", "run-metadata", "workflow", "resume-context", "archive-manifest")


def schema(
    name: Annotated[
        Optional[str],
        typer.Argument(help="An event type, or event, run-state, run-metadata, workflow, resume-context. "
                            "Omit to list the event types."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="List the event types as JSON, each with its schema "
                                                          "file (shipped in faber-hookspecs).")] = False,
) -> None:
    """Print a JSON Schema: of events, of one event type, of state.json, of metadata.json, of a workflow
    definition, or of a resume context."""
    from faber_hookspecs.validation import SCHEMA_DIR, load_schema

    if name is None and as_json:
        print_json([{"type": t.name, "category": t.category, "requires": list(t.requires),
                     "description": t.description, "schema_file": f"{SCHEMA_DIR}/events/{t.name}.schema.json"}
                    for t in EVENT_TYPES.values()])
        return
    if name is None:
        print_table(
            ["TYPE", "CATEGORY", "REQUIRES", "MEANING"],
            ([t.name, t.category, ", ".join(t.requires), t.description] for t in EVENT_TYPES.values()),
        )
        return
    if name in DOCUMENT_SCHEMAS:
        print_json(load_schema(name))
    elif name in EVENT_TYPES:
        print_json(load_schema(f"events/{name}"))
    elif is_vendor_type(name):
        from faber_hookspecs.schema_gen import event_type_schema

        print_json(event_type_schema(load_schema("event"), name))
    else:
        raise InvalidInput(
            f"no schema named {name[:64]!r}: use an event type, or one of {', '.join(DOCUMENT_SCHEMAS)}"
        )

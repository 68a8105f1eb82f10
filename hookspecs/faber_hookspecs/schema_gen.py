"""Generate the JSON Schema files and the compiled event validator from the models and catalogue.

    python -m faber_hookspecs.schema_gen          # rewrite schemas/*.json and _event_validator.py
    python -m faber_hookspecs.schema_gen --check  # exit 1 if the committed files have drifted

The schemas are JSON Schema draft 2020-12. The event schema stays inside the part of 2020-12 that
draft 7 shares (no prefixItems, unevaluated*, $dynamicRef), so the validator that fastjsonschema
compiles from it, which the store uses because it loads in a millisecond, means exactly what
``jsonschema``'s Draft202012Validator means; a test checks the two agree.

Event files never hold ``null`` (an absent field is left out), so the event schema allows no null
where the pydantic model uses ``None`` to mean "absent".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .archive import ArchiveManifest
from .catalogue import EVENT_TYPES
from .events import Event
from .metadata import RunMetadata
from .resume import ResumeContext
from .state import RunState
from .workflow import WorkflowDefinition

PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMA_DIR = PACKAGE_DIR / "schemas"
VALIDATOR_FILE = PACKAGE_DIR / "_event_validator.py"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://faber-host.dev/schemas/"


def event_schema() -> dict[str, Any]:
    """The schema every event file satisfies, per-type rules included."""
    schema = _collapse_nullable(Event.model_json_schema())
    rules = []
    for entry in EVENT_TYPES.values():
        if entry.requires:
            rules.append(
                {
                    "if": {"properties": {"type": {"const": entry.name}}, "required": ["type"]},
                    "then": {"required": list(entry.requires)},
                }
            )
    schema["allOf"] = rules
    schema["required"] = ["event_id", "type", "timestamp", "run_id"]
    return _document("event", "FABER event", schema)


def event_type_schema(event: dict[str, Any], name: str) -> dict[str, Any]:
    """The event schema (``event_schema()``) narrowed to one type: its ``type`` fixed and its
    required fields listed (``schemas/events/<type>.schema.json``; a vendor type's on demand)."""
    narrowed = {key: value for key, value in event.items() if key != "allOf"}
    narrowed["$id"] = f"{ID_BASE}events/{name}.schema.json"
    narrowed["title"] = f"FABER event: {name}"
    entry = EVENT_TYPES.get(name)
    if entry:
        narrowed["description"] = entry.description
    narrowed["properties"] = {**event["properties"], "type": {"const": name}}
    narrowed["required"] = [*event["required"], *(entry.requires if entry else ())]
    return narrowed


def state_schema() -> dict[str, Any]:
    """The schema of state.json."""
    return _document("run-state", "FABER run state", RunState.model_json_schema())


def metadata_schema() -> dict[str, Any]:
    """The schema of metadata.json."""
    return _document("run-metadata", "FABER run metadata", RunMetadata.model_json_schema())


def manifest_schema() -> dict[str, Any]:
    """The schema of an archive bundle's manifest.json."""
    return _document("archive-manifest", "FABER archive manifest", ArchiveManifest.model_json_schema())


def workflow_schema() -> dict[str, Any]:
    """The schema of a workflow definition file (workflows/<id>.json)."""
    return _document("workflow", "FABER workflow definition", WorkflowDefinition.model_json_schema(by_alias=True))


def resume_context_schema() -> dict[str, Any]:
    """The schema of what ``faber runs resume-context --json`` prints (and the MCP server returns)."""
    return _document("resume-context", "FABER resume context", ResumeContext.model_json_schema())


def all_schemas() -> dict[str, dict[str, Any]]:
    """Every schema file, by file name (relative to ``schemas/``): one per event type under events/."""
    event = event_schema()
    return {
        "event.schema.json": event,
        **{f"events/{name}.schema.json": event_type_schema(event, name) for name in EVENT_TYPES},
        "run-state.schema.json": state_schema(),
        "run-metadata.schema.json": metadata_schema(),
        "archive-manifest.schema.json": manifest_schema(),
        "workflow.schema.json": workflow_schema(),
        "resume-context.schema.json": resume_context_schema(),
    }


def render(schema: dict[str, Any]) -> str:
    """The exact text of a schema file."""
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def compiled_validator_source(schema: dict[str, Any]) -> str:
    """Python source of the event validator, compiled by fastjsonschema from the event schema.

    The generated module imports its two exception classes from ``_schema_exceptions`` instead of
    the fastjsonschema package, which is needed only to generate it.
    """
    import fastjsonschema

    # fastjsonschema knows drafts up to 7; the schema is written in their common subset (see above).
    # Without $id, the entry point of the generated module is named plain ``validate``.
    # The per-type rules (allOf) are left to ``validation.validate_event``, which checks them from the
    # catalogue they are generated from: compiled, each rule raised and caught an exception per event.
    draft7 = {**schema, "$schema": "http://json-schema.org/draft-07/schema#"}
    del draft7["allOf"]
    del draft7["$id"]
    code = fastjsonschema.compile_to_code(draft7)
    original_import = "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException"
    if original_import not in code:
        raise RuntimeError("fastjsonschema's generated code changed; update schema_gen.py")
    code = code.replace(
        original_import, "from ._schema_exceptions import JsonSchemaValueException, JsonSchemaValuesException"
    )
    code = _without_definitions(code)
    header = (
        "# Generated by `python -m faber_hookspecs.schema_gen` from schemas/event.schema.json.\n"
        "# Do not edit: a test fails when this file and the schema drift apart.\n"
        "# The schema's per-type rules (allOf) are checked by validation.validate_event, not here.\n"
        "# ruff: noqa\n"
        "# mypy: ignore-errors\n"
    )
    return header + code


def _without_definitions(code: str) -> str:
    """Drop the schema fragment fastjsonschema passes to every exception it raises (``definition=``):
    nothing reads it, and its dozens of copies made most of the module."""
    import ast

    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "definition":
                    keyword.value = ast.Constant(None)
    header, _, _ = code.partition("VERSION = ")
    return header + ast.unparse(tree).split("VERSION = ", 1)[1].join(["VERSION = ", ""]) + "\n"


def expected_files() -> dict[Path, str]:
    """Every generated file and the text it must have."""
    schemas = all_schemas()
    files = {SCHEMA_DIR / name: render(schema) for name, schema in schemas.items()}
    files[VALIDATOR_FILE] = compiled_validator_source(schemas["event.schema.json"])
    return files


def main(argv: list[str]) -> int:
    drifted = [path for path, text in expected_files().items() if _read(path) != text]
    if "--check" in argv:
        for path in drifted:
            print(f"drifted: {path} (run: python -m faber_hookspecs.schema_gen)", file=sys.stderr)
        return 1 if drifted else 0
    (SCHEMA_DIR / "events").mkdir(parents=True, exist_ok=True)
    for path, text in expected_files().items():
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(drifted)} changed file(s) of {len(expected_files())}")
    return 0


def _document(name: str, title: str, schema: dict[str, Any]) -> dict[str, Any]:
    body = {key: value for key, value in schema.items() if key != "title"}
    return {"$schema": DRAFT, "$id": f"{ID_BASE}{name}.schema.json", "title": title, **body}


def _collapse_nullable(node: Any) -> Any:
    """Turn pydantic's ``anyOf: [X, {"type": "null"}]`` into ``X`` and drop ``default: null``."""
    if isinstance(node, list):
        return [_collapse_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _collapse_nullable(value) for key, value in node.items()}
    options = node.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        if len(rest) == 1:
            del node["anyOf"]
            node = {**rest[0], **node}
    if "default" in node and node["default"] is None:
        del node["default"]
    return node


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

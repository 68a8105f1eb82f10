"""Events: the catalogue, the models, the committed JSON Schemas and the compiled validator agree."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import FABER
from faber_hookspecs import schema_gen
from faber_hookspecs.catalogue import EVENT_TYPES, PHASES, is_vendor_type
from faber_hookspecs.errors import InvalidEvent
from faber_hookspecs.events import Event, EventDraft
from faber_hookspecs.validation import schema_validator, validate_event
from faber_hookspecs.wire import EVENT_FIELD_ORDER, dump_event
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError

REFERENCE_TYPES = """workflow_start workflow_complete workflow_error workflow_cancelled workflow_resumed
workflow_rerun phase_start phase_skip phase_complete phase_error step_start step_complete step_error step_retry
artifact_create artifact_modify commit_create branch_create pr_create pr_merge spec_generate spec_validate test_run
docs_update checkpoint skill_invoke agent_invoke decision_point retry_loop_enter retry_loop_exit approval_request
approval_granted approval_denied hook_execute step_skip workflow_paused feedback_request feedback_received""".split()

RUN = "acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63"


def event(**fields: object) -> dict[str, object]:
    return {"event_id": 1, "timestamp": "2026-11-26T07:13:25.215Z", "run_id": RUN, **fields}


def test_catalogue_holds_every_reference_type() -> None:
    assert set(REFERENCE_TYPES) <= set(EVENT_TYPES)


def test_committed_schemas_match_the_models() -> None:
    for path, text in schema_gen.expected_files().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} drifted: run python -m faber_hookspecs.schema_gen"


def test_schemas_are_draft_2020_12_and_valid() -> None:
    from jsonschema import Draft202012Validator

    for name in ("event", "run-state", "run-metadata"):
        schema = json.loads((schema_gen.SCHEMA_DIR / f"{name}.schema.json").read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)


def test_model_fields_follow_the_file_order() -> None:
    assert set(Event.model_fields) == set(EVENT_FIELD_ORDER)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "phase_start"}, "needs 'phase'"),
        ({"type": "step_start", "phase": "build"}, "needs 'step'"),
        ({"type": "step_complete", "phase": "build", "step": "x"}, "needs 'duration_ms'"),
        ({"type": "workflow_error"}, "needs 'error'"),
        ({"type": "step_error", "phase": "build", "step": "x"}, "needs 'error'"),
        ({"type": "nonsense"}, "unknown event type"),
        ({"type": "x-acme"}, "unknown event type"),
        ({"type": "workflow_start", "phase": "deploy"}, "phase"),
        ({"type": "workflow_start", "duration_ms": -1}, "duration_ms"),
        ({"type": "workflow_start", "metadata": []}, "metadata"),
        ({"type": "workflow_start", "surprise": 1}, "surprise"),
    ],
)
def test_invalid_events_are_refused_by_model_and_schema(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        validate_event(event(**fields))
    with pytest.raises(ValidationError):
        EventDraft.model_validate(fields)
    assert not schema_validator("event").is_valid(event(**fields))


def test_vendor_types_are_accepted() -> None:
    for name in ("x-acme.deploy_start", "x-my-co.ci.run", "x-a.b"):
        assert is_vendor_type(name)
        validate_event(event(type=name))
    for name in ("x-.a", "x-acme.", "x-acme..b", "x-Acme.b", "x-acme/b", "y-acme.b"):
        assert not is_vendor_type(name)


# A strategy for JSON-ish event objects, valid and invalid alike, to compare the two validators.
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=8))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
_candidate = st.fixed_dictionaries(
    {
        "event_id": st.one_of(st.integers(-1, 3), st.just("1")),
        "timestamp": st.sampled_from(["2026-11-26T07:13:25.215Z", "2026-11-26T07:13:25Z", "yesterday"]),
        "run_id": st.sampled_from([RUN, "acme/x/1", "../../etc"]),
        "type": st.sampled_from([*EVENT_TYPES, "x-acme.thing", "bogus", ""]),
    },
    optional={
        "phase": st.sampled_from([*PHASES, "deploy", None]),
        "step": st.sampled_from(["fetch-work", "a b", "", "x" * 200]),
        "status": st.sampled_from(["started", "Started", ""]),
        "message": st.text(max_size=20),
        "metadata": _values,
        "artifacts": st.lists(st.fixed_dictionaries({"type": st.text(max_size=4)}, optional={"path": _scalars}), max_size=2),
        "duration_ms": st.integers(-3, 10),
        "error": st.fixed_dictionaries({"code": st.text(max_size=3)}, optional={"message": st.text(max_size=3), "recoverable": _scalars}),
        "retry_attempt": _scalars,
        "surprise": _scalars,
    },
)


@settings(max_examples=600, deadline=None)
@given(_candidate)
def test_compiled_validator_agrees_with_jsonschema(candidate: dict[str, object]) -> None:
    expected = schema_validator("event").is_valid(candidate)
    try:
        validate_event(candidate)
        compiled = True
    except InvalidEvent:
        compiled = False
    assert compiled == expected


def test_event_file_format_matches_the_reference() -> None:
    text = dump_event({"type": "phase_start", "run_id": RUN, "event_id": 2, "phase": "frame",
                       "timestamp": "2026-11-26T07:13:25.664Z", "metadata": {}, "status": "started"}).decode()
    assert text.endswith("}\n")
    assert list(json.loads(text)) == ["event_id", "type", "timestamp", "run_id", "phase", "status"]


def test_one_schema_file_per_event_type_ships_with_the_contract(tmp_path: Path) -> None:
    """schemas/events/<type>.schema.json, generated from the models (kept in step by
    test_committed_schemas_match_the_models), inside the faber-hookspecs distribution."""
    from importlib.resources import files

    from faber_hookspecs.catalogue import EVENT_TYPES

    shipped = files("faber_hookspecs") / "schemas" / "events"
    assert sorted(entry.name for entry in shipped.iterdir()) == sorted(f"{name}.schema.json" for name in EVENT_TYPES)
    event = {"event_id": 1, "timestamp": "2026-01-01T00:00:00.000Z",
             "run_id": "acme/widget-service/ee04a6d4-8111-4fde-8172-a0639c154b63"}
    complete = Draft202012Validator(json.loads((shipped / "step_complete.schema.json").read_text()))
    assert complete.is_valid({**event, "type": "step_complete", "phase": "build", "step": "s", "duration_ms": 1})
    assert not complete.is_valid({**event, "type": "step_complete", "phase": "build", "step": "s"})
    assert not complete.is_valid({**event, "type": "step_start", "phase": "build", "step": "s", "duration_ms": 1})
    listed = json.loads(subprocess.run([FABER, "schema", "--json"], capture_output=True, text=True, check=True,
                                       cwd=tmp_path).stdout)
    assert [entry["type"] for entry in listed] == list(EVENT_TYPES)
    assert all(Path(entry["schema_file"]).is_file() for entry in listed)
    one = json.loads(subprocess.run([FABER, "schema", "step_complete"], capture_output=True, text=True, check=True,
                                    cwd=tmp_path).stdout)
    assert one == json.loads((shipped / "step_complete.schema.json").read_text())

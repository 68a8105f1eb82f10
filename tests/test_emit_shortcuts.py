"""The pure-Python shortcuts of the emit path agree with what they stand for: ``plain_draft`` (the one-shot
emit's draft, built without pydantic) with ``EventDraft``, ``indented_json`` with ``json.dumps``.

Whenever ``plain_draft`` answers, pydantic must accept the same fields and give the same JSON, key
order included, and the event it makes must keep the state valid; when pydantic would change
anything, ``plain_draft`` must decline (None), so the caller asks pydantic.
"""

from __future__ import annotations

import json
import math
from typing import Any

from faber_hookspecs import patterns
from faber_hookspecs.catalogue import EVENT_TYPES, PHASES, VENDOR_TYPE_PATTERN
from faber_hookspecs.events import Artifact, EventDraft, EventError
from faber_hookspecs.reducer import apply_event, initial_state
from faber_hookspecs.run_id import PREFIX_PATTERN, RUN_ID_PATTERN, SLUG_PATTERN, UUID4_PATTERN
from faber_hookspecs.state import RunState
from faber_hookspecs.validation import plain_draft
from faber_hookspecs.wire import (
    ARTIFACT_FIELD_ORDER,
    ERROR_FIELD_ORDER,
    STATUS_PATTERN,
    STEP_PATTERN,
    TIMESTAMP_PATTERN,
    dump_document,
    indented_json,
    loads,
    utc_timestamp,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

PATTERN_OF = {"slug": SLUG_PATTERN, "uuid4": UUID4_PATTERN, "uuid_prefix": PREFIX_PATTERN, "run_id": RUN_ID_PATTERN,
              "vendor_type": VENDOR_TYPE_PATTERN, "step": STEP_PATTERN, "status": STATUS_PATTERN,
              "timestamp": TIMESTAMP_PATTERN}

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
                      st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                           st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                          max_leaves=8)
names = st.sampled_from([*EVENT_TYPES, "x-acme.deploy_start", "bogus", "", "x-Bad.name"])
step_names = st.one_of(st.sampled_from(["compile", "unit-tests", "a.b_c", "-bad", "x" * 130]), st.text(max_size=6))
number = st.one_of(st.integers(min_value=-3, max_value=10**12), st.floats(min_value=-1, max_value=10),
                   st.booleans(), st.none(), st.text(max_size=2))


@st.composite
def shuffled(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]], required: tuple[str, ...]) -> dict[str, Any]:
    chosen = {name: draw(strategy) for name, strategy in fields.items() if name in required or draw(st.booleans())}
    order = draw(st.permutations(list(chosen)))
    return {name: chosen[name] for name in order}


errors = shuffled({"code": st.text(max_size=4), "message": st.text(max_size=6),
                   "stack": st.one_of(st.text(max_size=4), st.none()), "recoverable": st.one_of(st.booleans(), number),
                   "extra": json_value}, required=("code", "message"))
artifacts = st.lists(shuffled({"type": st.sampled_from(["file", "pr", ""]), "name": st.text(max_size=5),
                               "path": st.text(max_size=5), "url": st.one_of(st.text(max_size=5), st.none()),
                               "note": json_value, "size": number}, required=("type",)), max_size=3)
drafts = shuffled({
    "type": names, "phase": st.sampled_from([*PHASES, "deploy"]), "step": step_names,
    "status": st.sampled_from(["started", "Bad", "x_1"]), "user": st.one_of(st.text(max_size=5), st.none()),
    "source": st.text(max_size=5), "message": st.text(max_size=10), "metadata": st.one_of(
        st.dictionaries(st.text(max_size=4), json_value, max_size=3), json_value),
    "artifacts": st.one_of(artifacts, json_value), "duration_ms": number, "retry_attempt": number,
    "error": st.one_of(errors, json_value), "correlation_id": st.text(max_size=4), "event_id": st.integers(),
}, required=("type",))


@settings(max_examples=300, deadline=None)
@given(drafts)
def test_plain_draft_is_what_pydantic_gives(fields: dict[str, Any]) -> None:
    plain = plain_draft(fields)
    if plain is None:
        return
    by_pydantic = EventDraft.model_validate(fields).to_json()
    assert json.dumps(plain, ensure_ascii=False) == json.dumps(by_pydantic, ensure_ascii=False)  # order too
    event = {**plain, "event_id": 1, "timestamp": "2026-01-01T00:00:00.000Z", "run_id": "a/b/c"}
    RunState.model_validate(apply_event(initial_state("a/b/c", "1", "default", None), event))


@settings(max_examples=300, deadline=None)
@given(drafts)
def test_plain_draft_declines_whatever_pydantic_changes_or_refuses(fields: dict[str, Any]) -> None:
    try:
        by_pydantic = EventDraft.model_validate(fields).to_json()
    except ValidationError:
        assert plain_draft(fields) is None
        return
    plain = plain_draft(fields)
    assert plain is None or plain == by_pydantic


def test_valid_everyday_drafts_are_taken() -> None:
    """The path must be useful, not only safe: what agents send every step is handled."""
    for fields in (
        {"type": "workflow_start", "user": "me", "source": "faber-cli"},
        {"type": "step_complete", "phase": "build", "step": "compile", "duration_ms": 15, "message": "ok"},
        {"type": "step_error", "phase": "build", "step": "compile",
         "error": {"message": "boom", "code": "E1", "recoverable": True},
         "artifacts": [{"path": "a.txt", "type": "file", "lines": 3}], "metadata": {"ratio": 0.5, "n": [1, 2]}},
    ):
        plain = plain_draft(fields)
        assert plain is not None and plain == EventDraft.model_validate(fields).to_json()
    assert list(plain_draft({"type": "checkpoint", "error": {"message": "m", "code": "c"}})["error"]) == ["code",
                                                                                                       "message"]


def test_nested_key_orders_are_the_models() -> None:
    assert tuple(EventError.model_fields) == ERROR_FIELD_ORDER
    assert tuple(Artifact.model_fields) == ARTIFACT_FIELD_ORDER


def test_what_pydantic_would_change_is_declined() -> None:
    for fields in ({"type": "checkpoint", "duration_ms": 5.0}, {"type": "checkpoint", "metadata": {"x": math.nan}},
                   {"type": "checkpoint", "user": None}, {"type": "checkpoint", "retry_attempt": True},
                   {"type": "checkpoint", "metadata": []}, {"type": "checkpoint", "message": "\ud800"}):
        assert plain_draft(fields) is None, fields


any_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text()),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner),
                            st.dictionaries(st.one_of(st.text(max_size=6), st.integers(), st.booleans()), inner,
                                            max_size=4)),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(any_json)
def test_indented_json_is_exactly_what_json_dumps_writes(value: Any) -> None:
    assert indented_json(value) == json.dumps(value, indent=2, ensure_ascii=False)


json_texts = st.one_of(
    any_json.map(json.dumps),
    any_json.map(lambda value: " \n" + json.dumps(value, indent=2) + "\t\r\n"),
    st.text(max_size=12),
    st.sampled_from(["", " ", "{", '{"a": 1} x', "NaN", "-Infinity", "[1, 2,]", "\ufeff{}", '"\\ud800"', "1e999",
                     '{"a": 1, "a": 2}', "0012", "\x00"]),
)


def _outcome(function: Any, data: Any) -> str:
    try:
        return "value " + repr(function(data))
    except Exception as problem:
        return f"error {type(problem).__name__}: {problem}"


@settings(max_examples=300, deadline=None)
@given(json_texts, st.booleans())
def test_loads_is_exactly_json_loads(text: str, as_bytes: bool) -> None:
    data: Any = text.encode("utf-8", "surrogatepass") if as_bytes else text
    assert _outcome(loads, data) == _outcome(json.loads, data)


def test_loads_of_other_encodings_and_marks_is_json_loads() -> None:
    for data in ('{"a": "é"}'.encode("utf-16"), b"\xef\xbb\xbf[1]", '"\ud800"'.encode("utf-8", "surrogatepass"),
                 b"\xff"):
        assert _outcome(loads, data) == _outcome(json.loads, data)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="abcxyzAZ09-_./:TZ4589\n é", max_size=40) | st.sampled_from([
    "acme/widget/ee04a6d4-8111-4fde-8172-e0639c154b63", "2026-11-26T07:13:25.215Z", "x-acme.deploy_start",
    "x-a.b.c_d", "ee04a6d4", "a", "build", "a.b_c-d"]))
def test_hand_matchers_are_the_patterns(text: str) -> None:
    import re

    for name, pattern in PATTERN_OF.items():
        assert getattr(patterns, name)(text) == (re.fullmatch(pattern, text) is not None), (name, text)


def test_one_shot_modules_import_neither_re_nor_json() -> None:
    """Nor typing, ctypes, collections, functools or importlib: each costs the one-shot emit a share of
    its start-up (collections and its namedtuples were about a millisecond)."""
    import subprocess
    import sys

    probe = ("import sys\nimport faber_host.cli.one_shot_emit, faber_backend_local_files.store, "
             "faber_hookspecs.validation, faber_host.run_ref\n"
             "print(sorted({'re', 'json', 'typing', 'ctypes', 'collections', 'functools', 'importlib'} & set(sys.modules)))")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "[]"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=4), any_json, min_size=1, max_size=5), min_size=1, max_size=4))
def test_documents_rewritten_with_reuse_are_exactly_json_dumps(documents: list[dict[str, Any]]) -> None:
    """dump_document reuses the indented text of objects it has seen: the bytes must not change, also
    when one document follows another with parts in common (as states do)."""
    for document in [*documents, *documents, {"a": documents, "b": documents[0]}]:
        assert dump_document(document) == (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def test_a_state_rewritten_event_after_event_is_exactly_json_dumps() -> None:
    state = initial_state("a/b/c", "1", "default", None)
    for index, draft in enumerate([{"type": "workflow_start"}, *[
        {"type": kind, "phase": phase, "step": step, "duration_ms": 5, "artifacts": [{"type": "file", "n": index}]}
        for index, (phase, step, kind) in enumerate(
            (p, s, k) for p in PHASES for s in ("one", "two") for k in ("step_start", "step_complete"))
    ]], start=1):
        apply_event(state, {**draft, "event_id": index, "timestamp": "2026-01-01T00:00:00.000Z"})
        assert dump_document(state) == (json.dumps(state, indent=2, ensure_ascii=False) + "\n").encode()


def test_utc_timestamp_is_strftime_with_milliseconds_across_seconds() -> None:
    import time

    for now in (0.0, 0.999, 1.0, 1.0005, 59.9999, 60.0, 1767225599.999, 1767225600.0, 1767225600.001, 0.5, 1.0):
        seconds, ms = divmod(int(now * 1000), 1000)
        expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"
        assert utc_timestamp(now) == expected, now

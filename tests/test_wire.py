"""The record store's encoders and matchers agree with what they stand for: ``indented_json`` and
``dump_document`` with ``json.dumps``, ``loads`` with ``json.loads``, the hand matchers with the patterns."""

from __future__ import annotations

import json
from typing import Any

from faber_hookspecs import patterns
from faber_hookspecs.catalogue import PHASES, VENDOR_TYPE_PATTERN
from faber_hookspecs.reducer import apply_event, initial_state
from faber_hookspecs.run_id import PREFIX_PATTERN, RUN_ID_PATTERN, SLUG_PATTERN, UUID4_PATTERN
from faber_hookspecs.wire import (
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

PATTERN_OF = {"slug": SLUG_PATTERN, "uuid4": UUID4_PATTERN, "uuid_prefix": PREFIX_PATTERN, "run_id": RUN_ID_PATTERN,
              "vendor_type": VENDOR_TYPE_PATTERN, "step": STEP_PATTERN, "status": STATUS_PATTERN,
              "timestamp": TIMESTAMP_PATTERN}

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

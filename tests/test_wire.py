"""The record store's encoders agree with what they stand for: ``indented_json`` and
``dump_document`` with ``json.dumps``."""

from __future__ import annotations

import json
from typing import Any

from faber_hookspecs.catalogue import PHASES
from faber_hookspecs.reducer import apply_event, initial_state
from faber_hookspecs.wire import (
    dump_document,
    indented_json,
    utc_timestamp,
)
from hypothesis import given, settings
from hypothesis import strategies as st

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

"""The input policy on its own: what each redaction pattern catches and leaves alone, field names,
limits, and the gateway.json settings that tune them (the torture suite proves it end to end)."""

from __future__ import annotations

from pathlib import Path

import pytest
from faber_hookspecs.errors import ConfigError, InvalidEvent, InvalidInput

from faber_host.gateway.config import parse_gateway_config
from faber_host.safety.policy import InputPolicy
from faber_host.safety.redaction import BUILTIN_PATTERNS, Findings, Redactor, builtin_patterns, is_secret_field

CAUGHT = [
    ("aws-access-key-id", "key AKIAIOSFODNN7EXAMPLE here", "key [REDACTED:aws-access-key-id] here"),
    ("aws-secret-access-key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "aws_secret_access_key = [REDACTED:aws-secret-access-key]"),
    ("aws-secret-access-key", '"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
     '"SecretAccessKey": "[REDACTED:aws-secret-access-key]"'),
    ("github-token", "ghp_" + "a" * 36, "[REDACTED:github-token]"),
    ("github-token", "github_pat_" + "A1" * 20, "[REDACTED:github-token]"),
    ("gitlab-token", "glpat-" + "x" * 20, "[REDACTED:gitlab-token]"),
    ("slack-token", "xoxb-1234567890-abcdef", "[REDACTED:slack-token]"),
    ("slack-webhook", "https://hooks.slack.com/services/T0/B0/abc", "[REDACTED:slack-webhook]"),
    ("private-key", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- tail",
     "[REDACTED:private-key] tail"),
    ("private-key", "-----BEGIN OPENSSH PRIVATE KEY-----\ncut short", "[REDACTED:private-key]"),
    ("authorization-header", "Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [REDACTED:authorization-header]"),
    ("authorization-header", '{"authorization": "Bearer x"}', '{"authorization": "Bearer [REDACTED:authorization-header]"}'),
    ("bearer-token", "bearer abcdefgh12345678zz", "bearer [REDACTED:bearer-token]"),
    ("password-pair", "password=hunter2", "password=[REDACTED:password-pair]"),
    ("password-pair", "PASSWORD: 'hunter 2'", "PASSWORD: '[REDACTED:password-pair]'"),
    ("password-pair", '{\\"api_key\\": \\"k-123\\"}', '{\\"api_key\\": \\"[REDACTED:password-pair]\\"}'),
    ("url-credentials", "postgres://admin:s3cret@db/x", "postgres://admin:[REDACTED:url-credentials]@db/x"),
    ("stripe-key", "sk_live_" + "a1" * 12, "[REDACTED:stripe-key]"),
    ("google-api-key", "AIza" + "B" * 35, "[REDACTED:google-api-key]"),
    ("npm-token", "npm_" + "c" * 36, "[REDACTED:npm-token]"),
    ("pypi-token", "pypi-AgEIcHlwaS5vcmc" + "Q" * 60, "[REDACTED:pypi-token]"),
    ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijk", "[REDACTED:jwt]"),
]

LEFT_ALONE = [
    "the bearer authentication scheme",
    "tokens: 1234 of 8000 used",
    "commit 0123456789abcdef0123456789abcdef01234567",
    "passed 12 tests in 3.2s",
    "see https://example.com/path?x=1 for details",
    "a key decision: keep the old API",
    "ghp_short",
    "email me at dev@example.com",
]


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(builtin_patterns())


@pytest.mark.parametrize(("kind", "text", "expected"), CAUGHT, ids=[f"{c[0]}-{i}" for i, c in enumerate(CAUGHT)])
def test_each_pattern_catches_its_kind(redactor: Redactor, kind: str, text: str, expected: str) -> None:
    findings = Findings()
    assert redactor.redact_text(text, findings) == expected
    assert kind in findings.kinds


def test_every_builtin_pattern_is_exercised() -> None:
    assert {kind for kind, *_ in CAUGHT} == {name for name, *_ in BUILTIN_PATTERNS}


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_ordinary_text_is_left_alone(redactor: Redactor, text: str) -> None:
    findings = Findings()
    assert redactor.redact_text(text, findings) == text and not findings


def test_the_one_scan_for_every_trigger_redacts_what_the_pattern_loop_does() -> None:
    """A string is scanned once for all the patterns' triggers when every pattern has some; otherwise
    each pattern's triggers are tested in turn. The two must agree."""
    from hypothesis import given
    from hypothesis import strategies as st

    scanning, looping = Redactor(builtin_patterns()), Redactor(builtin_patterns())
    looping._every_pattern_triggered = False  # what a pattern without triggers makes it do
    triggers = sorted({trigger for _, found, _, _ in BUILTIN_PATTERNS for trigger in found})
    samples = [text for _, text, _ in CAUGHT] + LEFT_ALONE
    pieces = st.sampled_from(triggers + [text.upper() for text in triggers] + samples) | st.text(max_size=12)

    def same(text: str) -> None:
        found_scanning, found_looping = Findings(), Findings()
        assert scanning.redact_text(text, found_scanning) == looping.redact_text(text, found_looping), text
        assert found_scanning.kinds == found_looping.kinds

    for text in samples:
        same(text)
    given(st.lists(pieces, max_size=5).map(" ".join))(same)()
    assert scanning._any_trigger is not None and looping._any_trigger is None


@pytest.mark.parametrize(("name", "secret"), [
    ("password", True), ("db_password", True), ("clientSecret", True), ("apiKey", True), ("API_KEY", True),
    ("aws_secret_access_key", True), ("X-Auth-Token", True), ("private-key", True), ("Cookie", True),
    ("max_tokens", False), ("token_count", False), ("secret_name", False), ("key", False), ("author", False),
    ("passed", False), ("tokenizer", False),
])
def test_secret_field_names(name: str, secret: bool) -> None:
    assert is_secret_field(name) is secret


def test_values_of_secret_fields_are_replaced_whatever_they_look_like(redactor: Redactor) -> None:
    findings = Findings()
    value = {"password": "x", "token": None, "secret": False, "nested": {"clientSecret": {"a": 1, "b": ["c"]}},
             "AKIAIOSFODNN7EXAMPLE": 1, "count": 3}
    assert redactor.redact(value, findings) == {
        "password": "[REDACTED:secret-field]", "token": None, "secret": False,
        "nested": {"clientSecret": {"a": "[REDACTED:secret-field]", "b": ["[REDACTED:secret-field]"]}},
        "[REDACTED:aws-access-key-id]": 1, "count": 3,
    }
    assert findings.count == 4


def test_keys_that_collide_once_redacted_stay_apart(redactor: Redactor) -> None:
    value = {"AKIAIOSFODNN7EXAMPLE": 1, "AKIAIOSFODNN7EXAMPL2": 2}
    assert sorted(redactor.redact(value, Findings()).values()) == [1, 2]


def test_policy_refuses_a_secret_in_an_identifier_and_names_no_value() -> None:
    with pytest.raises(InvalidEvent) as raised:
        InputPolicy.default().screen_event({"type": "step_start", "phase": "build", "step": "AKIAIOSFODNN7EXAMPLE"})
    assert "step looks like it holds a secret (aws-access-key-id)" in str(raised.value)
    assert "AKIA" not in str(raised.value)


def test_gateway_settings_build_the_same_policy_as_the_raw_sections() -> None:
    document = {"redaction": {"patterns": [{"name": "acme", "pattern": "ACME-[0-9]+"}], "disable": ["jwt"]},
                "limits": {"max_depth": 8}}
    from_model = parse_gateway_config(document, Path("gateway.json"), {}).input_policy()
    from_raw = InputPolicy.from_settings(document["redaction"], document["limits"])
    for policy in (from_model, from_raw):
        fields, _ = policy.screen_event({"type": "checkpoint", "message": "ACME-42 eyJa12345678.eyJb12345678.c12345678"})
        assert fields["message"] == "[REDACTED:acme] eyJa12345678.eyJb12345678.c12345678"
        assert policy.limits.max_depth == 8


@pytest.mark.parametrize(("section", "message"), [
    ({"redaction": {"patterns": [{"name": "x", "pattern": "("}]}}, "not a valid regular expression"),
    ({"redaction": {"patterns": [{"name": "x", "pattern": "a?"}]}}, "matches the empty string"),
    ({"redaction": {"disable": ["nope"]}}, "unknown built-in pattern 'nope'"),
    ({"redaction": {"enabled": "yes"}}, "redaction.enabled"),
    ({"limits": {"max_event_bytes": 10}}, "limits.max_event_bytes"),
    ({"limits": {"max_depth": "8"}}, "limits.max_depth"),
    ({"limits": {"max_size": 8}}, "limits.max_size"),
    ({"redaction": {"enabled": False, "patterns": [{"name": "x", "pattern": "("}]}}, "not a valid regular expression"),
    ({"redaction": {"enabled": False, "disable": ["nope"]}}, "unknown built-in pattern 'nope'"),
    ({"redaction": {"description": 5}}, "redaction.description"),
    ({"redaction": {"patterns": [{"name": "x", "pattern": "x+", "description": 5}]}}, "description"),
])
def test_bad_settings_are_named_the_same_way_with_or_without_pydantic(section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_gateway_config(section, Path("gateway.json"), {})
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        InputPolicy.from_settings(section.get("redaction"), section.get("limits"))


def test_the_size_limit_measures_what_json_dumps_gives() -> None:
    """check_size encodes with the json module's C encoder directly: the size must be the compact
    JSON's, byte for byte."""
    import json

    from hypothesis import given
    from hypothesis import strategies as st

    from faber_host.safety.limits import Limits

    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    )

    @given(values)
    def check(value: object) -> None:
        expected = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        assert Limits(max_event_bytes=1 << 30).check_size(value, "event") == expected

    check()


def test_the_shape_checks_quick_test_agrees_with_its_explanation() -> None:
    """check_shape tests an event with a walk that builds no paths, and walks again to name the
    problem only when there is one: the two walks must refuse exactly the same values."""
    from hypothesis import given
    from hypothesis import strategies as st

    from faber_host.safety.limits import Limits

    leaves = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
              | st.sampled_from(["\udcff", "é\ud800", object(), b"bytes", {1, 2}]))
    keys = st.text(max_size=6) | st.sampled_from([1, None, ("t",), "\udfff", "k" * 7])
    values = st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=3) | st.tuples(inner) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=12,
    )
    limits = Limits(max_depth=3, max_string_length=6)

    @given(values)
    def check(value: object) -> None:
        try:
            limits._explain_shape(value, "event", InvalidInput)
            explained = None
        except InvalidInput as refusal:
            explained = str(refusal)
        assert limits._fits(value) == (explained is None)
        if explained is not None:
            with pytest.raises(InvalidInput) as raised:
                limits.check_shape(value, "event")
            assert str(raised.value) == explained

    check()

"""The input policy on its own: what each redaction pattern catches and leaves alone, field names,
limits, and the gateway.json settings that tune them (the torture suite proves it end to end)."""

from __future__ import annotations

import re
import sys
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
    # Each alternative of a pattern (each trigger, each literal prefix) has its own example:
    # test_every_alternative_has_an_example derives what must be covered from the pattern table.
    ("aws-access-key-id", "ASIA" + "Q" * 16, "[REDACTED:aws-access-key-id]"),
    ("aws-access-key-id", "ABIA" + "Q" * 16, "[REDACTED:aws-access-key-id]"),
    ("aws-access-key-id", "ACCA" + "Q" * 16, "[REDACTED:aws-access-key-id]"),
    *(("github-token", prefix + "b" * 36, "[REDACTED:github-token]") for prefix in ("gho_", "ghu_", "ghs_", "ghr_")),
    *(("gitlab-token", prefix + "-" + "y" * 20, "[REDACTED:gitlab-token]")
      for prefix in ("gloas", "gldt", "glrt", "glptt", "glcbt", "glft", "glimt", "glagent", "glsoat", "glffct")),
    ("slack-token", "xapp-1-" + "A" * 12, "[REDACTED:slack-token]"),
    ("slack-webhook", "https://hooks.slack.com/workflows/T0/A0/abc", "[REDACTED:slack-webhook]"),
    ("slack-webhook", "https://hooks.slack.com/triggers/T0/A0/abc", "[REDACTED:slack-webhook]"),
    ("authorization-header", "Proxy-Authorization: Digest abc123", "Proxy-Authorization: Digest [REDACTED:authorization-header]"),
    ("password-pair", "OPENAI_API_KEY=" + "k" * 20, "OPENAI_API_KEY=[REDACTED:password-pair]"),
    ("password-pair", "export MISTRAL_API_KEY='" + "m1" * 16 + "'", "export MISTRAL_API_KEY='[REDACTED:password-pair]'"),
    ("password-pair", "GITHUB_TOKEN: t0ken-value", "GITHUB_TOKEN: [REDACTED:password-pair]"),
    ("password-pair", "db.pwd=x1", "db.pwd=[REDACTED:password-pair]"),
    *(("password-pair", f"{name}=v4lue", f"{name}=[REDACTED:password-pair]")
      for name in ("secret", "client_secret", "apikey", "api-key", "access_token", "auth-token", "refresh_token",
                   "token", "private_key")),
    ("password-pair", "passwd=x1 passphrase=x2", "passwd=[REDACTED:password-pair] passphrase=[REDACTED:password-pair]"),
    ("stripe-key", "rk_test_" + "b2" * 12, "[REDACTED:stripe-key]"),
    ("anthropic-api-key", "sk-ant-api03-" + "x" * 93 + "AA", "[REDACTED:anthropic-api-key]"),
    ("anthropic-api-key", "ANTHROPIC sk-ant-admin01-" + "y_" * 47, "ANTHROPIC [REDACTED:anthropic-api-key]"),
    *(("openai-api-key", f"sk-{kind}-" + "z" * 74 + "T3BlbkFJ" + "w" * 74, "[REDACTED:openai-api-key]")
      for kind in ("proj", "svcacct", "admin")),
    ("openai-api-key", "sk-" + "a" * 20 + "T3BlbkFJ" + "b" * 20, "[REDACTED:openai-api-key]"),
    ("openrouter-api-key", "sk-or-v1-" + "ab12" * 16, "[REDACTED:openrouter-api-key]"),
    ("huggingface-token", "hf_" + "Ab" * 17, "[REDACTED:huggingface-token]"),
    ("huggingface-token", "api_org_" + "Cd" * 17, "[REDACTED:huggingface-token]"),
    ("groq-api-key", "gsk_" + "G7" * 26, "[REDACTED:groq-api-key]"),
    ("xai-api-key", "xai-" + "X9" * 40, "[REDACTED:xai-api-key]"),
    ("perplexity-api-key", "pplx-" + "P1" * 24, "[REDACTED:perplexity-api-key]"),
    ("azure-client-secret", "secret abc8Q~" + "d" * 34, "secret [REDACTED:azure-client-secret]"),
    ("azure-storage-key", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=" + "K" * 86 + "==;",
     "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=[REDACTED:azure-storage-key];"),
    ("google-oauth-secret", "GOCSPX-" + "g" * 28, "[REDACTED:google-oauth-secret]"),
    *(("digitalocean-token", prefix + "0f" * 32, "[REDACTED:digitalocean-token]") for prefix in ("dop_v1_", "doo_v1_", "dor_v1_")),
    ("vault-token", "hvs." + "v" * 95, "[REDACTED:vault-token]"),
    ("vault-token", "hvb." + "w" * 140, "[REDACTED:vault-token]"),
    ("terraform-token", "a" * 14 + ".atlasv1." + "t" * 65, "[REDACTED:terraform-token]"),
    ("databricks-token", "dapi" + "0a" * 16, "[REDACTED:databricks-token]"),
    ("heroku-api-key", "HRKU-AA" + "h" * 58, "[REDACTED:heroku-api-key]"),
    ("pulumi-token", "pul-" + "9e" * 20, "[REDACTED:pulumi-token]"),
    ("doppler-token", "dp.pt." + "D" * 43, "[REDACTED:doppler-token]"),
    ("sentry-token", "sntryu_" + "5c" * 32, "[REDACTED:sentry-token]"),
    ("sentry-token", "sntrys_" + "eyJpYXQiO" + "s" * 70, "[REDACTED:sentry-token]"),
    ("grafana-token", "glc_" + "G" * 40, "[REDACTED:grafana-token]"),
    ("grafana-token", "glsa_" + "S" * 32 + "_0123abcd", "[REDACTED:grafana-token]"),
    ("sendgrid-api-key", "SG." + "s" * 22 + "." + "t" * 43, "[REDACTED:sendgrid-api-key]"),
    ("twilio-api-key", "SK" + "0a" * 16, "[REDACTED:twilio-api-key]"),
    *(("shopify-token", f"shp{kind}_" + "f0" * 16, "[REDACTED:shopify-token]") for kind in ("at", "ca", "pa", "ss")),
    ("atlassian-api-token", "ATATT3" + "x" * 186, "[REDACTED:atlassian-api-token]"),
    ("linear-api-key", "lin_api_" + "L" * 40, "[REDACTED:linear-api-key]"),
    ("discord-webhook", "https://discord.com/api/webhooks/123/abc-DEF", "[REDACTED:discord-webhook]"),
    ("discord-webhook", "https://ptb.discordapp.com/api/webhooks/123/abc", "[REDACTED:discord-webhook]"),
    ("discord-webhook", "https://canary.discord.com/api/webhooks/123/abc", "[REDACTED:discord-webhook]"),
    ("teams-webhook", "https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456 sent",
     "[REDACTED:teams-webhook] sent"),
    ("telegram-bot-token", "bot 123456789:A" + "a" * 34, "bot [REDACTED:telegram-bot-token]"),
    ("rubygems-token", "rubygems_" + "ab" * 24, "[REDACTED:rubygems-token]"),
    ("docker-hub-token", "dckr_pat_" + "d" * 27, "[REDACTED:docker-hub-token]"),
    ("artifactory-token", "AKCp" + "a" * 69, "[REDACTED:artifactory-token]"),
]

# One text per pattern that looks close to its kind and must be left alone.
NEAR_MISSES = {
    "aws-access-key-id": "AKIA" + "Q" * 15,
    "aws-secret-access-key": "aws_secret_access_key = " + "w" * 39,
    "github-token": "ghp_short",
    "gitlab-token": "glpat-" + "x" * 19,
    "slack-token": "xoxb-short",
    "slack-webhook": "https://hooks.slack.com/ is the host",
    "private-key": "-----BEGIN PUBLIC KEY-----",
    "authorization-header": "the authorization step",
    "bearer-token": "bearer abcdefghijklmnop",
    "password-pair": "password_policy=strict max_tokens=4096 token_count: 5",
    "url-credentials": "https://example.com/a@b",
    "stripe-key": "sk_live_short",
    "google-api-key": "AIza" + "B" * 20,
    "npm-token": "npm_install",
    "pypi-token": "pypi-AgEIcHlwaS5vcmc" + "Q" * 10,
    "jwt": "eyJhbGciOiJIUzI1NiJ9 alone",
    "anthropic-api-key": "sk-ant-api03-EXAMPLE",
    "openai-api-key": "the task-proj-" + "z" * 50 + " folder",
    "openrouter-api-key": "sk-or-v1-" + "ab12" * 15,
    "huggingface-token": "hf_hub_download",
    "groq-api-key": "gsk_" + "G7" * 25,
    "xai-api-key": "xai-sdk",
    "perplexity-api-key": "pplx-client",
    "azure-client-secret": "abc8Q~short",
    "azure-storage-key": "AccountKey=" + "K" * 20,
    "google-oauth-secret": "GOCSPX-short",
    "digitalocean-token": "dop_v1_" + "0f" * 31,
    "vault-token": "hvs.short",
    "terraform-token": "app.atlasv1.short",
    "databricks-token": "dapi-client",
    "heroku-api-key": "HRKU-AA-short",
    "pulumi-token": "pul-" + "9e" * 19,
    "doppler-token": "dp.pt.short",
    "sentry-token": "sntryu_short",
    "grafana-token": "glc_short",
    "sendgrid-api-key": "SG.short.key",
    "twilio-api-key": "SK" + "0a" * 15,
    "shopify-token": "shpat_" + "f0" * 15,
    "atlassian-api-token": "ATATT3" + "x" * 20,
    "linear-api-key": "lin_api_short",
    "discord-webhook": "https://discord.com/channels/123/456",
    "teams-webhook": "https://contoso.webhook.office.com/ is the host",
    "telegram-bot-token": "at 12:30:Alpha",
    "rubygems-token": "rubygems_" + "ab" * 20,
    "docker-hub-token": "dckr_pat_short",
    "artifactory-token": "AKCp" + "a" * 20,
}

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
    assert {kind for kind, *_ in CAUGHT} == {name for name, *_ in BUILTIN_PATTERNS} == set(NEAR_MISSES)


def test_every_alternative_has_an_example() -> None:
    """Each trigger of a pattern, and each literal word in a group of alternatives, (``(?:glpat|gloas|...)``)
    appears in one of the pattern's examples: a pattern, or a new branch of one, cannot arrive untested."""
    for name, triggers, source, _ in BUILTIN_PATTERNS:
        examples = [text for kind, text, _ in CAUGHT if kind == name]
        for trigger in triggers:
            assert any(trigger in text.lower() for text in examples), (name, trigger)
        for group in re.findall(r"\(\?:((?:[A-Za-z0-9_-]+\|)+[A-Za-z0-9_-]+)\)", source):
            for word in group.split("|"):
                assert any(word.lower() in text.lower() for text in examples), (name, word)


@pytest.mark.parametrize("kind", sorted(NEAR_MISSES))
def test_near_misses_are_left_alone(redactor: Redactor, kind: str) -> None:
    findings = Findings()
    text = NEAR_MISSES[kind]
    assert redactor.redact_text(text, findings) == text and not findings, findings.kinds


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


# The limits and the metadata screen in process (the torture suite proves them through the CLI, which
# mutants never reach).

def test_limits_measure_compact_json_and_word_sizes_for_a_person() -> None:
    from faber_host.safety.limits import Limits

    assert Limits().check_size({"a": "é", "b": [1, 2]}, "event") == len('{"a":"é","b":[1,2]}'.encode())
    wide = Limits(10**8, max_string_length=10**8)
    for limit, value, said in [
        (1000, "x" * 1232, "it is 1,234 bytes as JSON, more than the limit of 1,000 bytes"),
        (1024 * 1024, "x" * (3 * 512 * 1024 - 2), "it is 1.50 MiB as JSON, more than the limit of 1 MiB"),
        (1024 * 1024 + 1, "x" * (2 * 1024 * 1024 - 2), "it is 2 MiB as JSON, more than the limit of 1.00 MiB"),
    ]:
        with pytest.raises(InvalidInput, match=re.escape(f"invalid event: {said} (limits.max_event_bytes")):
            Limits(limit, max_string_length=10**8).check_size(value, "event")
        assert wide.check_size(value, "event") == len(value) + 2


def test_limits_parse_refuses_what_the_parser_gives_up_on() -> None:
    from faber_host.safety.limits import Limits

    limits = Limits(max_depth=8)
    assert limits.parse('{"a": [1]}', "event") == {"a": [1]}
    with pytest.raises(InvalidEvent, match=re.escape("invalid --data: nested more than 8 levels deep (limits.max_depth")):
        limits.parse("[" * 100_000 + "]" * 100_000, "--data", InvalidEvent)
    with pytest.raises(InvalidInput, match=re.escape(f"invalid --data: a number has more than {sys.get_int_max_str_digits():,} digits")):
        limits.parse("1" * 5000, "--data")
    with pytest.raises(ValueError, match="Expecting") as malformed:
        limits.parse("{not json", "--data")
    assert not isinstance(malformed.value, InvalidInput), "malformed text is the door's to word"


def test_metadata_is_screened_except_what_the_host_writes() -> None:
    from faber_host.safety.limits import Limits

    secret = "ghp_" + "a" * 36
    document = {"run_id": f"acme/w/{secret}", "created_at": secret, "work_id": secret, "notes": {"x": [secret]}}
    screened, found = InputPolicy.default().screen_metadata(document)
    assert screened == {"run_id": f"acme/w/{secret}", "created_at": secret, "work_id": "[REDACTED:github-token]",
                        "notes": {"x": ["[REDACTED:github-token]"]}}
    assert found.describe("the run") == "redacted 2 secrets (github-token) from the run before storing it"
    with pytest.raises(InvalidInput, match=re.escape("invalid run: ")):
        InputPolicy(limits=Limits(1024)).screen_metadata({"notes": "x" * 2000})
    unscreened = InputPolicy.from_settings({"enabled": False}, None).screen_metadata({"work_id": secret})
    assert unscreened[0] == {"work_id": secret} and unscreened[1].count == 0


def test_findings_describe_counts_and_kinds_in_one_sentence() -> None:
    found = Findings()
    found.add("password-pair")
    assert found.describe("the event") == "redacted 1 secret (password-pair) from the event before storing it"
    found.add("aws-access-key")
    found.add("password-pair")
    assert found.describe("the event") == "redacted 3 secrets (aws-access-key, password-pair) from the event before storing it"


def test_check_size_of_a_value_that_is_not_json_gives_check_shapes_reason() -> None:
    from faber_host.safety.limits import Limits

    with pytest.raises(InvalidInput, match=re.escape("invalid event: a[0]: a set is not a JSON value")):
        Limits().check_size({"a": [{1, 2}]}, "event")

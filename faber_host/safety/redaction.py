"""Secret redaction: a secret in text or JSON becomes ``[REDACTED:<kind>]``, so a reader sees what was
there, never the value. Patterns match tokens by shape (AWS, GitHub...) or by context (``password=``,
``Authorization:``, PEM blocks, URL passwords; only groups named ``secret*`` are replaced); the value of
a secret-named JSON field (``api_key``, ``clientSecret``...) is replaced whatever it looks like.
gateway.json may add patterns. Standard library only; a pattern is compiled only when a string holds
its trigger (see ``BUILTIN_PATTERNS``)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import re
    from collections.abc import Iterable
    from typing import Any

REPLACEMENT = "[REDACTED:{kind}]"
SECRET_FIELD_KIND = "secret-field"
NAME_PATTERN = r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?"

# (name, triggers, pattern, description). Names are stable: gateway.json may disable one by name.
# A pattern runs only on strings that contain one of its triggers (lower-case substrings of the
# lower-cased string): ``in`` tests are a hundred times cheaper than a regex scan, so an ordinary
# string costs a few microseconds and most patterns are never even compiled.
BUILTIN_PATTERNS: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("aws-access-key-id", ("akia", "asia", "abia", "acca"), r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
     "an AWS access key id"),
    (
        "aws-secret-access-key", ("key",),
        r"(?i:\b(?:aws_?)?secret_?(?:access_?)?key)\\?[\"']?\s*[:=]\s*\\?[\"']?"
        r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
        "an AWS secret access key, after its name",
    ),
    ("github-token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
     r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b", "a GitHub token"),
    (
        "gitlab-token", ("gl",),
        r"\b(?:glpat|gloas|gldt|glrt|glptt|glcbt|glft|glimt|glagent|glsoat|glffct)-[A-Za-z0-9_-]{20,}",
        "a GitLab token",
    ),
    ("slack-token", ("xox", "xapp-"), r"\b(?:xox[abposre]|xapp)-[A-Za-z0-9-]{10,}", "a Slack token"),
    (
        "slack-webhook", ("hooks.slack.com",),
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+",
        "a Slack incoming webhook URL",
    ),
    (
        "private-key", ("private key",),
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"[\s\S]*?(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z)",
        "a private key block (PEM, OpenSSH, PGP), even cut short",
    ),
    (
        "authorization-header", ("authorization",),
        r"(?i:\b(?:proxy-)?authorization)\\?[\"']?\s*[:=]\s*\\?[\"']?"
        r"(?:(?i:bearer|basic|token|digest|negotiate)\s+)?(?P<secret>[^\s\"'\\,;]+)",
        "the credentials of an Authorization header",
    ),
    (
        "bearer-token", ("bearer",),
        r"(?i:\bbearer)\s+(?P<secret>(?=[A-Za-z0-9._~+/-]*[0-9])[A-Za-z0-9._~+/-]{16,}=*)",
        "a bearer token",
    ),
    (
        "password-pair", ("pass", "pwd", "secret", "key", "token"),
        # Up to four leading words make environment names count too (OPENAI_API_KEY=, GITHUB_TOKEN:).
        r"(?i:\b(?:[a-z0-9]{1,32}[_.-]){0,4}(?:password|passwd|passphrase|pwd|secret|client_secret|api[_-]?key"
        r"|access[_-]?token|auth[_-]?token|refresh[_-]?token|token|private[_-]?key))\\?[\"']?\s*[:=]\s*"
        r"(?:\\?\"(?P<secret>[^\"\\]+)\\?\"|'(?P<secret2>[^']+)'|(?P<secret3>[^\s\"',;&]+))",
        "the value of a password=, secret: or token= pair",
    ),
    (
        "url-credentials", ("@",),
        r"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@\"']+:(?P<secret>[^\s@/\"']+)@",
        "the password in scheme://user:password@host",
    ),
    ("stripe-key", ("k_live_", "k_test_"), r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}", "a Stripe secret key"),
    ("google-api-key", ("aiza",), r"\bAIza[0-9A-Za-z_-]{35}", "a Google API key"),
    ("npm-token", ("npm_",), r"\bnpm_[A-Za-z0-9]{36}\b", "an npm token"),
    ("pypi-token", ("pypi-",), r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}", "a PyPI token"),
    ("jwt", ("eyj",), r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", "a JSON Web Token"),
    # Model providers: the keys an agent's environment holds.
    ("anthropic-api-key", ("sk-ant-",), r"\bsk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{80,}", "an Anthropic API key"),
    ("openai-api-key", ("sk-",),
     r"\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b)",
     "an OpenAI API key"),
    ("openrouter-api-key", ("sk-or-",), r"\bsk-or-v1-[a-f0-9]{64}\b", "an OpenRouter API key"),
    ("huggingface-token", ("hf_", "api_org_"), r"\b(?:hf|api_org)_[A-Za-z]{34}\b", "a Hugging Face token"),
    ("groq-api-key", ("gsk_",), r"\bgsk_[A-Za-z0-9]{52}\b", "a Groq API key"),
    ("xai-api-key", ("xai-",), r"\bxai-[A-Za-z0-9]{80}\b", "an xAI API key"),
    ("perplexity-api-key", ("pplx-",), r"\bpplx-[A-Za-z0-9]{48}\b", "a Perplexity API key"),
    # Clouds and the services a workflow's steps deploy with.
    ("azure-client-secret", ("q~",),
     r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])",
     "an Azure (Entra ID) client secret"),
    ("azure-storage-key", ("accountkey",), r"(?i:\bAccountKey)=(?P<secret>[A-Za-z0-9+/]{86}==)",
     "the key of an Azure storage connection string"),
    ("google-oauth-secret", ("gocspx-",), r"\bGOCSPX-[A-Za-z0-9_-]{28}\b", "a Google OAuth client secret"),
    ("digitalocean-token", ("dop_v1_", "doo_v1_", "dor_v1_"), r"\bdo[por]_v1_[a-f0-9]{64}\b", "a DigitalOcean token"),
    ("vault-token", ("hvs.", "hvb."), r"\bhv[sb]\.[A-Za-z0-9_-]{90,}", "a HashiCorp Vault token"),
    ("terraform-token", ("atlasv1",), r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}", "a Terraform Cloud token"),
    ("databricks-token", ("dapi",), r"\bdapi[a-f0-9]{32}(?:-\d)?\b", "a Databricks token"),
    ("heroku-api-key", ("hrku-aa",), r"\bHRKU-AA[A-Za-z0-9_-]{58}\b", "a Heroku API key"),
    ("pulumi-token", ("pul-",), r"\bpul-[a-f0-9]{40}\b", "a Pulumi access token"),
    ("doppler-token", ("dp.pt.",), r"\bdp\.pt\.[A-Za-z0-9]{43}", "a Doppler token"),
    ("sentry-token", ("sntryu_", "sntrys_"), r"\b(?:sntryu_[a-f0-9]{64}|sntrys_[A-Za-z0-9+/=_]{60,})",
     "a Sentry token"),
    ("grafana-token", ("glc_", "glsa_"), r"\b(?:glc_[A-Za-z0-9+/]{32,}={0,3}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})",
     "a Grafana token"),
    ("sendgrid-api-key", ("sg.",), r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b", "a SendGrid API key"),
    ("twilio-api-key", ("sk",), r"\bSK[0-9a-fA-F]{32}\b", "a Twilio API key"),
    ("shopify-token", ("shpat_", "shpca_", "shppa_", "shpss_"), r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b",
     "a Shopify token"),
    # Forges, issue trackers and chat.
    ("atlassian-api-token", ("atatt3",), r"\bATATT3[A-Za-z0-9_=-]{180,}", "an Atlassian (Jira, Confluence) API token"),
    ("linear-api-key", ("lin_api_",), r"\blin_api_[A-Za-z0-9]{40}\b", "a Linear API key"),
    ("discord-webhook", ("discord",),
     r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]+", "a Discord webhook URL"),
    ("teams-webhook", ("webhook.office.com",), r"https://[A-Za-z0-9-]+\.webhook\.office\.com/webhookb2/[^\s\"'<>]+",
     "a Microsoft Teams webhook URL"),
    ("telegram-bot-token", (":a",), r"\b\d{5,16}:A[A-Za-z0-9_-]{34}\b", "a Telegram bot token"),
    # Package registries (npm and PyPI above).
    ("rubygems-token", ("rubygems_",), r"\brubygems_[a-f0-9]{48}\b", "a RubyGems API key"),
    ("docker-hub-token", ("dckr_pat_",), r"\bdckr_pat_[A-Za-z0-9_-]{27,}", "a Docker Hub access token"),
    ("artifactory-token", ("akcp",), r"\bAKCp[A-Za-z0-9]{69}\b", "a JFrog Artifactory API key"),
)
BUILTIN_NAMES = frozenset(entry[0] for entry in BUILTIN_PATTERNS)

# The last word(s) of a field name that make its value a secret (after splitting snake_case,
# kebab-case, dotted and camelCase names into lower-case words).
_SECRET_WORDS = frozenset(
    {"password", "passwd", "passphrase", "pwd", "secret", "token", "credential", "credentials",
     "authorization", "cookie", "apikey"}
)
_SECRET_WORD_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key")})


class PatternError(ValueError):
    """A redaction pattern from the configuration that cannot be used; the message says why."""


class SecretPattern:
    """One rule: a name (the kind shown in the replacement), its regular expression, and the
    substrings (lower case) without which it cannot match; compiled on first use."""

    __slots__ = ("_regex", "name", "source", "triggers")

    def __init__(self, name: str, source: str, triggers: tuple[str, ...] = ()) -> None:
        self.name = name
        self.source = source
        self.triggers = triggers
        self._regex: re.Pattern[str] | None = None

    @property
    def regex(self) -> re.Pattern[str]:
        if self._regex is None:
            import re

            self._regex = re.compile(self.source)
        return self._regex

    @classmethod
    def checked(cls, name: str, source: str) -> SecretPattern:
        """A pattern from the configuration, compiled now; PatternError says what is wrong with it."""
        import re

        if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
            raise PatternError(f"pattern name {str(name)[:70]!r} must be lowercase letters, digits and '-'")
        if not isinstance(source, str) or not source:
            raise PatternError(f"pattern {name!r} must be a non-empty string")
        pattern = cls(name, source)
        try:
            regex = pattern.regex
        except (re.error, OverflowError, RecursionError) as problem:
            raise PatternError(f"pattern {name!r} is not a valid regular expression: {problem}") from None
        if regex.fullmatch(""):
            raise PatternError(f"pattern {name!r} matches the empty string")
        return pattern



def builtin_patterns(disabled: Iterable[str] = ()) -> list[SecretPattern]:
    """The built-in patterns, except those named in ``disabled``."""
    off = set(disabled)
    unknown = off - BUILTIN_NAMES
    if unknown:
        raise PatternError(
            f"unknown built-in pattern {sorted(unknown)[0]!r} in redaction.disable; the built-in ones are: "
            + ", ".join(entry[0] for entry in BUILTIN_PATTERNS)
        )
    return [SecretPattern(name, source, triggers) for name, triggers, source, _ in BUILTIN_PATTERNS if name not in off]


def is_secret_field(name: str) -> bool:
    """True when a JSON object key names a secret (``password``, ``api_key``, ``clientSecret``...)."""
    words = _words(name)
    if not words:
        return False
    return words[-1] in _SECRET_WORDS or tuple(words[-2:]) in _SECRET_WORD_PAIRS


def _words(name: str) -> list[str]:
    """The lower-case words of a snake_case, kebab-case, dotted or camelCase name (``XAuthToken`` gives
    ``xauth, token``; ``API_KEY`` gives ``api, key``), without a regular expression."""
    words: list[str] = []
    current = ""
    previous = ""
    for char in name:
        if not char.isalnum():
            if current:
                words.append(current.lower())
            current = ""
        elif char.isupper() and previous.islower() and current:
            words.append(current.lower())
            current = char
        else:
            current += char
        previous = char
    if current:
        words.append(current.lower())
    return words


class Findings:
    """What a redaction found: how many secrets of each kind (the values themselves are never kept)."""

    __slots__ = ("kinds",)

    def __init__(self) -> None:
        self.kinds: dict[str, int] = {}

    def add(self, kind: str) -> None:
        self.kinds[kind] = self.kinds.get(kind, 0) + 1

    @property
    def count(self) -> int:
        return sum(self.kinds.values())

    def __bool__(self) -> bool:
        return bool(self.kinds)

    def describe(self, what: str) -> str:
        """``redacted 2 secrets (github-token, password-pair) from the event before storing it``."""
        kinds = ", ".join(sorted(self.kinds))
        plural = "s" if self.count != 1 else ""
        return f"redacted {self.count} secret{plural} ({kinds}) from {what} before storing it"


_MIN_SECRET_TEXT = 5  # "pwd=x": nothing shorter can hold a secret any pattern recognises


class Redactor:
    """Replaces secrets in strings and JSON values. Build one per configuration and reuse it."""

    def __init__(self, patterns: Iterable[SecretPattern], *, secret_fields: bool = True) -> None:
        self.patterns = list(patterns)
        self.secret_fields = secret_fields
        self._any_trigger: re.Pattern[str] | None = None  # see _may_hold_secret
        self._every_pattern_triggered = all(pattern.triggers for pattern in self.patterns)

    def redact_text(self, text: str, findings: Findings) -> str:
        """``text`` with every secret replaced; what was found is added to ``findings``."""
        if len(text) < _MIN_SECRET_TEXT:
            return text
        lowered = text.lower()
        if self._every_pattern_triggered and not self._may_hold_secret(lowered):
            return text
        for pattern in self.patterns:
            if pattern.triggers and not _contains_any(lowered, pattern.triggers):
                continue
            redacted = pattern.regex.sub(lambda match, p=pattern: _replace(match, p, findings), text)  # type: ignore[misc]
            if redacted != text:
                text, lowered = redacted, redacted.lower()
        return text

    def _may_hold_secret(self, lowered: str) -> bool:
        """Whether ``lowered`` holds any pattern's trigger: one scan for all the triggers together,
        rather than each pattern's triggers in turn for every string."""
        scan = self._any_trigger
        if scan is None:
            import re

            triggers = sorted({trigger for pattern in self.patterns for trigger in pattern.triggers})
            scan = self._any_trigger = re.compile("|".join(re.escape(trigger) for trigger in triggers))
        return scan.search(lowered) is not None

    def redact(self, value: Any, findings: Findings) -> Any:
        """A copy of the JSON value ``value`` with secrets replaced in every string and key, and the
        whole value of every secret-named field replaced. Depth is bounded by the caller (limits)."""
        if isinstance(value, str):
            return self.redact_text(value, findings)
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for key, item in value.items():
                new_key = self.redact_text(key, findings) if isinstance(key, str) else key
                while new_key in out:  # two keys that became equal once redacted stay two keys
                    new_key = f"{new_key}~"
                # The name as given and as stored: a stored name that reads as a secret's must hold a
                # redacted value too, or screening what was stored would change it (a restore checks that).
                if self.secret_fields and isinstance(key, str) and (is_secret_field(key) or is_secret_field(new_key)):
                    out[new_key] = self._redact_field(item, findings)
                else:
                    out[new_key] = self.redact(item, findings)
            return out
        if isinstance(value, (list, tuple)):
            return [self.redact(item, findings) for item in value]
        return value

    def _redact_field(self, value: Any, findings: Findings) -> Any:
        if isinstance(value, bool) or value is None or value == "":
            return value  # ``"token": null`` or ``"password": false`` says nothing secret
        if isinstance(value, (str, int, float)):
            findings.add(SECRET_FIELD_KIND)
            return REPLACEMENT.format(kind=SECRET_FIELD_KIND)
        if isinstance(value, dict):
            return {key: self._redact_field(item, findings) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._redact_field(item, findings) for item in value]
        return value


def _contains_any(text: str, triggers: tuple[str, ...]) -> bool:
    for trigger in triggers:  # a plain loop, not any(): this runs for every pattern of every string
        if trigger in text:
            return True
    return False


def _replace(match: re.Match[str], pattern: SecretPattern, findings: Findings) -> str:
    """The match with its secret groups (or, without any, all of it) replaced."""
    findings.add(pattern.name)
    replacement = REPLACEMENT.format(kind=pattern.name)
    groups = [name for name in match.re.groupindex if name.startswith("secret") and match.start(name) >= 0]
    if not groups:
        return replacement
    text, start = match.group(0), match.start()
    for group_start, group_end in sorted((match.span(name) for name in groups), reverse=True):
        text = text[: group_start - start] + replacement + text[group_end - start :]
    return text

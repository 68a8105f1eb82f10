"""The input policy: the limits, then the redaction, that every event and run's metadata go through.
``from_settings`` validates gateway.json's sections with the checks ``gateway/config.py``'s models call."""

from __future__ import annotations

from faber_hookspecs.errors import ConfigError, InvalidEvent, InvalidInput

from .limits import DEFAULT_MAX_DEPTH, DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_STRING_LENGTH, Limits
from .redaction import Findings, PatternError, Redactor, SecretPattern, builtin_patterns

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

LIMIT_BOUNDS: dict[str, tuple[int, int, int]] = {
    # name: (default, minimum, maximum)
    "max_event_bytes": (DEFAULT_MAX_EVENT_BYTES, 1024, 64 * 1024 * 1024),
    "max_depth": (DEFAULT_MAX_DEPTH, 4, 256),
    "max_string_length": (DEFAULT_MAX_STRING_LENGTH, 256, 64 * 1024 * 1024),
}
"""Every setting of gateway.json's ``limits`` section, with its default and allowed range."""

IDENTIFIER_FIELDS = ("type", "phase", "step", "status")
"""Event fields that name things: a secret in them is refused, not redacted (redacting would change
what the event means)."""

METADATA_IDENTITY_KEYS = frozenset({"run_id", "root_run_id", "created_at", "relationships", "phases"})
"""Metadata written by the host itself, never by a caller: left as it is."""


class InputPolicy:
    """Limits, then redaction (unless disabled), for events and run metadata."""

    __slots__ = ("limits", "redactor")

    def __init__(self, limits: Limits | None = None, redactor: Redactor | None = None) -> None:
        self.limits = limits or Limits()
        self.redactor = redactor

    @classmethod
    def default(cls) -> InputPolicy:
        """The policy of a gateway.json without ``redaction`` or ``limits``: every built-in pattern on."""
        return cls(Limits(), Redactor(builtin_patterns()))

    @classmethod
    def from_settings(
        cls, redaction: Mapping[str, Any] | None, limits: Mapping[str, Any] | None, where: str = "gateway.json"
    ) -> InputPolicy:
        """The policy described by gateway.json's ``redaction`` and ``limits`` objects (None: defaults).
        Raises ConfigError naming the key that is wrong."""
        return cls(_limits(limits, where), _redactor(redaction, where))

    def screen_event(self, fields: Mapping[str, Any]) -> tuple[dict[str, Any], Findings]:
        """An event draft's fields within the limits, secrets redacted; InvalidEvent for a draft too large,
        too deep or not plain JSON, or a secret in an identifier field (type, phase, step, status)."""
        if not isinstance(fields, dict):
            raise InvalidEvent("invalid event: it must be a JSON object of event fields")
        self.limits.check_shape(fields, "event", InvalidEvent)
        findings = Findings()
        if self.redactor is None:
            screened = dict(fields)
        else:
            screened = {}
            for key, value in fields.items():
                if key in IDENTIFIER_FIELDS and isinstance(value, str):
                    found = Findings()
                    if self.redactor.redact_text(value, found) != value:
                        raise InvalidEvent(
                            f"invalid event: {key} looks like it holds a secret ({', '.join(sorted(found.kinds))}); "
                            f"a {key} names something and is stored as it is, so it must not carry credentials"
                        )
                    screened[key] = value
                else:
                    screened[key] = self.redactor.redact(value, findings)
        self.limits.check_size(screened, "event", InvalidEvent)
        return screened, findings

    def screen_metadata(self, document: Mapping[str, Any]) -> tuple[dict[str, Any], Findings]:
        """A run's metadata (metadata.json) checked and redacted, except the fields the host writes."""
        self.limits.check_shape(document, "run", InvalidInput)
        findings = Findings()
        redactor = self.redactor
        screened = {
            key: value if redactor is None or key in METADATA_IDENTITY_KEYS else redactor.redact(value, findings)
            for key, value in document.items()
        }
        self.limits.check_size(screened, "run", InvalidInput)
        return screened, findings


def check_pattern(name: str, pattern: str) -> None:
    """Raise ValueError when a configured redaction pattern is unusable (for the config models)."""
    SecretPattern.checked(name, pattern)


def check_disabled(names: list[str]) -> None:
    """Raise ValueError when ``redaction.disable`` names a pattern that is not built in."""
    builtin_patterns(names)


def _limits(section: Mapping[str, Any] | None, where: str) -> Limits:
    if section is None:
        return Limits()
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: limits: must be an object")
    values = {}
    for key, value in section.items():
        if key not in LIMIT_BOUNDS:
            raise ConfigError(f"{where}: limits.{key}: unknown key (known: {', '.join(LIMIT_BOUNDS)})")
        _, low, high = LIMIT_BOUNDS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{where}: limits.{key}: must be a whole number from {low:,} to {high:,}")
        values[key] = value
    return Limits(**values)


def _redactor(section: Mapping[str, Any] | None, where: str) -> Redactor | None:
    if section is None:
        return Redactor(builtin_patterns())
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: redaction: must be an object")
    unknown = set(section) - {"enabled", "patterns", "disable", "secret_fields", "description"}
    if unknown:
        raise ConfigError(f"{where}: redaction.{sorted(unknown)[0]}: unknown key")
    enabled = section.get("enabled", True)
    secret_fields = section.get("secret_fields", True)
    for key, flag in (("enabled", enabled), ("secret_fields", secret_fields)):
        if not isinstance(flag, bool):
            raise ConfigError(f"{where}: redaction.{key}: must be true or false")
    if not isinstance(section.get("description"), (str, type(None))):
        raise ConfigError(f"{where}: redaction.description: must be text")
    disabled = section.get("disable", [])
    if not isinstance(disabled, list) or not all(isinstance(name, str) for name in disabled):
        raise ConfigError(f"{where}: redaction.disable: must be a list of built-in pattern names")
    configured = section.get("patterns", [])
    if not isinstance(configured, list):
        raise ConfigError(f"{where}: redaction.patterns: must be a list of {{\"name\": ..., \"pattern\": ...}}")
    try:
        patterns = builtin_patterns(disabled)
    except PatternError as problem:
        raise ConfigError(f"{where}: redaction.disable: {problem}") from None
    try:
        for index, entry in enumerate(configured):
            if not isinstance(entry, dict) or set(entry) - {"name", "pattern", "description"}:
                raise PatternError(f"entry {index} must be an object with name, pattern and an optional description")
            if not isinstance(entry.get("description"), (str, type(None))):
                raise PatternError(f"entry {index}: description must be text")
            patterns.append(SecretPattern.checked(entry.get("name"), entry.get("pattern")))  # type: ignore[arg-type]
    except PatternError as problem:
        raise ConfigError(f"{where}: redaction.patterns: {problem}") from None
    if not enabled:  # checked all the same, as GatewayConfig does: a mistake is an error either way
        return None
    return Redactor(patterns, secret_fields=secret_fields)


__all__ = ["LIMIT_BOUNDS", "Findings", "InputPolicy", "check_disabled", "check_pattern"]

"""gateway.json: which backends are enabled, with what configuration.

The shape is the FABER reference template's: ``{"backends": {"<entry point name>": {"enabled": true,
"config": {...}}}, "event_retention": {...}, "mcp_server": {...}, "logging": {...}}``. String values
may use ``${VAR}`` and ``${VAR:-default}``, expanded from the environment before validation. An unknown
key or a wrong type is an error naming the key and the file. Each backend validates its own
``config`` object with its ``config_model`` when it is loaded.

``redaction`` and ``limits`` configure what every event and run goes through before it is stored
(``faber_host.safety``): extra secret patterns, built-in patterns turned off, and size limits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from faber_hookspecs.errors import ConfigError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..project import read_json_object
from ..safety.limits import show_key
from ..safety.policy import LIMIT_BOUNDS, InputPolicy, check_disabled, check_pattern
from ..safety.redaction import NAME_PATTERN as REDACTION_NAME_PATTERN

_STRICT = ConfigDict(extra="forbid")


MCP_HTTP_PORT = 8765
"""The port ``faber mcp --transport http`` listens on by default: no shipped backend URL may use it."""


class BackendSettings(BaseModel):
    """One entry of ``backends``."""

    model_config = _STRICT

    enabled: bool = False
    description: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)


class EventRetention(BaseModel):
    """How long events are kept locally and in the archive (days)."""

    model_config = _STRICT

    local_days: int = Field(30, ge=0)
    archive_days: int = Field(365, ge=0)


class McpServerSettings(BaseModel):
    """Defaults for ``faber mcp``."""

    model_config = _STRICT

    transport: Literal["stdio", "http"] = "stdio"
    name: str = "faber-event-gateway"
    version: str = "1.0.0"


class LoggingSettings(BaseModel):
    """Logging of the host itself."""

    model_config = _STRICT

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "text"] = "json"


# The redaction and limits sections are also checked by faber_host.safety.policy.InputPolicy.from_settings,
# so their types are strict: "yes" is not a boolean, "10" is not a number.
_STRICT_TYPES = ConfigDict(extra="forbid", strict=True)


class SecretPatternSettings(BaseModel):
    """One extra redaction pattern: a name (shown as ``[REDACTED:<name>]``) and a Python regular
    expression. Groups named ``secret``, ``secret2``... limit the replacement to those parts."""

    model_config = _STRICT_TYPES

    name: str = Field(pattern=f"^{REDACTION_NAME_PATTERN}$")
    pattern: str = Field(min_length=1)
    description: str | None = None

    @model_validator(mode="after")
    def _compiles(self) -> SecretPatternSettings:
        check_pattern(self.name, self.pattern)
        return self


class RedactionSettings(BaseModel):
    """Secret redaction before anything is stored, archived or streamed (on unless disabled)."""

    model_config = _STRICT_TYPES

    enabled: bool = True
    description: str | None = None
    patterns: list[SecretPatternSettings] = Field(default_factory=list)
    disable: list[str] = Field(default_factory=list, description="Built-in patterns to turn off, by name.")
    secret_fields: bool = Field(True, description="Redact the value of fields named like password, token, api_key.")

    @field_validator("disable")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        check_disabled(names)
        return names


def _limit(name: str) -> Any:
    default, low, high = LIMIT_BOUNDS[name]
    return Field(default, ge=low, le=high)


class LimitsSettings(BaseModel):
    """The largest event (and run metadata) accepted: encoded size, nesting depth, string length."""

    model_config = _STRICT_TYPES

    max_event_bytes: int = _limit("max_event_bytes")
    max_depth: int = _limit("max_depth")
    max_string_length: int = _limit("max_string_length")


class GatewayConfig(BaseModel):
    """The whole of gateway.json."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str | None = Field(None, alias="$schema")
    version: str = "1.0"
    description: str | None = None
    backends: dict[str, BackendSettings] = Field(
        default_factory=lambda: {"local_files": BackendSettings(enabled=True)}
    )
    event_retention: EventRetention = Field(default_factory=EventRetention)
    mcp_server: McpServerSettings = Field(default_factory=McpServerSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)

    def enabled_backends(self) -> list[str]:
        """Names of the enabled backends, in file order."""
        return [name for name, settings in self.backends.items() if settings.enabled]

    def input_policy(self, where: str = "gateway.json") -> InputPolicy:
        """The limits and redaction these settings describe (see ``faber_host.safety``)."""
        return InputPolicy.from_settings(
            self.redaction.model_dump(exclude_none=True), self.limits.model_dump(), where
        )


def load_gateway_config(path: Path, environ: Mapping[str, str]) -> GatewayConfig:
    """Read, expand and validate gateway.json; a missing file means the defaults (local files only)."""
    if not path.exists():
        return GatewayConfig()
    document = read_json_object(path)
    return parse_gateway_config(document, path, environ)


def parse_gateway_config(document: dict[str, Any], path: Path, environ: Mapping[str, str]) -> GatewayConfig:
    """Validate an already-read gateway.json document. Each backend's ``config`` stays as written
    until that backend loads (``load_backends`` expands it): a variable one backend lacks then fails
    that backend alone, not every command."""
    expanded = expand_variables({key: value for key, value in document.items() if key != "backends"}, environ, path)
    backends = document.get("backends")
    if isinstance(backends, dict):
        expanded["backends"] = {
            name: {
                key: item if key == "config" else expand_variables(item, environ, path, f"backends.{name}.{key}")
                for key, item in entry.items()
            } if isinstance(entry, dict) else entry
            for name, entry in backends.items()
        }
    elif "backends" in document:
        expanded["backends"] = backends
    try:
        return GatewayConfig.model_validate(expanded)
    except ValidationError as problem:
        raise ConfigError(describe_validation_error(problem, path)) from None


def describe_validation_error(problem: ValidationError, path: Path, prefix: str = "") -> str:
    """One line: the first invalid key, what is wrong with it, and the file."""
    error = problem.errors()[0]
    key = ".".join([*([prefix] if prefix else []), *map(show_key, error["loc"])]) or "(top level)"
    message = " ".join(str(error["msg"]).removeprefix("Value error, ").split())
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    more = len(problem.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{path}: {key}: {message}{suffix}"


_VARIABLE_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_variables(value: Any, environ: Mapping[str, str], path: Path, key: str = "") -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of a JSON document."""
    if isinstance(value, dict):
        return {
            name: expand_variables(item, environ, path, f"{key}.{name}" if key else name)
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [expand_variables(item, environ, path, f"{key}[{index}]") for index, item in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match[1], match[2]
        if environ.get(name):
            return environ[name]
        if default is not None:
            return default
        where = ".".join(map(show_key, key.split(".")))
        raise ConfigError(f"{path}: {where}: uses ${{{name}}}, which is not set (or write ${{{name}:-default}})")

    return _VARIABLE_RE.sub(substitute, value)

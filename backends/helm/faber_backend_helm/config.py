"""The ``config`` object of ``backends.event_stream`` in gateway.json."""

from __future__ import annotations

import string
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_OUTBOX_PATH = ".fractary/plugins/faber/outbox/event_stream"
DASHBOARD_FIELDS = frozenset({"run_id", "org", "project", "uuid", "event_id"})


class RetryPolicy(BaseModel):
    """How ``faber backends flush`` retries a batch the service did not take."""

    model_config = ConfigDict(extra="forbid")

    max_retries: int = Field(3, ge=0, le=20, description="Attempts after the first one, per batch.")
    backoff_ms: int = Field(
        500, ge=0, le=600_000,
        description="Wait before the first retry; doubled for each later one. Also how long emits stop "
        "trying the service after it failed (doubled per failure, up to max_backoff_ms).",
    )
    max_backoff_ms: int = Field(300_000, ge=0, le=86_400_000, description="The longest wait.")

    def delay_ms(self, failures: int) -> int:
        """The wait after ``failures`` consecutive failures (1, 2, 3...): exponential, capped."""
        if failures < 1:
            return 0
        return int(min(self.backoff_ms * 2 ** min(failures - 1, 30), self.max_backoff_ms))


class HelmStreamConfig(BaseModel):
    """Where the Helm service is and how events reach it."""

    model_config = ConfigDict(extra="forbid")

    service_url: str = Field(description="The ingest endpoint: events are POSTed there as NDJSON batches.")
    api_key_env: str | None = Field(
        "FABER_HELM_API_KEY",
        description="The environment variable holding the API key, sent as 'Authorization: Bearer <key>'.",
    )
    batch_size: int = Field(100, ge=1, le=10_000, description="At most this many events per POST.")
    retry_policy: RetryPolicy = Field(default_factory=lambda: RetryPolicy())
    emit_timeout_ms: int = Field(
        250, ge=10, le=10_000,
        description="The longest an emit waits for the service; past it, the event goes to the outbox.",
    )
    flush_timeout_ms: int = Field(10_000, ge=100, le=300_000, description="The longest one POST of a flush waits.")
    dashboard_url: str | None = Field(
        None,
        description="Template of the run's page in Helm, with {run_id}, {org}, {project}, {uuid} or {event_id}.",
    )
    outbox_path: str = Field(
        DEFAULT_OUTBOX_PATH, description="The outbox folder, relative to the project root."
    )
    sync_writes: bool = Field(True, description="fsync each outbox write (an emit then survives a power cut).")

    @field_validator("service_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        try:
            parts.port  # noqa: B018 -- raises on a port that is not a number
        except ValueError:
            raise ValueError("has an invalid port") from None
        return value

    @field_validator("dashboard_url")
    @classmethod
    def _known_fields(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as problem:
            raise ValueError(f"is not a valid template: {problem}") from None
        unknown = names - DASHBOARD_FIELDS
        if unknown:
            raise ValueError(
                f"uses unknown field(s) {', '.join(sorted(unknown))}: use {', '.join(sorted(DASHBOARD_FIELDS))}"
            )
        return value

"""The ``config`` object of ``backends.s3_archive`` in gateway.json.

Credentials never go here: boto3 finds them through its standard chain (environment variables,
``profile`` in ~/.aws, SSO, the instance or task role). A credential key in this object is refused.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_CREDENTIAL_KEYS = frozenset(
    {"aws_access_key_id", "aws_secret_access_key", "aws_session_token", "access_key", "secret_key",
     "access_key_id", "secret_access_key", "session_token", "credentials", "password"}
)
MIB = 1024 * 1024


class S3ArchiveConfig(BaseModel):
    """Where and how runs are archived. Keys are ``{prefix}/{org}/{project}/{uuid}/{file}``."""

    model_config = ConfigDict(extra="forbid")

    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", description="The bucket's name.")
    prefix: str = Field("faber/runs/", description="Key prefix; with or without a trailing slash.")
    region: str | None = Field(None, description="AWS region (default: boto3's, e.g. AWS_REGION).")
    endpoint_url: str | None = Field(
        None, pattern=r"^https?://", description="An S3-compatible endpoint: MinIO, Ceph, R2..."
    )
    profile: str | None = Field(None, description="A profile of ~/.aws/config to take credentials from.")
    storage_class: str | None = Field(None, pattern=r"^[A-Z_]+$", description="STANDARD_IA, GLACIER_IR...")
    server_side_encryption: Literal["AES256", "aws:kms"] | None = None
    kms_key_id: str | None = Field(None, description="The KMS key, with server_side_encryption aws:kms.")
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    verify: Literal["checksum", "download"] = Field(
        "checksum",
        description="How an upload is verified: by the checksum the store computed (a download when it "
        "gives none), or always by downloading it again.",
    )
    max_attempts: int = Field(5, ge=1, le=20, description="Attempts per request (boto3 retries).")
    retry_mode: Literal["standard", "adaptive", "legacy"] = "standard"
    connect_timeout: float = Field(10, gt=0)
    read_timeout: float = Field(60, gt=0)
    multipart_threshold_mb: int = Field(64, ge=5, description="Files this large are uploaded in parts.")
    part_size_mb: int = Field(16, ge=5, le=5120)
    max_concurrency: int = Field(4, ge=1, le=64, description="Parts uploaded at once.")
    list_page_size: int = Field(1000, ge=1, le=1000, description="Keys asked for per listing request.")
    consolidate_on_complete: bool = Field(False, description="Consolidate a run when it completes.")
    archive_on_complete: bool = Field(False, description="Archive a run when it completes.")
    cleanup_local_after_archive: bool = Field(
        False, description="With archive_on_complete: remove local event files once the archive is verified."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: Any) -> Any:
        if isinstance(data, dict):
            found = sorted(key for key in data if isinstance(key, str) and key.lower() in _CREDENTIAL_KEYS)
            if found:
                raise ValueError(
                    f"credentials do not belong in gateway.json (found {', '.join(found)}): use the AWS credential "
                    "chain instead (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or `profile`, "
                    "an instance role)"
                )
        return data

    @field_validator("prefix")
    @classmethod
    def _safe_prefix(cls, value: str) -> str:
        parts = [part for part in value.split("/") if part]
        if any(part in (".", "..") for part in parts) or "\\" in value or any(ord(c) < 32 for c in value):
            raise ValueError("must be a plain key prefix such as 'faber/runs/' (no '.', '..' or control characters)")
        return value

    @model_validator(mode="after")
    def _kms_key_with_kms(self) -> S3ArchiveConfig:
        if self.kms_key_id and self.server_side_encryption != "aws:kms":
            raise ValueError("kms_key_id needs server_side_encryption 'aws:kms'")
        return self

    def extra_args(self) -> dict[str, str]:
        """The storage class and encryption arguments of every upload."""
        args = {}
        if self.storage_class:
            args["StorageClass"] = self.storage_class
        if self.server_side_encryption:
            args["ServerSideEncryption"] = self.server_side_encryption
        if self.kms_key_id:
            args["SSEKMSKeyId"] = self.kms_key_id
        return args

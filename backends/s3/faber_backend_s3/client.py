"""The boto3 client, made from the config and the standard credential chain, and the one-line errors
every S3 failure becomes."""

from __future__ import annotations

from typing import Any

from faber_hookspecs.errors import ArchiveError, BackendError, ConfigError, FaberError

from .config import S3ArchiveConfig


def make_client(config: S3ArchiveConfig) -> Any:
    """An S3 client with the config's endpoint, region, profile, addressing style, timeouts and
    retries. boto3 retries each request itself (connection errors, 5xx, throttling) with backoff,
    ``max_attempts`` attempts in all."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.session.Session(profile_name=config.profile, region_name=config.region)
    except ProfileNotFound:
        raise ConfigError(
            f"AWS profile {config.profile!r} (backends.s3_archive.config.profile in gateway.json) is not "
            "configured in ~/.aws/config or ~/.aws/credentials"
        ) from None
    botocore_config = Config(
        # total_max_attempts counts the first request too; botocore's max_attempts would count only retries.
        retries={"mode": config.retry_mode, "total_max_attempts": config.max_attempts},
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        s3={"addressing_style": config.addressing_style},
        max_pool_connections=max(10, config.max_concurrency * 2),
        user_agent_extra="faber-backend-s3",
    )
    return session.client("s3", endpoint_url=config.endpoint_url, config=botocore_config)


def describe(problem: Exception, action: str, config: S3ArchiveConfig) -> FaberError:
    """One clear error for a failed S3 request: what was being done, and what to do about it."""
    from botocore.exceptions import (
        ClientError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ReadTimeoutError,
    )
    from botocore.exceptions import (
        ConnectionError as BotoConnectionError,
    )

    if isinstance(problem, FaberError):
        return problem
    if isinstance(problem, (NoCredentialsError, PartialCredentialsError)):
        return BackendError(
            f"{action}: no usable AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE "
            "(or `profile` in gateway.json), or run where an instance role applies; "
            "credentials never go in gateway.json"
        )
    if isinstance(problem, NoRegionError):
        return ConfigError(f"{action}: no AWS region: set `region` in gateway.json or AWS_REGION")
    if isinstance(problem, ClientError):
        error = problem.response.get("Error", {})
        code = str(error.get("Code") or "")
        meta = problem.response.get("ResponseMetadata", {})
        status = meta.get("HTTPStatusCode")
        attempts = int(meta.get("RetryAttempts") or 0) + 1
        if code == "NoSuchBucket":
            return ArchiveError(
                f"{action}: bucket {config.bucket!r} does not exist (backends.s3_archive.config.bucket)"
            )
        if code in ("AccessDenied", "AllAccessDisabled") or status == 403:
            return ArchiveError(
                f"{action}: access denied ({code or status}); the credentials need s3:PutObject, s3:GetObject and "
                f"s3:ListBucket on bucket {config.bucket!r}"
            )
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"):
            return ArchiveError(f"{action}: the AWS credentials were refused ({code}); check or refresh them")
        message = str(error.get("Message") or "").strip()
        named = "" if code == str(status) else code  # a HEAD answer has no body: its code is its status
        detail = f"{status} {named}".strip() + (f" ({message})" if message else "")
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        return ArchiveError(f"{action}: the S3 endpoint answered {detail}{tries}")
    where = config.endpoint_url or "the S3 endpoint"
    tries = f" after {config.max_attempts} attempts" if config.max_attempts > 1 else ""
    if isinstance(problem, BotoConnectionError):
        return ArchiveError(f"{action}: the connection to {where} failed{tries} ({problem})")
    if isinstance(problem, ReadTimeoutError):
        return ArchiveError(f"{action}: {where} did not answer within {config.read_timeout:g} s{tries}")
    return ArchiveError(f"{action}: {type(problem).__name__}: {problem}")


def as_missing_bucket(problem: Exception) -> Exception:
    """A HEAD answer carries no error code: a 404 to a request about the bucket means it does not
    exist (``describe`` then says so)."""
    from botocore.exceptions import ClientError

    if isinstance(problem, ClientError) and problem.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
        problem.response.setdefault("Error", {})["Code"] = "NoSuchBucket"
    return problem

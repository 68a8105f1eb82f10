"""``faber doctor``'s check of the bucket: one HeadBucket request, with short timeouts and no retries.

HeadBucket is the cheapest request that proves the three things an archive needs before it moves a
byte: the endpoint answers, the credentials are accepted, and the bucket exists and may be listed
(S3 answers it only with s3:ListBucket).
"""

from __future__ import annotations

from faber_hookspecs.reports import HealthCheck

from .client import as_missing_bucket, describe, make_client
from .config import S3ArchiveConfig

CHECK_NAME = "bucket answers"
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 5.0
"""At most: a doctor answers in seconds, and the config's own timeouts may be longer."""


def check_bucket(config: S3ArchiveConfig) -> HealthCheck:
    """Ask the bucket once; ``ok`` when it answers, else ``fail`` with what went wrong and what to do."""
    quick = config.model_copy(update={
        "connect_timeout": min(config.connect_timeout, CONNECT_TIMEOUT_S),
        "read_timeout": min(config.read_timeout, READ_TIMEOUT_S),
        "max_attempts": 1,
    })
    where = f"s3://{config.bucket}" + (f" at {config.endpoint_url}" if config.endpoint_url else "")
    try:
        answer = make_client(quick).head_bucket(Bucket=config.bucket)
    except Exception as problem:  # every failure is a verdict here, never an exception
        failure = describe(as_missing_bucket(problem), f"HeadBucket {where}", quick)
        return HealthCheck(name=CHECK_NAME, verdict="fail", detail=str(failure))
    region = answer.get("BucketRegion") or answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(
        "x-amz-bucket-region"
    )
    in_region = f" in region {region}" if region else ""
    return HealthCheck(name=CHECK_NAME, verdict="ok", detail=f"{where}{in_region}: credentials accepted")

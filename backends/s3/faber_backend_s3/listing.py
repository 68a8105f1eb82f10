"""Listing the runs a bucket holds, page by page, with no filter, an org, a project, or both.

A run is listed once its manifest is there (the manifest is uploaded last). S3 lists keys in order, so
a run's objects come together and are summed as the pages stream by; nothing but the current run is
held in memory. With a project but no org, the orgs are listed first (one request, by delimiter) and
then each org's project, instead of every key of the bucket.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from faber_hookspecs.archive import MANIFEST_FILE, ArchivedRun, ArchiveQuery
from faber_hookspecs.run_id import validate_slug

from .client import describe
from .config import S3ArchiveConfig
from .keys import KeyLayout


def list_runs(
    client: Any, config: S3ArchiveConfig, layout: KeyLayout, query: ArchiveQuery, backend: str
) -> list[ArchivedRun]:
    if query.org:
        validate_slug(query.org, "org")
    if query.project:
        validate_slug(query.project, "project")
    try:
        if query.project and not query.org:
            runs: list[ArchivedRun] = []
            for org in _orgs(client, config, layout):
                runs.extend(_runs_under(client, config, layout, layout.listing_prefix(org, query.project), backend))
            return runs
        return list(_runs_under(client, config, layout, layout.listing_prefix(query.org, query.project), backend))
    except Exception as problem:
        raise describe(problem, f"listing s3://{config.bucket}/{layout.listing_prefix(query.org)}", config) from None


def pages(client: Any, config: S3ArchiveConfig, **arguments: Any) -> Iterator[dict[str, Any]]:
    paginator = client.get_paginator("list_objects_v2")
    size = {"PageSize": config.list_page_size}
    yield from paginator.paginate(Bucket=config.bucket, PaginationConfig=size, **arguments)


def _orgs(client: Any, config: S3ArchiveConfig, layout: KeyLayout) -> Iterator[str]:
    base = layout.listing_prefix()
    for page in pages(client, config, Prefix=base, Delimiter="/"):
        for common in page.get("CommonPrefixes") or []:
            org = common["Prefix"][len(base) :].rstrip("/")
            if org and "/" not in org and not org.startswith("_"):  # _index: see ``index``
                yield org


def _runs_under(
    client: Any, config: S3ArchiveConfig, layout: KeyLayout, prefix: str, backend: str
) -> Iterator[ArchivedRun]:
    current: dict[str, Any] | None = None
    for page in pages(client, config, Prefix=prefix):
        for item in page.get("Contents") or []:
            found = layout.run_of(item["Key"])
            if found is None:
                continue
            run_id, name = found
            if current is None or current["run_id"] != str(run_id):
                if current is not None and current["archived_at"] is not None:
                    yield ArchivedRun(**current)
                current = {"run_id": str(run_id), "backend": backend, "url": layout.url(run_id),
                           "archived_at": None, "size": 0, "objects": 0}
            current["size"] += int(item.get("Size") or 0)
            current["objects"] += 1
            if name == MANIFEST_FILE:
                current["archived_at"] = utc_text(item["LastModified"])
    if current is not None and current["archived_at"] is not None:
        yield ArchivedRun(**current)


def utc_text(moment: dt.datetime) -> str:
    """A datetime from S3 as a FABER timestamp (UTC, milliseconds)."""
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

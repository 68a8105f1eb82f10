"""The archive's uuid index: a short run name answered by one listing request, not a walk of the bucket.

Bundles live at ``{prefix}/{org}/{project}/{uuid}/``, so a uuid prefix alone (``faber runs show
3f2a9c1e``) names no key prefix: finding it would mean listing every run. Next to the bundles, each
archived run therefore has one empty object, written after its manifest::

    {prefix}/_index/{uuid}/{org}/{project}

S3 lists keys in order under any prefix, so the runs whose uuid starts with ``3f2a9c1e`` are exactly
the keys under ``{prefix}/_index/3f2a9c1e``: one ListObjectsV2 request, a page of a few keys, whatever
the size of the bucket. The key alone holds the run id (no object is read), and ``_index`` can never be
an org (slugs start with a letter or digit), so the run listing skips it. An entry is written only
once the bundle's manifest is verified, and writing it again is harmless, so ``faber archive`` run
again completes it. Runs archived before the index existed are still found by their full id.
"""

from __future__ import annotations

from typing import Any

from faber_hookspecs.archive import ArchivedRun
from faber_hookspecs.errors import InvalidRunId
from faber_hookspecs.run_id import RunId

from .client import describe
from .config import S3ArchiveConfig
from .keys import KeyLayout
from .listing import pages, utc_text

INDEX_FOLDER = "_index"


def index_key(layout: KeyLayout, run_id: RunId) -> str:
    return "/".join(part for part in (layout.base, INDEX_FOLDER, run_id.uuid, run_id.org, run_id.project) if part)


def write_entry(client: Any, config: S3ArchiveConfig, layout: KeyLayout, run_id: RunId) -> None:
    """Record ``run_id`` in the index (after its manifest is verified)."""
    key = index_key(layout, run_id)
    try:
        client.put_object(Bucket=config.bucket, Key=key, Body=b"", **config.extra_args())  # its encryption too
    except Exception as problem:
        raise describe(problem, f"indexing run {run_id} at s3://{config.bucket}/{key}", config) from None


def find(
    client: Any, config: S3ArchiveConfig, layout: KeyLayout, uuid_prefix: str, backend: str
) -> list[ArchivedRun]:
    """The indexed runs whose uuid starts with ``uuid_prefix``, from the listing of that key prefix alone."""
    base = "/".join(part for part in (layout.base, INDEX_FOLDER) if part) + "/"
    runs = []
    try:
        for page in pages(client, config, Prefix=base + uuid_prefix.lower()):
            for item in page.get("Contents") or []:
                uuid, _, rest = item["Key"][len(base):].partition("/")
                try:
                    run_id = RunId.parse(f"{rest}/{uuid}")
                except InvalidRunId:
                    continue  # not an entry this host wrote
                runs.append(ArchivedRun(run_id=str(run_id), backend=backend, url=layout.url(run_id),
                                        archived_at=utc_text(item["LastModified"])))
    except Exception as problem:
        raise describe(problem, f"searching the index s3://{config.bucket}/{base}", config) from None
    return runs

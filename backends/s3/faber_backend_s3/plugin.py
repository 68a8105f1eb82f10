"""The ``s3_archive`` backend: archive runs to S3 or any S3-compatible store, list and restore them.

Enabled in gateway.json (credentials come from boto3's standard chain, never from this file)::

    "s3_archive": {"enabled": true, "config": {"bucket": "acme-faber-runs", "prefix": "faber/runs/",
                   "region": "eu-west-1", "server_side_encryption": "aws:kms", "kms_key_id": "alias/faber",
                   "archive_on_complete": true, "cleanup_local_after_archive": true}}

A run's bundle lands at ``{prefix}/{org}/{project}/{uuid}/`` as events.jsonl, state.json,
metadata.json and, last, manifest.json.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faber_hookspecs.errors import IntegrityError
from faber_hookspecs.markers import hookimpl
from faber_hookspecs.records import BackendContext
from faber_hookspecs.run_id import RunId
from faber_hookspecs.wire import utc_timestamp

from .config import S3ArchiveConfig
from .keys import KeyLayout, parse_s3_url

if TYPE_CHECKING:  # the archive, run and report models are imported where used: an emit builds none of them
    from faber_hookspecs.archive import (
        ArchiveBundle,
        ArchivedRun,
        ArchivePolicy,
        ArchiveQuery,
        ArchiveReceipt,
        ProgressCallback,
        RunRef,
    )
    from faber_hookspecs.reports import HealthCheck
    from faber_hookspecs.runs import RunRecord

BACKEND_NAME = "s3_archive"


class S3ArchiveBackend:
    """Archive, list and restore runs in one bucket. The boto3 client is made on first use."""

    config_model = S3ArchiveConfig

    def __init__(self, config: S3ArchiveConfig, context: BackendContext) -> None:
        self.config = config
        self.layout = KeyLayout(config.bucket, config.prefix)
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from .client import make_client

            self._client = make_client(self.config)
        return self._client

    def _transfer(self) -> Any:
        from .transfer import BucketTransfer

        return BucketTransfer(self.client, self.config)

    @hookimpl
    def faber_archive_run(self, run: RunRecord, bundle: ArchiveBundle, progress: ProgressCallback) -> ArchiveReceipt:
        """Upload the bundle, manifest last, each object verified; raise on the first failure."""
        from faber_hookspecs.archive import ArchiveReceipt

        run_id = RunId.parse(bundle.run_id)
        transfer = self._transfer()
        objects = [
            transfer.upload(self.layout.key(run_id, entry.name), bundle.path(entry.name), entry, progress)
            for entry in bundle.files()
        ]
        if all(item.verified for item in objects):  # indexed once the bundle is whole (see ``index``)
            from .index import write_entry

            write_entry(self.client, self.config, self.layout, run_id)
        return ArchiveReceipt(
            backend=BACKEND_NAME,
            run_id=bundle.run_id,
            url=self.layout.url(run_id),
            manifest_sha256=bundle.manifest_sha256,
            verified=all(item.verified for item in objects),
            objects=objects,
            archived_at=utc_timestamp(),
        )

    @hookimpl
    def faber_restore_run(self, run_ref: RunRef, destination: Path, progress: ProgressCallback) -> ArchiveBundle | None:
        """Download the run's bundle and check every file against its manifest; None if it is not here."""
        from faber_hookspecs.archive import DATA_FILES, MANIFEST_FILE, ArchiveBundle, ArchiveManifest

        from .listing import utc_text

        run_id = RunId.parse(run_ref.run_id)
        prefix = self.layout.run_prefix(run_id)
        if run_ref.url is not None:
            place = parse_s3_url(run_ref.url)
            if place is None or place[0] != self.config.bucket:
                return None  # archived somewhere else
            if place[1].endswith(f"{run_id.org}/{run_id.project}/{run_id.uuid}/"):
                prefix = place[1]  # where it was archived, even if the prefix changed since
        transfer = self._transfer()
        head = transfer.head(prefix + MANIFEST_FILE)
        if head is None:
            return None
        url = f"s3://{self.config.bucket}/{prefix}"
        manifest_path = destination / MANIFEST_FILE
        transfer.download(prefix + MANIFEST_FILE, manifest_path, int(head["ContentLength"]), MANIFEST_FILE, progress)
        data = manifest_path.read_bytes()
        try:
            manifest = ArchiveManifest.model_validate_json(data)
        except ValueError:
            raise IntegrityError(f"{url}{MANIFEST_FILE} is not a valid archive manifest; refused") from None
        if manifest.run_id != str(run_id):
            raise IntegrityError(f"{url}{MANIFEST_FILE} describes run {manifest.run_id}, not {run_id}; refused")
        for name in DATA_FILES:
            entry = manifest.file(name)
            target = destination / name
            transfer.download(prefix + name, target, entry.size, name, progress)
            with open(target, "rb") as handle:
                sha = hashlib.file_digest(handle, "sha256").hexdigest()
            size = target.stat().st_size
            if size != entry.size or sha != entry.sha256:
                raise IntegrityError(
                    f"{url}{name} does not match its manifest ({size} bytes, sha256 {sha[:12]}...; expected "
                    f"{entry.size} bytes, {entry.sha256[:12]}...): it was damaged or tampered with; refused"
                )
        modified = head.get("LastModified")
        return ArchiveBundle(
            run_id=str(run_id),
            directory=destination,
            manifest=manifest,
            manifest_sha256=hashlib.sha256(data).hexdigest(),
            manifest_size=len(data),
            source_backend=BACKEND_NAME,
            source_url=url,
            archived_at=utc_text(modified) if isinstance(modified, dt.datetime) else None,
        )

    @hookimpl
    def faber_list_archived_runs(self, query: ArchiveQuery) -> list[ArchivedRun]:
        if query.uuid_prefix:
            from .index import find

            return find(self.client, self.config, self.layout, query.uuid_prefix, BACKEND_NAME)
        from .listing import list_runs

        return list_runs(self.client, self.config, self.layout, query, BACKEND_NAME)

    @hookimpl
    def faber_check_health(self) -> list[HealthCheck]:
        """Does the bucket answer, with these credentials? One quick HeadBucket (see ``health``)."""
        from .health import check_bucket

        return [check_bucket(self.config)]

    @hookimpl
    def faber_archive_policy(self) -> ArchivePolicy:
        from faber_hookspecs.archive import ArchivePolicy

        return ArchivePolicy(
            backend=BACKEND_NAME,
            consolidate_on_complete=self.config.consolidate_on_complete,
            archive_on_complete=self.config.archive_on_complete,
            cleanup_local_after_archive=self.config.cleanup_local_after_archive,
        )

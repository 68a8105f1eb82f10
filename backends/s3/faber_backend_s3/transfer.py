"""Moving a bundle's files to and from the bucket, and proving the bucket holds exactly them.

Every upload carries its SHA-256 (``x-amz-checksum-sha256``, checked by the store on receipt) and the
file's sha256 as metadata. Afterwards the object is checked again: its size, and the SHA-256 checksum
the store reports (for a multipart upload, the checksum of the parts' checksums, computed here from
the same parts); a store that reports none, or ``verify: download``, gets the object read back and
hashed. An identical object already there (an earlier, interrupted archive) is verified and kept.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

from faber_hookspecs.archive import ArchivedObject, BundleFile, ProgressCallback
from faber_hookspecs.errors import ArchiveError, IntegrityError

from .client import as_missing_bucket, describe
from .config import MIB, S3ArchiveConfig

MAX_PARTS = 10_000
_CONTENT_TYPES = {".json": "application/json", ".jsonl": "application/x-ndjson"}


class BucketTransfer:
    def __init__(self, client: Any, config: S3ArchiveConfig) -> None:
        self.client = client
        self.config = config
        self.bucket = config.bucket

    def upload(self, key: str, path: Path, entry: BundleFile, progress: ProgressCallback) -> ArchivedObject:
        """Put one file at ``key`` unless an identical, verified object is there; verify it; return it."""
        action = f"uploading {entry.name} to s3://{self.bucket}/{key}"
        # One descriptor for the check and the upload: a new consolidation may swap the bundle folder.
        with open(path, "rb") as handle:
            checksum = self._local_checksum(handle, entry)
            if self._already_there(key, entry, checksum):
                progress(entry.name, entry.size, entry.size)
                return _archived(key, entry, uploaded=False)
            try:
                if entry.size < self.config.multipart_threshold_mb * MIB:
                    self._put(handle, key, entry, progress)
                else:
                    self._put_in_parts(handle, key, entry, progress)
            except Exception as problem:
                raise describe(problem, action, self.config) from None
        self.verify(key, entry, checksum)
        return _archived(key, entry, uploaded=True)

    def part_size(self, size: int) -> int:
        """The part size of a multipart upload of ``size`` bytes (S3 allows at most 10,000 parts)."""
        part = self.config.part_size_mb * MIB
        if size > part * MAX_PARTS:
            smallest = -(-size // MAX_PARTS)
            part = -(-smallest // MIB) * MIB
        return part

    def _local_checksum(self, handle: BinaryIO, entry: BundleFile) -> str:
        """Check the file is the one the manifest describes; return the SHA-256 checksum S3 will report
        for it: of the whole object, or ``<checksum of the parts' checksums>-<parts>``."""
        multipart = entry.size >= self.config.multipart_threshold_mb * MIB
        block = self.part_size(entry.size) if multipart else 8 * MIB
        whole = hashlib.sha256()
        parts = []
        size = 0
        while data := handle.read(block):
            whole.update(data)
            size += len(data)
            if multipart:
                parts.append(hashlib.sha256(data).digest())
        handle.seek(0)
        if size != entry.size or whole.hexdigest() != entry.sha256:
            raise ArchiveError(
                f"the local {entry.name} is not the one its manifest describes (it changed after consolidation); "
                "archive again"
            )
        if not multipart:
            return _b64(whole.digest())
        return f"{_b64(hashlib.sha256(b''.join(parts)).digest())}-{len(parts)}"

    def _already_there(self, key: str, entry: BundleFile, checksum: str) -> bool:
        head = self._head(key, f"checking s3://{self.bucket}/{key}")
        if head is None or head.get("ContentLength") != entry.size:
            return False
        if (head.get("Metadata") or {}).get("sha256") != entry.sha256:
            return False
        try:
            self.verify(key, entry, checksum)
        except IntegrityError:
            return False
        return True

    def _put(self, handle: BinaryIO, key: str, entry: BundleFile, progress: ProgressCallback) -> None:
        data = handle.read()
        progress(entry.name, 0, entry.size)
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_b64(hashlib.sha256(data).digest()),
            **self._object_args(entry),
        )
        progress(entry.name, entry.size, entry.size)

    def _put_in_parts(self, handle: BinaryIO, key: str, entry: BundleFile, progress: ProgressCallback) -> None:
        part_size = self.part_size(entry.size)
        count = -(-entry.size // part_size)
        upload = self.client.create_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            ChecksumAlgorithm="SHA256",
            ChecksumType="COMPOSITE",
            **self._object_args(entry),
        )
        upload_id = upload["UploadId"]
        fd = handle.fileno()
        sent = 0
        lock = threading.Lock()
        progress(entry.name, 0, entry.size)

        def send(number: int) -> dict[str, Any]:
            nonlocal sent
            data = os.pread(fd, part_size, (number - 1) * part_size)
            checksum = _b64(hashlib.sha256(data).digest())
            answer = self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data,
                ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum,
            )
            with lock:
                sent += len(data)
                progress(entry.name, sent, entry.size)
            return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": checksum}

        try:
            with ThreadPoolExecutor(max_workers=self.config.max_concurrency, thread_name_prefix="faber-s3") as pool:
                parts = list(pool.map(send, range(1, count + 1)))
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            try:  # leave no stray parts behind (they are billed); the next run uploads afresh
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except Exception:  # the original failure is what matters
                pass
            raise

    def _object_args(self, entry: BundleFile) -> dict[str, Any]:
        return {
            "Metadata": {"sha256": entry.sha256},
            "ContentType": _CONTENT_TYPES.get(Path(entry.name).suffix, "application/octet-stream"),
            **self.config.extra_args(),
        }

    def verify(self, key: str, entry: BundleFile, checksum: str) -> None:
        """Raise IntegrityError unless the object at ``key`` has the file's size and checksum."""
        where = f"s3://{self.bucket}/{key}"
        head = self._head(key, f"verifying {where}")
        if head is None:
            raise IntegrityError(f"{where} is missing after its upload")
        if head.get("ContentLength") != entry.size:
            raise IntegrityError(f"{where} holds {head.get('ContentLength')} bytes, not the {entry.size} uploaded")
        reported = head.get("ChecksumSHA256")
        if self.config.verify == "download" or not reported:
            sha = self.read_back_sha256(key)
            if sha != entry.sha256:
                raise IntegrityError(
                    f"{where} read back does not match the uploaded {entry.name} (sha256 {sha[:12]}...)"
                )
        elif not _same_checksum(reported, checksum):
            raise IntegrityError(f"{where} reports checksum {reported}, not the {checksum} of {entry.name}")

    def read_back_sha256(self, key: str) -> str:
        """The sha256 of the object at ``key``, read back. A body cut short is read again from the start
        (boto3 retries the request itself, not the reading of its body)."""
        from botocore.exceptions import BotoCoreError
        from urllib3.exceptions import HTTPError

        action = f"reading back s3://{self.bucket}/{key}"
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            except Exception as problem:
                raise describe(problem, action, self.config) from None
            digest = hashlib.sha256()
            try:
                for chunk in body.iter_chunks(1 << 20):
                    digest.update(chunk)
            except (BotoCoreError, HTTPError, OSError) as problem:
                if attempt == self.config.max_attempts:
                    raise describe(problem, action, self.config) from None
                continue
            finally:
                body.close()
            return digest.hexdigest()
        raise AssertionError("unreachable")

    def head(self, key: str) -> dict[str, Any] | None:
        """The object's headers, or None when there is no such object (an error if there is no bucket)."""
        head = self._head(key, f"reading s3://{self.bucket}/{key}")
        if head is None:
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except Exception as problem:
                raise describe(as_missing_bucket(problem), f"reading s3://{self.bucket}/{key}", self.config) from None
        return head

    def download(self, key: str, target: Path, size: int, name: str, progress: ProgressCallback) -> None:
        """Fetch the object at ``key`` to the file ``target`` (ranged and retried by s3transfer)."""
        done = 0
        lock = threading.Lock()

        def advance(count: int) -> None:
            nonlocal done
            with lock:
                done += count
                progress(name, done, size)

        progress(name, 0, size)
        try:
            self.client.download_file(self.bucket, key, str(target), Callback=advance, Config=self._transfer_config())
        except Exception as problem:
            raise describe(problem, f"downloading s3://{self.bucket}/{key}", self.config) from None

    def _head(self, key: str, action: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")  # type: ignore[no-any-return]
        except ClientError as problem:
            status = problem.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404 or problem.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise describe(problem, action, self.config) from None
        except Exception as problem:
            raise describe(problem, action, self.config) from None

    def _transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=self.config.multipart_threshold_mb * MIB,
            multipart_chunksize=self.config.part_size_mb * MIB,
            max_concurrency=self.config.max_concurrency,
            num_download_attempts=self.config.max_attempts,
            use_threads=self.config.max_concurrency > 1,
        )


def _archived(key: str, entry: BundleFile, *, uploaded: bool) -> ArchivedObject:
    return ArchivedObject(
        name=entry.name, key=key, size=entry.size, sha256=entry.sha256, verified=True, uploaded=uploaded
    )


def _same_checksum(reported: str, expected: str) -> bool:
    """Compare a reported checksum with ours; some stores give a multipart object's checksum of
    checksums without the ``-<parts>`` suffix (which, when given, must match)."""
    value, _, parts = reported.partition("-")
    expected_value, _, expected_parts = expected.partition("-")
    return value == expected_value and (not parts or parts == expected_parts)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")

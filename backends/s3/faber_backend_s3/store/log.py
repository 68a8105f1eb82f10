"""A run's objects in the bucket, and the append that many writers on many machines share.

Under ``{prefix}/{org}/{project}/{uuid}/``: ``metadata.json`` (created first: the run exists once it
is there), ``state.json`` (a checkpoint of the reducer's state, replaced by compare-and-swap on its
ETag; a hint, never the truth) and ``events/{id:012d}.json``, one object per event, its bytes those
of a local event file. An id belongs to the writer whose ``PUT`` with ``If-None-Match: *`` created
its object: there is no reservation and no lock, so a writer killed at any point leaves either a
whole event or nothing, and never a gap. Each write carries a random idempotency key in the
object's metadata (``x-amz-meta-faber-write``): a write whose answer was lost is recognised as ours
(or someone else's) by reading that key back, so it is never stored twice.

The next id: the state checkpoint's ``last_event_id`` + 1, or in a process that wrote the run
before, its own last state. A lone writer's create succeeds at once; a writer that lost a race lists
the events after its state (``StartAfter``: a short listing, never the whole run), folds them in,
checks the lifecycle again and tries the next id.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import get_ident
from typing import Any

from faber_hookspecs.errors import InvalidEvent, RunFinished, RunNotFound, StorageError
from faber_hookspecs.reducer import REDUCER_VERSION, apply_event, initial_state_for, refusal
from faber_hookspecs.run_id import RunId, is_slug, is_uuid4
from faber_hookspecs.validation import validate_event
from faber_hookspecs.wire import DRAFT_FIELDS, canonical_event, dump_document, dump_event, loads, utc_timestamp

from ..client import describe
from ..config import S3ArchiveConfig
from ..keys import KeyLayout

Json = dict[str, Any]
WRITE_KEY = "faber-write"
"""The object metadata that names the write that created an event (its idempotency key)."""
EVENT_DIGITS = 12
CHECKPOINT_EVERY = 4
"""Events between two checkpoints of a writer that keeps its state (see ``append``)."""
CLAIM_ATTEMPTS = 8
"""Rounds of asking the bucket whether an unanswered create landed, beyond boto3's own retries."""
_CONFLICT = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})


class BucketLog:
    """Runs, events and state in one bucket under one prefix; every call is a few S3 requests."""

    def __init__(self, client: Any, config: S3ArchiveConfig) -> None:
        self.client = client
        self.config = config
        self.bucket = config.bucket
        self.layout = KeyLayout(config.bucket, config.prefix)
        # Per thread and run: the state after this process's last event and the checkpoint's ETag
        # as this process left it. A stale one costs a refused create, never a wrong id.
        self._states: dict[tuple[int, str], tuple[Json, str | None, int]] = {}  # + the id last checkpointed

    def key(self, run_id: RunId, name: str) -> str:
        return self.layout.key(run_id, name)

    def event_key(self, run_id: RunId, event_id: int) -> str:
        return self.layout.key(run_id, f"events/{event_id:0{EVENT_DIGITS}d}.json")

    def failure(self, problem: Exception, action: str) -> StorageError:
        return StorageError(str(describe(problem, action, self.config)))

    def get(self, key: str) -> tuple[bytes, str] | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
            return answer["Body"].read(), answer["ETag"]
        except Exception as problem:
            if _code(problem) in ("NoSuchKey", "404"):
                return None
            raise self.failure(problem, f"reading s3://{self.bucket}/{key}") from None

    def get_json(self, key: str) -> tuple[Json | None, str | None]:
        """The object as a JSON object (None when missing or not an object) and its ETag."""
        found = self.get(key)
        return (None, None) if found is None else (json_object(found[0]), found[1])

    def put(self, key: str, body: bytes, **condition: str) -> str | None:
        """Write ``body`` at ``key`` under ``condition`` (IfNoneMatch or IfMatch); its new ETag, or None
        when the condition failed."""
        try:
            return str(self.client.put_object(Bucket=self.bucket, Key=key, Body=body,
                                              ContentType="application/json", **condition)["ETag"])
        except Exception as problem:
            if _code(problem) in _CONFLICT or (condition.get("IfMatch") and _code(problem) == "NoSuchKey"):
                return None
            raise self.failure(problem, f"writing s3://{self.bucket}/{key}") from None

    def keys(self, prefix: str, start_after: str = "") -> Iterator[str]:
        """The keys under ``prefix`` after ``start_after``, in order, page by page."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, StartAfter=start_after,
            PaginationConfig={"PageSize": self.config.list_page_size})
        try:
            for page in pages:
                for item in page.get("Contents", ()):
                    yield item["Key"]
        except Exception as problem:
            raise self.failure(problem, f"listing s3://{self.bucket}/{prefix}") from None

    def folders(self, prefix: str) -> list[str]:
        """The names one level below ``prefix`` (by delimiter: no key below them is listed)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/")
        try:
            return [common["Prefix"][len(prefix):-1] for page in pages for common in page.get("CommonPrefixes", ())]
        except Exception as problem:
            raise self.failure(problem, f"listing s3://{self.bucket}/{prefix}") from None

    def create_run(self, metadata: Json) -> None:
        """metadata.json created only if absent (the run's claim), then its empty state."""
        run_id = RunId.parse(metadata["run_id"])
        if self.put(self.key(run_id, "metadata.json"), dump_document(metadata), IfNoneMatch="*") is None:
            raise StorageError(f"run {run_id} already exists in s3://{self.bucket}/{self.layout.run_prefix(run_id)}")
        self.put(self.key(run_id, "state.json"), dump_document(initial_state_for(metadata)), IfNoneMatch="*")

    def metadata(self, run_id: RunId) -> tuple[Json, str]:
        """metadata.json and its ETag; RunNotFound when the run is not in the bucket."""
        metadata, etag = self.get_json(self.key(run_id, "metadata.json"))
        if etag is None:
            raise RunNotFound(f"no run {run_id} in s3://{self.bucket}/{self.layout.base}")
        if metadata is None:
            raise StorageError(f"metadata.json of run {run_id} is not valid JSON; see `faber runs verify`")
        return metadata, etag

    def update_metadata(self, run_id: RunId, update: Any) -> Json:
        """metadata.json replaced by ``update(current)``, by compare-and-swap (again if it changed)."""
        while True:
            current, etag = self.metadata(run_id)
            updated: Json = update(current)
            if self.put(self.key(run_id, "metadata.json"), dump_document(updated), IfMatch=etag) is not None:
                return updated

    def event_keys(self, run_id: RunId, since_id: int = 0) -> Iterator[tuple[int, str]]:
        """(id, key) of the run's event objects after ``since_id``, in id order."""
        prefix = self.key(run_id, "events/")
        start = self.event_key(run_id, since_id) if since_id > 0 else ""
        for key in self.keys(prefix, start):
            name = key[len(prefix):]
            if len(name) == EVENT_DIGITS + 5 and name.endswith(".json") and name[:EVENT_DIGITS].isdigit():
                yield int(name[:EVENT_DIGITS]), key

    def raw_events(self, run_id: RunId, since_id: int = 0) -> Iterator[tuple[int, bytes | None]]:
        """(id, bytes) of each event object after ``since_id``, read a page at a time in parallel."""
        listed = self.event_keys(run_id, since_id)
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="faber-s3-read") as pool:
            while page := list(itertools.islice(listed, 64)):
                for (event_id, _), answer in zip(page, pool.map(lambda item: self.get(item[1]), page), strict=True):
                    yield event_id, None if answer is None else answer[0]

    def events(self, run_id: RunId, since_id: int = 0) -> Iterator[Json]:
        """The run's events after ``since_id``, parsed; a damaged one is a StorageError naming it."""
        for event_id, data in self.raw_events(run_id, since_id):
            event = json_object(data)
            if event is None or event.get("event_id") != event_id:
                raise StorageError(f"event {event_id} of run {run_id} is missing or damaged; see `faber runs verify`")
            yield event

    def state(self, run_id: RunId, *, exact: bool = True) -> tuple[Json, str | None]:
        """The run's state through its last event, and the ETag of the checkpoint it started from:
        state.json brought forward by the events after it (from nothing when it is unusable). Not
        ``exact``: the checkpoint alone, for a writer, whose create at the next id proves it current."""
        checkpoint, etag = self.get_json(self.key(run_id, "state.json"))
        if checkpoint is None or checkpoint.get("run_id") != str(run_id) or not isinstance(
                checkpoint.get("last_event_id"), int) or checkpoint.get("reducer_version") != REDUCER_VERSION:
            checkpoint = initial_state_for(self.metadata(run_id)[0])
        return (self.caught_up(run_id, checkpoint) if exact else checkpoint), etag

    def caught_up(self, run_id: RunId, state: Json) -> Json:
        """``state`` with the events after its ``last_event_id`` applied (in place)."""
        for event in self.events(run_id, state["last_event_id"]):
            apply_event(state, event)
        return state

    def checkpoint(self, run_id: RunId, state: Json, etag: str | None) -> str | None:
        """Replace state.json with ``state`` unless it holds a later one; its new ETag, or None when
        another writer's is as new. Failing here loses nothing: the state is rebuilt from events."""
        key = self.key(run_id, "state.json")
        for _ in range(3):
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            written = self.put(key, dump_document(state), **condition)
            if written is not None:
                return written
            current, etag = self.get_json(key)
            if current is not None and isinstance(current.get("last_event_id"), int) and (
                    current["last_event_id"] >= state["last_event_id"]):
                return None
        return None

    def append(self, run_id: RunId, draft: Json) -> tuple[Json, Json]:
        """Store one event at the next free id and return it with the run's state after it."""
        unknown = draft.keys() - DRAFT_FIELDS
        if unknown:
            raise InvalidEvent(f"invalid event: unknown field(s) {', '.join(sorted(unknown))}")
        cache_key = (get_ident(), str(run_id))
        cached = self._states.pop(cache_key, None)
        state, etag, checkpointed = cached or (*self.state(run_id, exact=False), 0)
        token = uuid.uuid4().hex
        for lost in itertools.count():
            if lost:  # a race lost: wait a random while, longer each time, so that writers spread out
                time.sleep(random.uniform(0, min(0.25, 0.005 * 2 ** lost)))
            event_id = state["last_event_id"] + 1
            # Never before the previous event, whatever this machine's clock says: the log's times
            # grow with its ids.
            stamp = max(utc_timestamp(), state.get("updated_at") or "")
            event = canonical_event({**draft, "event_id": event_id, "timestamp": stamp, "run_id": str(run_id)})
            validate_event(event)
            refused = refusal(state, event["type"])
            if refused is not None:
                raise RunFinished(refused)
            if self._claim(self.event_key(run_id, event_id), dump_event(event), token):
                break
            self.caught_up(run_id, state)  # another writer took the id: take its events in, try the next
        status = state["status"]
        apply_event(state, event)
        # A process that came without the state (a one-shot emit) leaves the checkpoint exact for the
        # next one; a long-lived writer, which keeps its state, every few events and at each change of
        # status. Readers bring it forward either way.
        if cached is None or event_id - checkpointed >= CHECKPOINT_EVERY or state["status"] != status:
            try:
                etag, checkpointed = self.checkpoint(run_id, state, etag), event_id
            except StorageError:  # the event is stored: failing now would make the caller store it twice
                etag = None
        if len(self._states) > 64:
            self._states.clear()
        self._states[cache_key] = (state, etag, checkpointed)
        return event, state

    def _claim(self, key: str, body: bytes, token: str) -> bool:
        """Create the event object at ``key`` only if there is none: True when it is ours (created
        now, or by an earlier attempt whose answer was lost), False when another writer's."""
        problem: Exception | None = None
        for attempt in range(CLAIM_ATTEMPTS):
            try:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*",
                                       ContentType="application/json", Metadata={WRITE_KEY: token})
                return True
            except Exception as refused:
                if 400 <= _status(refused) < 500 and _code(refused) not in _CONFLICT:
                    raise self.failure(refused, f"writing s3://{self.bucket}/{key}") from None
                if attempt == 0 and _code(refused) == "PreconditionFailed" and _retries(refused) == 0:
                    return False  # refused at the first and only request: the key was taken before it
                problem = refused  # taken, or no answer at all: the key's owner says which
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=key)
            except Exception as unknown:
                if _code(unknown) not in ("404", "NoSuchKey", "NotFound"):
                    problem = unknown
                continue  # not there (a conflict that did not land) or not known: ask again
            return bool(head.get("Metadata", {}).get(WRITE_KEY) == token)
        assert problem is not None
        raise self.failure(problem, f"writing s3://{self.bucket}/{key}") from None

    def forget(self, run_id: RunId) -> None:
        """Drop what this process remembers of the run's state (after a repair or an import)."""
        for cached in [cached for cached in self._states if cached[1] == str(run_id)]:
            self._states.pop(cached, None)

    def run_ids(self, org: str | None = None, project: str | None = None, uuid_prefix: str = "") -> Iterator[RunId]:
        """The runs under the prefix (one org, one project), by delimiter listings: no event is listed."""
        base = self.layout.listing_prefix()
        for org_name in [org] if org else self.folders(base):
            if not is_slug(org_name):
                continue
            for project_name in [project] if project else self.folders(f"{base}{org_name}/"):
                if not is_slug(project_name):
                    continue
                for uuid_text in self.folders(f"{base}{org_name}/{project_name}/{uuid_prefix}"):
                    full = uuid_prefix + uuid_text
                    if is_uuid4(full):
                        yield RunId(org_name, project_name, full)


def json_object(data: bytes | None) -> Json | None:
    """``data`` as a JSON object, or None when it is missing or not one."""
    try:
        value = loads(data) if data is not None else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _retries(problem: Exception) -> int:
    """How many times botocore sent the request again before this answer."""
    response = getattr(problem, "response", None)
    return int(response.get("ResponseMetadata", {}).get("RetryAttempts") or 0) if isinstance(response, dict) else 0


def _status(problem: Exception) -> int:
    response = getattr(problem, "response", None)
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) if isinstance(response, dict) else 0


def _code(problem: Exception) -> str:
    response = getattr(problem, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode"))

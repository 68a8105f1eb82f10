"""Object keys: ``{prefix}/{org}/{project}/{uuid}/{file}``, and the way back from a key to a run id."""

from __future__ import annotations

from dataclasses import dataclass

from faber_hookspecs.errors import InvalidRunId
from faber_hookspecs.run_id import RunId


@dataclass(frozen=True)
class KeyLayout:
    """The keys of one bucket and prefix. The prefix is joined with exactly one slash, whether it was
    written with a trailing slash or not (``faber/runs`` and ``faber/runs/`` are the same place)."""

    bucket: str
    prefix: str

    @property
    def base(self) -> str:
        """The prefix without surrounding slashes ('' for the bucket's root)."""
        return "/".join(part for part in self.prefix.split("/") if part)

    def _join(self, *parts: str) -> str:
        return "/".join(part for part in (self.base, *parts) if part)

    def run_prefix(self, run_id: RunId) -> str:
        return self._join(run_id.org, run_id.project, run_id.uuid) + "/"

    def key(self, run_id: RunId, name: str) -> str:
        return self.run_prefix(run_id) + name

    def url(self, run_id: RunId) -> str:
        """``s3://bucket/prefix/org/project/uuid/``."""
        return f"s3://{self.bucket}/{self.run_prefix(run_id)}"

    def listing_prefix(self, org: str | None = None, project: str | None = None) -> str:
        """The prefix to list: everything, one org, or one org's project."""
        parts = [org, project] if org and project else [org] if org else []
        joined = self._join(*(part for part in parts if part))
        return joined + "/" if joined else ""

    def run_of(self, key: str) -> tuple[RunId, str] | None:
        """The run and file name a key belongs to, or None for a key that is not a run's file."""
        base = self.base
        if base:
            if not key.startswith(base + "/"):
                return None
            key = key[len(base) + 1 :]
        parts = key.split("/")
        if len(parts) != 4:
            return None
        try:
            return RunId.parse("/".join(parts[:3])), parts[3]
        except InvalidRunId:
            return None


def parse_s3_url(url: str) -> tuple[str, str] | None:
    """``s3://bucket/key/prefix/`` as (bucket, key prefix), or None for another kind of URL."""
    if not url.startswith("s3://"):
        return None
    bucket, _, key = url[5:].partition("/")
    return (bucket, key) if bucket else None

"""Run IDs, ``{org}/{project}/{uuid4}``: each part becomes a path, so each is checked against a pattern that
cannot express ``..``, a slash or an upper-case twin. Imports nothing heavy (the CLI's emit path uses it)."""

from __future__ import annotations

import re

from .errors import InvalidRunId

SLUG_MAX_LENGTH = 64
SLUG_PATTERN = r"[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?"
UUID4_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
RUN_ID_PATTERN = rf"{SLUG_PATTERN}/{SLUG_PATTERN}/{UUID4_PATTERN}"
MIN_PREFIX_LENGTH = 8

PREFIX_PATTERN = r"[0-9a-f-]+"
_SLUG = re.compile(SLUG_PATTERN)
_UUID4 = re.compile(UUID4_PATTERN)
_PREFIX = re.compile(PREFIX_PATTERN)


class RunId(tuple[str, str, str]):
    """A validated run id (org, project, uuid); ``str()`` gives ``org/project/uuid``."""

    __slots__ = ()

    def __new__(cls, org: str, project: str, uuid: str) -> RunId:
        return tuple.__new__(cls, (org, project, uuid))

    def __getnewargs__(self) -> tuple[str, str, str]:  # pickling (multiprocessing) calls __new__ with these
        return (self[0], self[1], self[2])

    @property
    def org(self) -> str:
        return self[0]

    @property
    def project(self) -> str:
        return self[1]

    @property
    def uuid(self) -> str:
        return self[2]

    def __repr__(self) -> str:
        return f"RunId(org={self[0]!r}, project={self[1]!r}, uuid={self[2]!r})"

    def __str__(self) -> str:
        return f"{self[0]}/{self[1]}/{self[2]}"

    @classmethod
    def parse(cls, text: str) -> RunId:
        """Parse and validate ``org/project/uuid``; raise InvalidRunId saying which part is wrong."""
        if type(text) is str and cls is RunId:
            known = _PARSED.get(text)
            if known is not None:
                return known
        if not isinstance(text, str):
            raise InvalidRunId(f"run id must be a string, not {type(text).__name__}")
        parts = text.split("/")
        if len(parts) != 3:
            raise InvalidRunId(
                f"invalid run id {_show(text)}: expected org/project/uuid (for example "
                "acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63)"
            )
        org, project, uuid = parts
        validate_slug(org, "org")
        validate_slug(project, "project")
        validate_uuid(uuid)
        run_id = cls(org, project, uuid)
        if type(text) is str and cls is RunId:
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.clear()
            _PARSED[text] = run_id
        return run_id

    @staticmethod
    def known(text: str) -> RunId | None:
        """The run id ``text`` was parsed into before by ``parse`` (valid, then), or None."""
        return _PARSED.get(text) if type(text) is str else None

    @classmethod
    def generate(cls, org: str, project: str) -> RunId:
        """A new run id with a random uuid4."""
        import uuid as uuid_module

        validate_slug(org, "org")
        validate_slug(project, "project")
        return cls(org, project, str(uuid_module.uuid4()))


_PARSED: dict[str, RunId] = {}
"""Texts parsed recently, and their (immutable) run ids: an emit names its run three times (the API,
the record store, the state hook), and validating it costs more than the lookup."""
_PARSED_MAX = 256


def is_slug(value: object) -> bool:
    """True for a valid org or project slug (what ``validate_slug`` accepts)."""
    return isinstance(value, str) and 0 < len(value) <= SLUG_MAX_LENGTH and _SLUG.fullmatch(value) is not None


def is_uuid4(value: object) -> bool:
    """True for a canonical, lowercase uuid4 (what ``validate_uuid`` accepts)."""
    return isinstance(value, str) and _UUID4.fullmatch(value) is not None


def validate_slug(value: str, what: str) -> str:
    """Check an org or project slug: lowercase letters, digits, '-' and '_', at most 64 characters."""
    if not isinstance(value, str) or not value:
        raise InvalidRunId(f"{what} must not be empty")
    if len(value) > SLUG_MAX_LENGTH:
        raise InvalidRunId(f"{what} {_show(value)} is longer than {SLUG_MAX_LENGTH} characters")
    if not _SLUG.fullmatch(value) is not None:
        raise InvalidRunId(
            f"invalid {what} {_show(value)}: use lowercase letters, digits, '-' and '_', "
            "starting and ending with a letter or digit"
        )
    return value


def validate_uuid(value: str) -> str:
    """Check a canonical, lowercase uuid4."""
    if not is_uuid4(value):
        raise InvalidRunId(f"invalid run uuid {_show(value)}: expected a lowercase canonical uuid4")
    return value


def is_uuid_prefix(text: str) -> bool:
    """True when ``text`` can name a run by a uuid prefix (at least 8 characters of a uuid)."""
    return MIN_PREFIX_LENGTH <= len(text) <= 36 and _PREFIX.fullmatch(text) is not None


def slugify(text: str) -> str:
    """Turn a folder or repository name into a valid slug ('Widget Service' -> 'widget-service')."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")
    return re.sub(r"-{2,}", "-", slug)[:SLUG_MAX_LENGTH].strip("-_")


def _show(value: object) -> str:
    """Quote a user's value for an error message, cut short so a huge input stays one line."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."

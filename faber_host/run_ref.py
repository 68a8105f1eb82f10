"""Naming a run: by its full id, its uuid, or a unique uuid prefix (like git), and who is naming it.

Standard library only: ``RunLog.resolve`` (every door) uses it.
"""

from __future__ import annotations

import os

from faber_hookspecs.errors import AmbiguousRun, InvalidRunId, RunNotFound
from faber_hookspecs.run_id import RunId, is_uuid_prefix, validate_slug

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the CLI's emit path avoids it)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


def resolve_run_ref(ref: str, find: Callable[[str], Iterable[str]]) -> RunId:
    """The run ``ref`` names: ``org/project/uuid``, a uuid, or a unique uuid prefix of at least 8
    characters (optionally after ``org/project/``). ``find(prefix)`` lists the ids of the runs whose
    uuid starts with a (lowercase) prefix."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidRunId("a run id is required")
    ref = ref.strip()
    parts = ref.split("/")
    if len(parts) == 3:
        known = RunId.known(ref)
        if known is not None:  # parsed before: valid, and the same run (an emit names its run every time)
            return known
        org, project, tail = parts
        validate_slug(org, "org")
        validate_slug(project, "project")
        try:
            return RunId.parse(ref)
        except InvalidRunId:
            if not is_uuid_prefix(tail):
                raise
        candidates = [c for c in find(tail.lower()) if c.startswith(f"{org}/{project}/")]
    elif len(parts) == 1 and is_uuid_prefix(ref):
        candidates = list(find(ref.lower()))
    else:
        raise InvalidRunId(
            f"cannot read {ref[:80]!r} as a run: give org/project/uuid, a uuid, or at least the "
            "first 8 characters of one"
        )
    if not candidates:
        raise RunNotFound(f"no run matches {ref!r}; `faber runs list` shows the runs")
    if len(candidates) > 1:
        shown = ", ".join(sorted(candidates)[:10])
        raise AmbiguousRun(f"{ref!r} matches {len(candidates)} runs: {shown}; give more characters")
    return RunId.parse(candidates[0])


def current_user() -> str | None:
    """The user name recorded in events and metadata."""
    try:
        return os.environ.get("USER") or _login_name()
    except (KeyError, OSError):
        return None


def _login_name() -> str:
    """``getpass.getuser()`` without importing getpass: the first of LOGNAME, USER, LNAME and
    USERNAME that is set, else the password database."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        user = os.environ.get(name)
        if user:
            return user
    uid = os.getuid()
    user = _ACCOUNT_NAMES.get(uid)
    if user is None:
        import pwd

        user = _ACCOUNT_NAMES[uid] = pwd.getpwuid(uid)[0]
    return user


_ACCOUNT_NAMES: dict[int, str] = {}
"""The password database's name for each uid looked up so far: a long-lived process (``faber mcp``, a
workflow run) emits many events, and without USER set each one would read the database again. The
environment is still read on every call."""

"""The run-id, event-type, step, status and timestamp patterns, matched without the ``re`` module.

Importing ``re`` costs the CLI's one-shot ``faber event emit`` about 5 ms, a fifth of its budget, and
these patterns are simple character classes. Each function here is exactly ``re.fullmatch`` of the
pattern named beside it (the patterns stay the source of truth, in the modules that define them, and
a test compares the two on generated text). ``matcher`` gives the compiled event validator an object
with the ``search`` method it calls.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the CLI's emit path avoids it)
if TYPE_CHECKING:
    from collections.abc import Callable

_DIGITS = frozenset("0123456789")
_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ALNUM = _LOWER_ALNUM | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset("0123456789abcdef")
_SLUG_INNER = _LOWER_ALNUM | {"-", "_"}
_STEP_INNER = _ALNUM | {".", "_", "-"}
_STATUS_INNER = _LOWER_ALNUM | {"_"}
_VENDOR_INNER = _LOWER_ALNUM | {"-"}
_NAME_INNER = _LOWER_ALNUM | {"_"}
_PREFIX = _HEX | {"-"}


def _ends_and_inner(text: str, ends: frozenset[str], inner: frozenset[str]) -> bool:
    """``E(?:I*E)?``: one or more characters, the first and last in ``ends``, the rest in ``inner``
    (``inner`` holds ``ends``)."""
    return bool(text) and text[0] in ends and text[-1] in ends and inner.issuperset(text)


def slug(text: str) -> bool:
    """run_id.SLUG_PATTERN: ``[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?``."""
    return _ends_and_inner(text, _LOWER_ALNUM, _SLUG_INNER)


def uuid4(text: str) -> bool:
    """run_id.UUID4_PATTERN: a lowercase canonical uuid4."""
    return (
        len(text) == 36
        and text[8] == text[13] == text[18] == text[23] == "-"
        and text[14] == "4"
        and text[19] in "89ab"
        and _HEX.issuperset(text[:8] + text[9:13] + text[14:18] + text[19:23] + text[24:])
    )


def uuid_prefix(text: str) -> bool:
    """run_id's prefix pattern: ``[0-9a-f-]+``."""
    return bool(text) and _PREFIX.issuperset(text)


def run_id(text: str) -> bool:
    """run_id.RUN_ID_PATTERN: ``slug/slug/uuid4``."""
    parts = text.split("/")
    return len(parts) == 3 and slug(parts[0]) and slug(parts[1]) and uuid4(parts[2])


def vendor_type(text: str) -> bool:
    """catalogue.VENDOR_TYPE_PATTERN: ``x-<vendor>.<name>(.<name>)*``, the vendor of lowercase letters,
    digits and '-', each name of lowercase letters, digits and '_', all starting and ending with a
    letter or digit."""
    if not text.startswith("x-"):
        return False
    vendor, *names = text[2:].split(".")
    return (
        bool(names)
        and _ends_and_inner(vendor, _LOWER_ALNUM, _VENDOR_INNER)
        and all(_ends_and_inner(name, _LOWER_ALNUM, _NAME_INNER) for name in names)
    )


def step(text: str) -> bool:
    """wire.STEP_PATTERN: ``[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?``."""
    return _ends_and_inner(text, _ALNUM, _STEP_INNER)


def status(text: str) -> bool:
    """wire.STATUS_PATTERN: ``[a-z][a-z0-9_]*``."""
    return bool(text) and "a" <= text[0] <= "z" and _STATUS_INNER.issuperset(text)


def timestamp(text: str) -> bool:
    """wire.TIMESTAMP_PATTERN: ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (digits, not a calendar check)."""
    return (
        len(text) == 24
        and text[4] == text[7] == "-"
        and text[10] == "T"
        and text[13] == text[16] == ":"
        and text[19] == "."
        and text[23] == "Z"
        and _DIGITS.issuperset(text[:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19]
                               + text[20:23])
    )


MATCHERS: dict[str, Callable[[str], bool]] = {
    "slug": slug, "uuid4": uuid4, "uuid_prefix": uuid_prefix, "run_id": run_id, "vendor_type": vendor_type,
    "step": step, "status": status, "timestamp": timestamp,
}


class _Pattern:
    """What the compiled validator needs of a compiled regex: ``search`` of an anchored pattern."""

    def __init__(self, name: str | None, pattern: str) -> None:
        self.function = MATCHERS.get(name or "")
        self.pattern = pattern
        self.compiled: object = None

    def search(self, text: str) -> bool:
        if self.function is not None:
            return self.function(text)
        if self.compiled is None:  # a pattern without a matcher here: the re module after all
            import re

            self.compiled = re.compile(self.pattern.removesuffix("$") + r"\Z")
        return self.compiled.search(text) is not None  # type: ignore[attr-defined]


def matcher(name: str | None, pattern: str) -> _Pattern:
    """A stand-in for ``re.compile(pattern)`` (an anchored ``^...$`` schema pattern) in the compiled
    validator: the function ``name`` when there is one, else the regex, compiled on first use."""
    return _Pattern(name, pattern)

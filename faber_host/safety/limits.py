"""Size limits on what callers send (encoded size, nesting depth, string length), checked before anything
else looks at the data, so a hostile payload is refused with one line instead of exhausting memory or
recursion. The walk is iterative. Standard library only."""

from __future__ import annotations

import sys
from _json import encode_basestring, make_encoder

from faber_hookspecs.errors import InvalidInput
from faber_hookspecs.wire import encodable, loads

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

_INFINITY = float("inf")


def _not_json(value: object) -> object:
    raise TypeError(f"a {type(value).__name__} is not a JSON value")


# ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` is this C encoder with these
# settings (and a circular check, which check_shape's depth limit makes moot); used directly, the
# C encoder is what json.dumps would call, without its Python-level checks.
_compact = make_encoder(None, _not_json, encode_basestring, None, ":", ",", False, False, True)

DEFAULT_MAX_EVENT_BYTES = 1024 * 1024
DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_STRING_LENGTH = 256 * 1024
MAX_DEPTH_CEILING = 256
"""No configuration may allow more nesting than this: the validators downstream recurse."""


class Limits:
    """The limits in force: from gateway.json's ``limits`` section, else the defaults."""

    __slots__ = ("max_depth", "max_event_bytes", "max_string_length")

    def __init__(
        self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES, max_depth: int = DEFAULT_MAX_DEPTH,
        max_string_length: int = DEFAULT_MAX_STRING_LENGTH,
    ) -> None:
        self.max_event_bytes = max_event_bytes
        self.max_depth = min(max_depth, MAX_DEPTH_CEILING)
        self.max_string_length = max_string_length

    def check_shape(self, value: Any, what: str, error: type[InvalidInput] = InvalidInput) -> None:
        """Raise ``error`` unless ``value`` is JSON (objects with string keys, arrays, strings, finite
        numbers, booleans, null) nested at most ``max_depth`` deep with no string too long."""
        if not self._fits(value):
            self._explain_shape(value, what, error)
            raise error(f"invalid {what}: it is not plain JSON within the limits")  # (_explain_shape raises first)

    def _fits(self, value: Any) -> bool:
        """``check_shape``'s test alone: the same walk without the path to each value, which a refusal
        names but which costs an event that fits a string per key (a few µs of every emit)."""
        max_depth, max_length = self.max_depth, self.max_string_length
        stack: list[tuple[Any, int]] = [(value, 1)]
        while stack:
            item, depth = stack.pop()
            if isinstance(item, str):
                if len(item) > max_length or not (item.isascii() or encodable(item)):
                    return False
            elif isinstance(item, (dict, list, tuple)):
                if depth > max_depth:
                    return False
                if isinstance(item, dict):
                    for key, child in item.items():
                        if not isinstance(key, str) or len(key) > max_length or not (key.isascii() or encodable(key)):
                            return False
                        stack.append((child, depth + 1))
                else:
                    stack.extend((child, depth + 1) for child in item)
            elif isinstance(item, float):
                if item != item or item in (_INFINITY, -_INFINITY):
                    return False
            elif not (item is None or isinstance(item, (bool, int))):
                return False
        return True

    def _explain_shape(self, value: Any, what: str, error: type[InvalidInput]) -> None:
        """Raise ``error`` naming the first value ``_fits`` refuses, with its path."""
        stack: list[tuple[Any, int, str]] = [(value, 1, "")]
        while stack:
            item, depth, where = stack.pop()
            if isinstance(item, str):
                self._check_string(item, what, where, error)
            elif isinstance(item, (dict, list, tuple)):
                if depth > self.max_depth:
                    raise error(self.too_deep(what, where))
                if isinstance(item, dict):
                    for key, child in item.items():
                        if not isinstance(key, str):
                            kind = type(key).__name__
                            raise error(f"invalid {what}: {_at(where)}object keys must be strings, not {kind}")
                        self._check_string(key, what, where, error)
                        stack.append((child, depth + 1, f"{where}.{show_key(key)}" if where else show_key(key)))
                else:
                    stack.extend((child, depth + 1, f"{where}[{index}]") for index, child in enumerate(item))
            elif isinstance(item, float):
                if item != item or item in (_INFINITY, -_INFINITY):  # NaN and the infinities
                    raise error(f"invalid {what}: {_at(where)}{item} is not a JSON number")
            elif not (item is None or isinstance(item, (bool, int))):
                raise error(f"invalid {what}: {_at(where)}a {type(item).__name__} is not a JSON value")

    def too_deep(self, what: str, where: str = "") -> str:
        """The refusal of a value nested deeper than ``max_depth`` (at ``where``, when known)."""
        return (f"invalid {what}: {_at(where)}nested more than {self.max_depth} levels deep "
                "(limits.max_depth in gateway.json)")

    def too_many_digits(self, what: str) -> str:
        """The refusal of an integer longer than Python converts to or from text."""
        return f"invalid {what}: a number has more than {sys.get_int_max_str_digits():,} digits"

    def parse(self, text: bytes | str, what: str, error: type[InvalidInput] = InvalidInput) -> Any:
        """JSON text as a value, for a door that reads one (``--data``, an old state file, an archive).
        What the parser gives up on (nesting too deep, a number too long) is refused as the checks of
        the value refuse it; malformed text raises ValueError, for the door to word."""
        try:
            return loads(text)
        except RecursionError:
            raise error(self.too_deep(what)) from None
        except ValueError as problem:
            if type(problem) is ValueError:  # not a JSONDecodeError nor a UnicodeDecodeError: a number too long
                raise error(self.too_many_digits(what)) from None
            raise

    def _check_string(self, text: str, what: str, where: str, error: type[InvalidInput]) -> None:
        if len(text) > self.max_string_length:
            raise error(
                f"invalid {what}: {_at(where)}a string of {len(text):,} characters is longer than the "
                f"limit of {self.max_string_length:,} (limits.max_string_length in gateway.json)"
            )
        if not (text.isascii() or encodable(text)):  # an unpaired surrogate: undecodable bytes of an argument
            raise error(
                f"invalid {what}: {_at(where)}a string is not valid Unicode (an unpaired surrogate, "
                "or bytes that are not UTF-8)"
            )

    def check_size(self, value: Any, what: str, error: type[InvalidInput] = InvalidInput) -> int:
        """Raise ``error`` when ``value`` encodes to more than ``max_event_bytes``; return the size."""
        try:
            size = len("".join(_compact(value, 0)).encode("utf-8"))
        except ValueError:  # an integer with more digits than Python will print
            raise error(self.too_many_digits(what)) from None
        except (TypeError, RecursionError):  # not JSON at all: check_shape refuses it with its reason
            self.check_shape(value, what, error)
            raise
        if size > self.max_event_bytes:
            raise error(
                f"invalid {what}: it is {_bytes(size)} as JSON, more than the limit of {_bytes(self.max_event_bytes)} "
                "(limits.max_event_bytes in gateway.json); store large content as an artifact and refer to it"
            )
        return size


def show_key(key: object) -> str:
    """A key of the path to a problem, for a one-line message: as it is when it is a plain name or an
    index, quoted and cut short otherwise (a key may hold a newline, a dot, a surrogate...)."""
    if isinstance(key, int):
        return str(key)
    text = str(key)
    if 0 < len(text) <= 64 and all(char.isascii() and (char.isalnum() or char in "_-$") for char in text):
        return text
    shown = text[:40] + ("..." if len(text) > 40 else "")
    return ascii(shown)


def _at(where: str) -> str:
    return f"{where}: " if where else ""


def _bytes(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MiB"
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.2f} MiB"
    return f"{size:,} bytes"

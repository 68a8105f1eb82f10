"""Times for people (durations, "3m ago") and event timestamps as epoch ms; imports only datetime."""

from __future__ import annotations

from datetime import UTC, datetime

_DAY_MS = 86_400_000
_YEAR_DAYS = 365


def format_duration(ms: int | float | None) -> str:
    """``850ms``, ``1.8s``, ``45s``, ``2m 05s``, ``1h 02m``, ``3d 04h``, ``2y 015d``; ``>999y`` past
    that (a reported figure can be anything); ``-`` for None or a negative duration."""
    if ms is None or ms != ms or ms < 0:  # (ms != ms: NaN)
        return "-"
    if ms >= 1000 * _YEAR_DAYS * _DAY_MS:
        return ">999y"
    ms = int(ms)
    if ms < 1000:
        return f"{ms}ms"
    if ms < 10_000:
        return f"{ms / 1000:.1f}s"
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    if days < _YEAR_DAYS:
        return f"{days}d {hours:02d}h"
    years, days = divmod(days, _YEAR_DAYS)
    return f"{years}y {days:03d}d"


def utc_now() -> datetime:
    """The current time, in UTC (the one place these views read the clock)."""
    return datetime.now(UTC)


def epoch_ms(timestamp: str) -> int:
    """Milliseconds since the epoch of an event timestamp (``2026-11-26T07:13:25.215Z``)."""
    return round(datetime.fromisoformat(timestamp).timestamp() * 1000)  # Python 3.11 reads the "Z"


def relative_ms(delta: int) -> str:
    """How long ago a difference in milliseconds is (positive: in the past): ``just now``, ``5s ago``,
    ``3m ago``, ``2h ago``, ``4d ago``; ``in 5s`` for a clock that runs ahead."""
    if abs(delta) < 1000:
        return "just now"
    words = _coarse(abs(delta))
    return f"{words} ago" if delta > 0 else f"in {words}"


def _coarse(ms: int) -> str:
    seconds = ms // 1000
    if seconds >= 1000 * _YEAR_DAYS * 86_400:
        return ">999y"
    for size, unit in ((_YEAR_DAYS * 86_400, "y"), (86_400, "d"), (3_600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"

"""Times for people, light enough for ``faber runs list``'s quick path: durations, "3m ago", and
event timestamps as epoch milliseconds (only ``datetime`` is imported here)."""

from __future__ import annotations

from datetime import UTC, datetime


def format_duration(ms: int | float | None) -> str:
    """``850ms``, ``1.8s``, ``45s``, ``2m 05s``, ``1h 02m``, ``3d 04h``; ``-`` for None."""
    if ms is None:
        return "-"
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
    return f"{days}d {hours:02d}h"


def utc_now() -> datetime:
    """The current time, in UTC (the one place these views read the clock)."""
    return datetime.now(UTC)


def epoch_ms(timestamp: str) -> int:
    """Milliseconds since the epoch of an event timestamp (``2026-11-26T07:13:25.215Z``)."""
    return round(datetime.fromisoformat(timestamp).timestamp() * 1000)  # Python 3.11 reads the "Z"


def relative_ms(delta: int) -> str:
    """``relative_time`` of a difference in milliseconds (positive: in the past)."""
    if abs(delta) < 1000:
        return "just now"
    words = _coarse(abs(delta))
    return f"{words} ago" if delta > 0 else f"in {words}"


def _coarse(ms: int) -> str:
    seconds = ms // 1000
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"

"""Ages on the command line and in state: ``30d``, ``12h``; UTC timestamps as FABER writes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from faber_hookspecs.errors import InvalidInput

_DURATION_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([wdhm]?)")
_UNIT_DAYS = {"w": 7.0, "d": 1.0, "": 1.0, "h": 1 / 24, "m": 1 / 1440}


def parse_days(text: str) -> float:
    """``30d``, ``2w``, ``12h``, ``90m`` or a plain number of days, as days."""
    match = _DURATION_RE.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(f"invalid age {str(text)[:40]!r}: use a number with d, w, h or m, such as 30d or 12h")
    return float(match[1]) * _UNIT_DAYS[match[2]]


def parse_timestamp(text: str | None) -> datetime | None:
    """A FABER timestamp (``2026-11-26T07:13:25.215Z``, or ISO 8601 with an offset), or None."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_moment(text: str, option: str, now: datetime) -> str:
    """``--since`` and ``--until``: a date or date-time (UTC unless it names an offset), or an age such
    as 30d or 12h counted back from ``now``; as a FABER timestamp, which compares as text with state's."""
    if _DURATION_RE.fullmatch(text.strip().lower()):
        moment: datetime | None = now - timedelta(days=parse_days(text))
    else:
        moment = parse_timestamp(text.strip())
    if moment is None:
        raise InvalidInput(
            f"invalid {option} {text[:40]!r}: use a date (2026-12-01), a date-time or an age such as 30d or 12h"
        )
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def age_days(text: str | None, now: datetime) -> float | None:
    """How many days ago ``text`` was, or None when it is not a timestamp."""
    moment = parse_timestamp(text)
    return None if moment is None else (now - moment).total_seconds() / 86400

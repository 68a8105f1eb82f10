"""What backends report about themselves: health checks for ``faber doctor``, flush reports for
``faber backends flush``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .events import FrozenModel

Verdict = Literal["ok", "warn", "fail"]
"""``ok``: works. ``warn``: works, but something needs attention. ``fail``: does not work."""


class HealthCheck(FrozenModel):
    """One thing a backend checked, with its verdict. ``faber doctor`` prints one line per check and
    exits non-zero when any verdict is ``fail``."""

    name: str = Field(min_length=1, description="What was checked, short: 'stream answers', 'runs folder writable'.")
    verdict: Verdict
    detail: str = Field("", description="What was found, in a sentence a person can act on.")


class FlushReport(FrozenModel):
    """What one ``faber_flush`` call did: events delivered, events still held back and why."""

    delivered: int = Field(0, ge=0, description="Events delivered by this flush.")
    pending: int = Field(0, ge=0, description="Events still held back after it.")
    runs: int = Field(0, ge=0, description="Runs that had something to deliver.")
    error: str | None = Field(None, description="Why the pending events could not be delivered; None if all went.")

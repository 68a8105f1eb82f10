"""The time axis of a timeline, with long idle gaps shrunk so the work stays readable.

A run that failed and was resumed two days later spent those two days doing nothing; drawn to scale,
its work would be two slivers at the ends of the chart. So a gap between two executions of the run
that is longer than a fifth of the whole span (and than a minute) becomes a *break*: a narrow band
(``BREAK_SHARE`` of the width, marked on the chart with its real length) and the work before and after it shares
the rest of the width, to scale. Everything that draws a timeline maps times through ``Axis.fraction``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from .timeline import Timeline

BREAK_SHARE = 0.06
"""The share of the width one break takes."""
MIN_BREAK_MS = 60_000
MIN_BREAK_PART = 0.2


@dataclass(frozen=True)
class Axis:
    """0 to ``end_ms`` on a line from 0.0 to 1.0, with the ``breaks`` (start, end) shrunk."""

    end_ms: int
    breaks: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, timeline: Timeline) -> Axis:
        """The axis of a timeline: its idle gaps between executions that deserve a break."""
        end = max(timeline.end_ms, 0)
        run = next((bar for bar in timeline.bars if bar.kind == "run"), None)
        sessions = sorted((a.start_ms, a.end_ms) for a in run.attempts) if run else []
        breaks = []
        for (_, before), (after, _) in pairwise(sessions):
            if after - before >= MIN_BREAK_MS and after - before >= MIN_BREAK_PART * end:
                breaks.append((before, after))
        return cls(end, tuple(breaks))

    @property
    def active_ms(self) -> int:
        """The time drawn to scale: everything but the breaks."""
        return self.end_ms - sum(stop - start for start, stop in self.breaks)

    def fraction(self, ms: int) -> float:
        """Where a time falls, from 0.0 (the origin) to 1.0 (``end_ms``)."""
        if self.end_ms <= 0 or ms <= 0:
            return 0.0
        if ms >= self.end_ms:
            return 1.0
        if not self.breaks:
            return min(1.0, max(0.0, ms / self.end_ms))
        scaled_share = 1.0 - BREAK_SHARE * len(self.breaks)
        active = max(self.active_ms, 1)
        position = 0.0
        cursor = 0
        for start, stop in self.breaks:
            if ms <= start:
                return min(1.0, position + (ms - cursor) / active * scaled_share)
            position += (start - cursor) / active * scaled_share
            if ms < stop:
                return position + (ms - start) / (stop - start) * BREAK_SHARE
            position += BREAK_SHARE
            cursor = stop
        return min(1.0, position + (min(ms, self.end_ms) - cursor) / active * scaled_share)

    def ticks(self, wanted: int) -> list[tuple[int, str]]:
        """Round times to label, about ``wanted`` of them, none inside a break. A piece after a break
        starts with its time from the origin; the labels after it count from there (``+1m``)."""
        from .chart import tick_label, tick_step

        if not self.breaks:
            step = tick_step(self.end_ms, wanted)
            return [(at, tick_label(at)) for at in range(0, self.end_ms + 1, step)]
        step = tick_step(max(self.active_ms, 1), wanted)
        pieces = [(0, self.breaks[0][0])]
        pieces += [(stop, nxt[0]) for (_, stop), nxt in zip(self.breaks, self.breaks[1:], strict=False)]
        pieces.append((self.breaks[-1][1], self.end_ms))
        ticks = []
        for number, (start, stop) in enumerate(pieces):
            ticks.append((start, tick_label(start)))
            origin = start if number else 0
            ticks += [(at, ("+" if number else "") + tick_label(at - origin))
                      for at in range(start + step, stop + 1, step)]
        return ticks

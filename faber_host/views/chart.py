"""What the terminal and text views share: times for people, and bars laid on character columns
(through the timeline's ``Axis``, which shrinks long idle gaps)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from .axis import Axis
from .timeline import Attempt, Bar, Outcome, Timeline
from .times import format_duration as format_duration  # re-exported: the views import it from here

_TICK_STEPS_MS = (
    1, 2, 5, 10, 20, 50, 100, 200, 500,
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000,
    60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
    3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000,
    86_400_000, 172_800_000, 604_800_000, 2_592_000_000,
)


def format_offset(ms: int) -> str:
    """A time on the axis, as ``+1.8s``."""
    return "+" + format_duration(ms)


def format_time(timestamp: str | None) -> str:
    """An event timestamp shown as ``2026-11-26 07:13:25 UTC``."""
    if not timestamp:
        return "-"
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class Scale:
    """``width`` columns covering the ``axis``."""

    axis: Axis
    width: int

    def column(self, ms: int) -> int:
        """The column a time falls in (the last one for the end of the axis)."""
        return min(self.width - 1, max(0, int(self.axis.fraction(ms) * self.width)))

    @classmethod
    def of(cls, timeline: Timeline, width: int) -> Scale:
        return cls(Axis.of(timeline), max(width, 1))


def bar_cells(attempts: Sequence[Attempt], scale: Scale) -> list[tuple[Outcome, bool] | None]:
    """For each column, the outcome of the attempt drawn there and whether its time is known (or
    None). Each attempt takes at least one column; a later attempt wins a shared column, except over
    a failure, which stays visible."""
    cells: list[tuple[Outcome, bool] | None] = [None] * scale.width
    for attempt in attempts:
        first, last = scale.column(attempt.start_ms), scale.column(attempt.end_ms)
        for column in range(first, last + 1):
            current = cells[column]
            if current is not None and current[0] == "failed" and attempt.outcome != "failed" and column == first:
                continue
            cells[column] = (attempt.outcome, attempt.time_known)
    return cells


def tick_step(span_ms: int, wanted: int) -> int:
    """A round step that cuts ``span_ms`` into at most about ``wanted`` parts."""
    return next((s for s in _TICK_STEPS_MS if span_ms / s <= max(wanted, 1)), _TICK_STEPS_MS[-1])


def tick_label(ms: int) -> str:
    """A time on the axis, short: ``0s``, ``250ms``, ``1.5s``, ``2m 30s``, ``3h``."""
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60_000:
        return f"{ms / 1000:g}s"
    return format_duration(ms).replace(" 00s", "").replace(" 00m", "").replace(" 00h", "")


def axis_ticks(scale: Scale, min_gap: int = 10) -> list[tuple[int, str]]:
    """Round times to label the axis with, about ``min_gap`` columns apart: ``(column, label)``."""
    return [(scale.column(ms), label) for ms, label in scale.axis.ticks(scale.width // max(min_gap, 1))]


def axis_line(
    ticks: Iterable[tuple[int, str]], width: int, breaks: Iterable[int] = (), mark: str = "//"
) -> str:
    """The tick labels placed on a line of ``width`` characters, dropping any that would overlap; each
    break (a shrunk idle gap) starts with ``mark``."""
    line = [" "] * width
    taken: set[int] = set()
    for column in sorted(set(breaks)):
        start = min(column, max(0, width - len(mark)))
        if not taken & set(range(start - 1, start + len(mark) + 1)):
            line[start : start + len(mark)] = mark
            taken |= set(range(start, start + len(mark)))
    free_from = 0
    for column, label in ticks:
        if taken & set(range(column - 1, column + len(label) + 1)):
            continue
        start = min(column, max(0, width - len(label)))
        if start < free_from:
            continue
        line[start : start + len(label)] = label
        free_from = start + len(label) + 1
    return "".join(line).rstrip()


REPORTED = "*"
REPORTED_LEGEND = "* as the step reported it (--duration-ms), not measured"


@dataclass(frozen=True)
class ChartRow:
    """A bar laid on columns, with what is printed beside it."""

    bar: Bar
    cells: list[tuple[Outcome, bool] | None]
    duration: str
    note: str


def chart_rows(timeline: Timeline, width: int) -> tuple[Scale, list[ChartRow], set[int]]:
    """Every bar of the timeline on ``width`` columns, and the columns where the run was resumed."""
    from .summary import bar_note

    scale = Scale.of(timeline, width)
    rows = [  # a figure the step reported is marked: the bars and the other figures are measured
        ChartRow(bar, bar_cells(bar.attempts, scale), format_duration(bar.duration_ms) + (REPORTED if bar.reported
                 and bar.duration_ms is not None else ""), bar_note(bar))
        for bar in timeline.bars
    ]
    resumes = {scale.column(marker.at_ms) for marker in timeline.markers if marker.kind == "resume"}
    return scale, rows, resumes

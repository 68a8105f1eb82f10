"""The SVG Gantt chart of a timeline, laid out in pixels here (so it is tested as numbers) and drawn by
the report's template."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .axis import Axis
from .chart import format_duration, format_offset
from .summary import bar_label, bar_note
from .timeline import Attempt, Bar, Marker, Timeline

WIDTH = 1100
LABEL_WIDTH = 200
RIGHT_MARGIN = 90
ROW_HEIGHT = 22
BAR_HEIGHT = 14
AXIS_HEIGHT = 28
MIN_RECT_WIDTH = 2.0


@dataclass(frozen=True)
class Rect:
    """An attempt as a rectangle."""

    x: float
    y: float
    width: float
    height: float
    bar: Bar
    attempt: Attempt

    @property
    def title(self) -> str:
        """The tooltip: where, which attempt, outcome, times and error."""
        what = "/".join(part for part in (self.bar.phase, self.bar.step) if part) or self.bar.label
        if self.bar.kind == "approval":
            what = self.bar.label
        lines = [
            f"{what} — {'attempt' if self.bar.kind == 'step' else 'part'} {self.attempt.number}: "
            f"{self.attempt.outcome}",
            f"{format_offset(self.attempt.start_ms)} → {format_offset(self.attempt.end_ms)}"
            f" ({format_duration(self.attempt.end_ms - self.attempt.start_ms)} between events)",
        ]
        if self.attempt.reported_duration_ms is not None:
            lines.append(f"reported duration {format_duration(self.attempt.reported_duration_ms)}")
        if self.attempt.error is not None:
            lines.append(f"{self.attempt.error.code}: {self.attempt.error.message}")
        if not self.attempt.time_known:
            lines.append("time approximate (reconstructed by faber migrate)")
        events = [f"#{i}" for i in (self.attempt.start_event_id, self.attempt.end_event_id) if i is not None]
        if events:
            lines.append("events " + ", ".join(events))
        return "\n".join(lines)


@dataclass(frozen=True)
class Row:
    """A bar's row: its label, note, duration and rectangles."""

    y: float
    bar: Bar
    label: str
    note: str
    duration: str
    rects: tuple[Rect, ...]


@dataclass(frozen=True)
class MarkerLine:
    """A marker as a vertical line across the rows, numbered at the top."""

    x: float
    number: int
    marker: Marker


@dataclass(frozen=True)
class Gantt:
    """Everything the template needs to draw the chart."""

    width: int
    height: int
    chart_left: float
    chart_right: float
    end_ms: int
    rows: tuple[Row, ...]
    ticks: tuple[tuple[float, str], ...]
    markers: tuple[MarkerLine, ...]

    axis: Axis = field(default_factory=lambda: Axis(0))

    def x(self, ms: int) -> float:
        """The horizontal position of a time."""
        return round(self.chart_left + self.axis.fraction(ms) * (self.chart_right - self.chart_left), 2)

    @property
    def breaks(self) -> list[tuple[float, float, str]]:
        """The shrunk idle gaps: left, right, and how long the gap really was."""
        return [(self.x(start), self.x(stop), format_duration(stop - start)) for start, stop in self.axis.breaks]


def layout_gantt(timeline: Timeline) -> Gantt:
    """The chart of ``timeline``: rows from the top, in the timeline's order."""
    end_ms = max(timeline.end_ms, 0)
    axis = Axis.of(timeline)
    gantt = Gantt(
        width=WIDTH, height=AXIS_HEIGHT + ROW_HEIGHT * len(timeline.bars) + (24 if axis.breaks else 8),
        chart_left=LABEL_WIDTH, chart_right=WIDTH - RIGHT_MARGIN, end_ms=end_ms, rows=(), ticks=(), markers=(),
        axis=axis,
    )
    rows = []
    for index, bar in enumerate(timeline.bars):
        y = AXIS_HEIGHT + index * ROW_HEIGHT
        rects = []
        for attempt in bar.attempts:
            left, right = gantt.x(attempt.start_ms), gantt.x(attempt.end_ms)
            width = max(MIN_RECT_WIDTH, right - left)
            left = min(left, gantt.chart_right - width)
            rects.append(Rect(left, y + (ROW_HEIGHT - BAR_HEIGHT) / 2, round(width, 2), BAR_HEIGHT, bar, attempt))
        rows.append(Row(y, bar, bar_label(bar).strip(), bar_note(bar), format_duration(bar.duration_ms), tuple(rects)))
    markers = tuple(MarkerLine(gantt.x(m.at_ms), number, m) for number, m in enumerate(timeline.markers, start=1))
    return replace(gantt, rows=tuple(rows), ticks=tuple((gantt.x(ms), label) for ms, label in axis.ticks(8)),
                   markers=markers)

"""A run as plain ASCII text (``faber runs show`` into a pipe): readable in a log, diffable, greppable."""

from __future__ import annotations

from faber_hookspecs.runs import RunRecord

from .chart import REPORTED, REPORTED_LEGEND, axis_line, axis_ticks, chart_rows, format_duration, format_offset
from .summary import RelatedRun, artifact_lines, bar_label, header_facts, without_events
from .timeline import Outcome, Timeline

CHART_WIDTH = 50

SYMBOLS: dict[str, str] = {
    "completed": "=", "granted": "=", "failed": "x", "denied": "x", "interrupted": "~", "cancelled": "/",
    "running": ">", "paused": ".", "waiting": ".", "retrying": "~", "skipped": "-", "pending": " ",
}  # a bar's fill by outcome; '?' where times are approximate


def render_text(
    record: RunRecord, timeline: Timeline | None, related: list[RelatedRun], width: int = CHART_WIDTH
) -> str:
    """The whole plain-text view of a run (without a chart when ``timeline`` is None)."""
    facts = header_facts(record, timeline or without_events(record), related)
    lines = [f"{fact.label + ':':<13}{fact.value}" for fact in facts]
    if timeline is not None:
        lines.append("")
        lines += chart_lines(timeline, width)
    if timeline is not None and timeline.markers:
        lines += ["", "moments:"]
        for marker in timeline.markers:
            lines.append(f"  {format_offset(marker.at_ms):>9}  #{marker.event_id:<5} {marker.label}")
    state = record.state
    if state.pending_approvals:
        lines += ["", "waiting for approval:"]
        for request in state.pending_approvals:
            lines.append(f"  #{request.event_id} {request.phase or '-'}: {request.message or ''}".rstrip())
    if state.errors:
        lines += ["", f"errors ({state.error_count}):"]
        for error in state.errors[-5:]:
            where = "/".join(part for part in (error.phase, error.step) if part)
            lines.append(f"  #{error.event_id} {error.type} {where}: {error.code}: {error.message}")
    if state.artifacts:
        lines += ["", "artifacts:"]
        for name, kind, where in artifact_lines(state.artifacts):
            lines.append(f"  {name} ({kind}) {where}".rstrip())
    return "\n".join(lines) + "\n"


def chart_lines(timeline: Timeline, width: int = CHART_WIDTH) -> list[str]:
    """The timeline chart: an axis, then one line per bar."""
    scale, rows, resumes = chart_rows(timeline, width)
    label_width = min(32, max(len(bar_label(row.bar)) for row in rows))
    status_width = max(len(row.bar.status) for row in rows)
    break_starts = [scale.column(start) + 1 for start, _ in scale.axis.breaks]
    lines = [f"{'':<{label_width}}  {axis_line(axis_ticks(scale), width, break_starts)}"]
    for row in rows:
        chart = "".join(_symbol(cell, column in resumes) for column, cell in enumerate(row.cells))
        label = _fit(bar_label(row.bar), label_width)
        lines.append(
            f"{label:<{label_width}} |{chart}| {row.duration:>8}  {row.bar.status:<{status_width}}  {row.note}".rstrip()
        )
    present = {cell[0] for row in rows for cell in row.cells if cell is not None}
    legend = [f"{SYMBOLS[outcome]} {outcome}" for outcome in SYMBOLS if outcome in present and outcome != "pending"]
    if any(cell is not None and not cell[1] for row in rows for cell in row.cells):
        legend.append("? time approximate")
    if resumes:
        legend.append(": resumed here")
    if any(row.duration.endswith(REPORTED) for row in rows):
        legend.append(REPORTED_LEGEND)
    for start, stop in scale.axis.breaks:
        legend.append(f"// {format_duration(stop - start)} idle, not to scale")
    if legend:
        lines.append(f"{'':<{label_width}}  {'  '.join(legend)}")
    return lines


def _symbol(cell: tuple[Outcome, bool] | None, resumed_here: bool) -> str:
    if cell is None:
        return ":" if resumed_here else " "
    outcome, time_known = cell
    return SYMBOLS[outcome] if time_known else "?"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."

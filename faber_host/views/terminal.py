"""A run drawn with rich for a terminal: the text view's facts and rows, in colour."""

from __future__ import annotations

from itertools import groupby

from faber_hookspecs.runs import RunRecord
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from .chart import REPORTED, REPORTED_LEGEND, axis_line, axis_ticks, chart_rows, format_duration, format_offset
from .summary import RelatedRun, artifact_lines, bar_label, bar_note, header_facts, without_events
from .timeline import Timeline

STYLES: dict[str, str] = {
    "completed": "green", "granted": "green", "failed": "bold red", "denied": "red",
    "interrupted": "yellow", "cancelled": "magenta", "running": "cyan", "paused": "blue",
    "waiting": "blue", "retrying": "yellow", "skipped": "grey50", "pending": "grey50",
    "in_progress": "cyan",
}

_FULL, _APPROXIMATE, _SKIPPED, _RESUMED = "█", "▒", "─", "┆"


def print_run(console: Console, record: RunRecord, timeline: Timeline | None, related: list[RelatedRun]) -> None:
    """Print the run: header, chart (none when ``timeline`` is None), moments, approvals, errors, artifacts."""
    parts: list[RenderableType] = [_header(record, timeline or without_events(record), related)]
    if timeline is not None:
        parts += [Text(""), _chart(timeline, console.width)]
    if timeline is not None and timeline.markers:
        moments = Table.grid(padding=(0, 2))
        for marker in timeline.markers:
            style = "red" if marker.kind == "error" else "bold" if marker.kind in ("resume", "rerun") else ""
            moments.add_row(Text(format_offset(marker.at_ms), style="dim"), Text(f"#{marker.event_id}", style="dim"),
                            Text(marker.label, style=style))
        parts += [Text(""), Text("moments", style="bold"), moments]
    state = record.state
    if state.pending_approvals:
        parts += [Text(""), Text("waiting for approval", style="bold blue")]
        for request in state.pending_approvals:
            parts.append(Text(f"  #{request.event_id} {request.phase or '-'}: {request.message or ''}".rstrip()))
    if state.errors:
        parts += [Text(""), Text(f"errors ({state.error_count})", style="bold red")]
        for error in state.errors[-5:]:
            where = "/".join(part for part in (error.phase, error.step) if part)
            line = Text("  ")
            line.append(f"#{error.event_id} ", style="dim")
            line.append(f"{error.type} {where}: ")
            line.append(f"{error.code}: {error.message}", style="red")
            parts.append(line)
    if state.artifacts:
        parts += [Text(""), Text("artifacts", style="bold")]
        for name, kind, where in artifact_lines(state.artifacts):
            line = Text("  ")
            line.append(f"{name} ", style="bold")
            line.append(f"({kind}) ", style="dim")
            line.append(where, style=f"link {where}" if where.startswith(("http://", "https://")) else "")
            parts.append(line)
    console.print(Group(*parts))


def _header(record: RunRecord, timeline: Timeline, related: list[RelatedRun]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for fact in header_facts(record, timeline, related):
        if fact.kind == "status":
            value = Text(fact.value, style=STYLES.get(record.state.status, ""))
        elif fact.kind == "run":
            value = Text(fact.value, style="cyan")
        elif fact.kind == "path":
            value = Text(fact.value, style="dim")
        else:
            value = Text(fact.value)
        grid.add_row(fact.label, value)
    return grid


def _chart(timeline: Timeline, width: int) -> Table:
    labels = [bar_label(bar) for bar in timeline.bars]
    label_width = min(32, max(10, width // 5), max(map(len, labels)))
    notes = max((len(bar_note(bar)) for bar in timeline.bars), default=0)
    # the chart gets what the label, duration, status and notes (up to 30 wide) leave, 20 to 100 columns
    chart_width = max(20, min(100, width - label_width - 9 - 12 - min(notes, 30) - 4))
    scale, rows, resumes = chart_rows(timeline, chart_width)
    table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 1), header_style="dim")
    table.add_column("", no_wrap=True, max_width=label_width, overflow="ellipsis")
    break_starts = [scale.column(start) + 1 for start, _ in scale.axis.breaks]
    table.add_column(axis_line(axis_ticks(scale), chart_width, break_starts, "≈"), no_wrap=True, width=chart_width)
    table.add_column("", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("", no_wrap=True, overflow="ellipsis")
    for row, label in zip(rows, labels, strict=True):
        pieces = []
        for column, cell in enumerate(row.cells):
            if cell is None:
                pieces.append((_RESUMED, "dim") if column in resumes else (" ", ""))
                continue
            outcome, time_known = cell
            symbol = _SKIPPED if outcome == "skipped" else _FULL if time_known else _APPROXIMATE
            pieces.append((symbol, STYLES[outcome]))
        chart = Text()
        for style, run in groupby(pieces, key=lambda piece: piece[1]):  # one span per run of a style
            chart.append("".join(symbol for symbol, _ in run), style=style)
        style = "bold" if row.bar.kind in ("run", "phase") else ""
        table.add_row(
            Text(label, style=style), chart, Text(row.duration, style="dim"),
            Text(row.bar.status, style=STYLES.get(row.bar.status, "")), Text(row.note, style="dim"),
        )
    caption = [REPORTED_LEGEND] if any(row.duration.endswith(REPORTED) for row in rows) else []
    caption += [f"≈ {format_duration(stop - start)} idle, not to scale" for start, stop in scale.axis.breaks]
    if caption:
        table.caption = "  ".join(caption)
        table.caption_justify = "left"
    return table

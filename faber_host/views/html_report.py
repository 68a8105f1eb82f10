"""A run as one self-contained HTML page (``faber runs report``): styles, SVG chart and script are
inline, so it opens offline. Jinja autoescapes everything; only http(s) artifact URLs become links."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from faber_hookspecs.runs import RunRecord

from .chart import format_duration, format_offset, format_time
from .gantt import layout_gantt
from .summary import RelatedRun, header_facts, rerun_change_lines
from .timeline import OUTCOMES, Timeline, epoch_ms

Json = dict[str, Any]
DEFAULT_MAX_EVENTS = 5000
"""Events listed in the table by default; a larger run shows its first and last halves of this."""


@dataclass
class EventSample:
    """The events the table lists: all of them, or the first and last ones of a long run."""

    limit: int = DEFAULT_MAX_EVENTS
    head: list[Json] = field(default_factory=list)
    tail: deque[Json] = field(default_factory=deque)
    total: int = 0
    type_counts: Counter[str] = field(default_factory=Counter)

    def keep(self, events: Iterable[Json]) -> Iterator[Json]:
        """Pass ``events`` through, remembering the ones to list (0 as the limit keeps them all)."""
        half = self.limit // 2 if self.limit else 0
        for event in events:
            self.total += 1
            self.type_counts[event["type"]] += 1
            if not self.limit or len(self.head) < self.limit - half:
                self.head.append(event)
            else:
                self.tail.append(event)
                if len(self.tail) > half:
                    self.tail.popleft()
            yield event

    @property
    def omitted(self) -> int:
        """How many events the table leaves out."""
        return self.total - len(self.head) - len(self.tail)


def render_report(
    record: RunRecord, timeline: Timeline, sample: EventSample, related: list[RelatedRun], *, generated_at: str,
    generator: str,
) -> str:
    """The HTML page of a run."""
    origin = epoch_ms(timeline.origin) if timeline.origin else None
    facts = [fact for fact in header_facts(record, timeline, related)
             if fact.kind != "path" and fact.label not in ("params", "changed")]
    return str(_template().render(
        record=record,
        metadata=record.metadata,
        state=record.state,
        timeline=timeline,
        gantt=layout_gantt(timeline),
        facts=facts,
        related=related,
        rerun_changes=timeline.lineage.rerun_changes,
        rerun_lines=rerun_change_lines(timeline.lineage.rerun_changes),
        head=[_row(event, origin) for event in sample.head],
        tail=[_row(event, origin) for event in sample.tail],
        sample=sample,
        type_counts=sorted(sample.type_counts.items()),
        artifacts=[_artifact(name, artifact) for name, artifact in record.state.artifacts.items()],
        outcomes=[o for o in OUTCOMES if any(a.outcome == o for b in timeline.bars for a in b.attempts)],
        generated_at=format_time(generated_at),
        generator=generator,
        format_duration=format_duration,
        format_offset=format_offset,
        format_time=format_time,
    ))


def _row(event: Json, origin: int | None) -> Json:
    error = event.get("error") or {}
    return {
        "id": event["event_id"],
        "time": event["timestamp"][11:23],
        "date": event["timestamp"][:10],
        "offset": format_offset(epoch_ms(event["timestamp"]) - origin) if origin is not None else "",
        "type": event["type"],
        "where": "/".join(part for part in (event.get("phase"), event.get("step")) if part),
        "status": event.get("status") or "",
        "text": event.get("message") or error.get("message") or "",
        "error": ": ".join(part for part in (error.get("code"), error.get("message")) if part),
        "duration": format_duration(event["duration_ms"]) if event.get("duration_ms") is not None else "",
        "user": event.get("user") or "",
        "event": event,
    }


def _artifact(name: str, artifact: Mapping[str, Any]) -> Json:
    url = artifact.get("url")
    safe_url = url if isinstance(url, str) and url.lower().startswith(("https://", "http://")) else None
    return {
        "name": name,
        "type": artifact.get("type") or "",
        "where": "/".join(part for part in (artifact.get("phase"), artifact.get("step")) if part),
        "url": safe_url,
        "text": url or artifact.get("path") or "",
        "event_id": artifact.get("event_id"),
    }


@cache
def _template() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    environment = Environment(
        loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"), autoescape=True,
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    return environment.get_template("report.html.j2")


def report_filename_hint(run_id: str) -> str:
    """A file name for a run's report: ``report-<first 8 of uuid>.html``."""
    return f"report-{run_id.rsplit('/', 1)[-1][:8]}.html"

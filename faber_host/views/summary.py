"""A run in words (header facts, bar notes), shared by the terminal, text and HTML views."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from faber_hookspecs.runs import RunRecord

from .chart import format_duration, format_time
from .timeline import Bar, Timeline, build_timeline


@dataclass(frozen=True)
class Fact:
    """One line of a run's header: a label, a value, and what kind of value it is (for styling)."""

    label: str
    value: str
    kind: str = "text"  # "text", "status", "run" (a run id), "path"


@dataclass(frozen=True)
class RelatedRun:
    """A run linked to the one shown, and where it stands (None when it cannot be read here)."""

    run_id: str
    relation: str  # "re-run of", "parent", "root", "re-run"
    status: str | None


def header_facts(record: RunRecord, timeline: Timeline, related: list[RelatedRun]) -> list[Fact]:
    """The run's identity, status, times, parameters and lineage, in reading order."""
    metadata, state = record.metadata, record.state
    facts = [Fact("run", metadata.run_id, "run")]
    status = state.status + (f" ({state.paused_reason})" if state.paused_reason else "")
    facts.append(Fact("status", status, "status"))
    facts.append(Fact("work", metadata.work_id + (f" (target {metadata.target})" if metadata.target else "")
                      if metadata.work_id else "-"))
    workflow = metadata.workflow_id or "-"
    if metadata.autonomy:
        workflow += f" (autonomy {metadata.autonomy})"
    facts.append(Fact("workflow", workflow))
    facts.append(Fact("created", f"{format_time(metadata.created_at)} by {metadata.created_by or 'unknown'}"))
    if state.started_at:
        facts.append(Fact("started", format_time(state.started_at)))
    if state.completed_at:
        facts.append(Fact("completed", format_time(state.completed_at)))
    elif state.status in ("failed", "cancelled", "paused"):
        facts.append(Fact("stopped", format_time(state.updated_at)))
    if timeline.event_count:
        took = format_duration(timeline.end_ms)
        if timeline.sessions > 1:
            took += f" ({format_duration(timeline.active_ms)} active, resumed {timeline.sessions - 1}x)"
        facts.append(Fact("running for" if state.status == "in_progress" else "took", took))
    facts.append(Fact("events", str(state.last_event_id)))
    if metadata.params:
        facts.append(Fact("params", ", ".join(f"{key}={_short(value)}" for key, value in metadata.params.items())))
    for run in related:
        shown = f"{run.run_id} ({run.status or 'not found here'})"
        facts.append(Fact(run.relation, shown, "run"))
    for line in rerun_change_lines(timeline.lineage.rerun_changes):
        facts.append(Fact("changed", line))
    environment = metadata.environment
    where = ", ".join(
        part for part in (
            environment.hostname,
            environment.git_branch and f"branch {environment.git_branch}",
            environment.git_commit and f"commit {environment.git_commit[:12]}",
        ) if part
    )
    if where:
        facts.append(Fact("host", where))
    facts.append(Fact("folder", record.location, "path"))
    archived = archive_line(record)
    if archived:
        facts.append(Fact("archived", archived))
    if timeline.reconstructed:
        facts.append(
            Fact("note", "events rebuilt by `faber migrate`: some times are approximate (marked so in the chart)")
        )
    return facts


_LINK_KEYS = frozenset({"rerun_of", "parent_run_id", "root_run_id"})


def rerun_change_lines(changes: Mapping[str, object]) -> list[str]:
    """What a re-run changed, one line each, from its workflow_rerun event's metadata:
    ``parameter_changes`` as ``name: before → after``, anything else as ``key: value``."""
    lines = []
    parameters = changes.get("parameter_changes")
    if isinstance(parameters, Mapping):
        for name, change in parameters.items():
            if isinstance(change, Mapping) and {"from", "to"} <= set(change):
                before, after = _short(change["from"], 40, quote=True), _short(change["to"], 40, quote=True)
                lines.append(f"{name}: {before} → {after}")
            else:
                lines.append(f"{name}: {_short(change)}")
    for key, value in changes.items():
        if key not in _LINK_KEYS and key != "parameter_changes":
            lines.append(f"{key}: {_short(value, 120)}")
    return lines


def archive_line(record: RunRecord) -> str | None:
    """Where the run was archived, and whether its events are still here."""
    archive = record.metadata.archive
    if archive is None:
        return None
    line = f"{archive.url} at {archive.archived_at or 'an unknown time'} ({archive.event_count} events)"
    if not record.events_local:
        line += "; events removed here (faber restore RUN brings them back)"
    elif archive.last_event_id != record.state.last_event_id:
        line += f"; {record.state.last_event_id - (archive.last_event_id or 0)} events since"
    return line


def without_events(record: RunRecord) -> Timeline:
    """An empty timeline of the run, for its header when its events are not read."""
    return build_timeline([], record.metadata.to_json())


def related_runs(record: RunRecord) -> list[tuple[str, str]]:
    """The runs linked to this one, as ``(relation, run_id)``, without duplicates."""
    links = record.metadata.relationships
    found: list[tuple[str, str]] = []
    for relation, run_id in (
        ("re-run of", links.rerun_of), ("parent", links.parent_run_id), ("root", record.metadata.root_run_id),
        *(("re-run", child) for child in links.child_runs),
    ):
        if run_id and run_id != record.metadata.run_id and run_id not in {r for _, r in found}:
            found.append((relation, run_id))
    return found


def bar_note(bar: Bar) -> str:
    """What the bar alone does not say: attempts, retries, the error, unknown times."""
    parts = []
    repeated = {"step": "{} attempts", "phase": "ran {}x", "run": "{} sessions"}.get(bar.kind)
    if repeated and len(bar.attempts) > 1:
        parts.append(repeated.format(len(bar.attempts)))
    if bar.retries:
        parts.append(f"{bar.retries} retr{'y' if bar.retries == 1 else 'ies'}")
    if bar.attempts and not all(a.time_known for a in bar.attempts):
        parts.append("time approximate")
    error = bar.error
    if error is not None and bar.status == "failed":
        parts.append(": ".join(part for part in (error.code, error.message) if part))
    return " · ".join(parts)


def bar_label(bar: Bar) -> str:
    """The row's name, indented under its phase."""
    if bar.kind in ("step", "approval"):
        prefix = "approval: " if bar.kind == "approval" and not bar.label.startswith("approval") else ""
        return "  " + prefix + bar.label
    return bar.label


def _short(value: object, limit: int = 60, *, quote: bool = False) -> str:
    if isinstance(value, str) and not quote:
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def artifact_lines(artifacts: Mapping[str, Mapping[str, object]]) -> list[tuple[str, str, str]]:
    """``(name, type, where)`` for each artifact of the state; ``where`` is its URL or path."""
    return [
        (name, str(artifact.get("type") or "-"), str(artifact.get("url") or artifact.get("path") or ""))
        for name, artifact in artifacts.items()
    ]

"""Rebuild a run from the old single-file FABER state (``.fractary/plugins/faber/state.json``, which kept
the latest state and no event log): a pure function of the file's contents.

Times the file recorded are used and marked ``"recorded"``; the others (step and artifact times) are
placed at the nearest recorded time, never going back, and marked ``"approximate"``. What cannot become
an event is listed in ``not_recovered``, and the whole file is kept in the metadata (``migrated_from``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from faber_hookspecs.catalogue import PHASES
from faber_hookspecs.errors import InvalidInput

Json = dict[str, Any]
SOURCE = "faber-migrate"

_KNOWN_KEYS = frozenset({
    "target", "work_id", "issue_number", "workflow_version", "config_hash", "status", "current_phase",
    "current_step", "current_step_id", "additional_instructions", "started_at", "updated_at", "completed_at",
    "phases", "pending_approvals", "errors", "retries", "artifacts", "metadata", "workflow_id", "workflow",
    "autonomy", "source_type", "run_id",
})
_ARTIFACT_EVENTS = {"branch": "branch_create", "spec": "spec_generate", "spec_path": "spec_generate",
                    "pr": "pr_create", "pr_url": "pr_create", "commit": "commit_create", "commits": "commit_create"}
_FINAL_EVENTS = {"completed": "workflow_complete", "failed": "workflow_error", "cancelled": "workflow_cancelled",
                 "paused": "workflow_paused", "awaiting_approval": "workflow_paused", "waiting": "workflow_paused"}
_STEP_ID_MAX = 128
_STEP_TIMES = ("when each step started and ended, and how long it took: the old file keeps phase times only, so "
               "steps are placed at their phase's end (or the last update), marked approximate, with no duration")


@dataclass
class MigrationPlan:
    """What the old file becomes: the new run's metadata and events, and what was left behind."""

    metadata: Json
    events: list[Json]
    recovered: list[str] = field(default_factory=list)
    not_recovered: list[str] = field(default_factory=list)


def plan_migration(
    old: Mapping[str, Any], *, run_id: str, source: str, source_sha256: str, migrated_at: str, migrated_by: str | None,
    workflow_id: str | None = None, work_id: str | None = None,
) -> MigrationPlan:
    """The run that the old state ``old`` (the parsed file) describes, under the new id ``run_id``.
    ``source`` names the file and ``migrated_at`` is now (both recorded in the metadata)."""
    return _Planner(old, run_id, workflow_id, work_id).plan(source, source_sha256, migrated_at, migrated_by)


def utc_ms_timestamp(value: object) -> str | None:
    """A timestamp of the old file (``2025-11-19T15:00:00Z``, with or without milliseconds or an
    offset) in the event format ``2025-11-19T15:00:00.000Z``; None when it is not a timestamp."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the reference wrote UTC; a bare time is read as UTC
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"


class _Planner:
    def __init__(self, old: Mapping[str, Any], run_id: str, workflow_id: str | None, work_id: str | None) -> None:
        self.old = old
        self.run_id = run_id
        self.workflow_id = workflow_id
        self.work_id = work_id
        self.events: list[Json] = []
        self.recovered: list[str] = []
        self.not_recovered: list[str] = []
        self.clock = ""  # the time of the last event: times never go back
        self.recorded_update = self._time(old.get("updated_at"), "updated_at")
        self.last_update = ""  # the last time the file knew of: updated_at, else its latest time
        self.seen_artifacts: set[str] = set()
        self.used_errors: set[int] = set()
        self.phase_errors: dict[str, Json] = {}  # the error each failed phase reported

    def plan(self, source: str, sha256: str, migrated_at: str, migrated_by: str | None) -> MigrationPlan:
        old = self.old
        work_id = self.work_id or _text(old.get("work_id")) or _text(old.get("issue_number"))
        if not work_id:
            raise InvalidInput(f"{source} names no work_id (nor issue_number); give one with --work-id")
        phases = _object(old.get("phases"))
        started = self._time(old.get("started_at"), "started_at")
        phase_times = [
            self._time(_object(phases.get(p)).get(k)) for p in PHASES for k in ("started_at", "completed_at")
        ]
        known_times = [t for t in (started, *phase_times, self.recorded_update) if t]
        if not known_times:
            raise InvalidInput(f"{source} holds no time at all (started_at, updated_at or a phase's times); "
                               "it cannot be placed on a timeline")
        first = min(known_times)
        self.last_update = self.recorded_update or max(known_times)
        status = _text(old.get("status")) or "pending"
        extra = _object(old.get("metadata"))

        phase_began = any(
            isinstance(phases.get(p), dict) and phases[p].get("status") not in (None, "pending") for p in PHASES
        )
        if status != "pending" or phase_began:
            self._add("workflow_start", started or first, recorded=started is not None,
                      metadata={"work_id": work_id, **({"autonomy": extra["autonomy_level"]}
                                                       if isinstance(extra.get("autonomy_level"), str) else {})})
            if started is None:
                self.not_recovered.append("when the run started (no started_at): its first recorded time is used")
        for name in PHASES:
            phase = phases.get(name)
            if isinstance(phase, dict):
                self._phase(name, phase, status)
            elif phase is not None:
                self.not_recovered.append(f"phase {name}: not an object in the old file, left out")
        self._top_artifacts(old.get("artifacts"))
        self._retries(old.get("retries"))
        self._approvals(old.get("pending_approvals"))
        self._errors(old.get("errors"))
        self._final(status, old)
        unknown_phases = sorted(set(phases) - set(PHASES))
        if unknown_phases:
            self.not_recovered.append(
                f"phases FABER does not have: {', '.join(unknown_phases)} (kept in metadata only)"
            )
        self.not_recovered.append("who ran it, on which machine, branch and commit (the old file does not say)")
        self.not_recovered.append(
            "anything that happened between updates (agent calls, decisions, messages): the old file kept "
            "only the latest state"
        )
        if not self.workflow_id and not _text(old.get("workflow_id")) and not _text(old.get("workflow")):
            self.not_recovered.append("the workflow id (the old file does not name it): 'default' is assumed")
        unknown = sorted(set(old) - _KNOWN_KEYS)
        if unknown:
            self.not_recovered.append(f"fields with no place in a run: {', '.join(unknown)} (kept in metadata only)")

        metadata: Json = {
            "run_id": self.run_id,
            "work_id": work_id,
            "target": _text(old.get("target")),
            "workflow_id": self.workflow_id or _text(old.get("workflow_id")) or _text(old.get("workflow")) or "default",
            "autonomy": _text(extra.get("autonomy_level")) or _text(old.get("autonomy")),
            "source_type": _text(old.get("source_type")),
            "phases": list(PHASES),
            "created_at": started or first,
            "created_by": None,
            "relationships": {"parent_run_id": None, "rerun_of": None, "child_runs": []},
            "environment": {"hostname": None, "git_branch": None, "git_commit": None, "working_directory": None},
            "params": ({"additional_instructions": old["additional_instructions"]}
                       if isinstance(old.get("additional_instructions"), str) else {}),
            "root_run_id": None,
            "migrated_from": {
                "file": source,
                "sha256": sha256,
                "migrated_at": migrated_at,
                "migrated_by": migrated_by,
                "recovered": self.recovered,
                "not_recovered": self.not_recovered,
                "old_state": dict(old),
            },
        }
        return MigrationPlan(metadata, self.events, self.recovered, self.not_recovered)

    def _phase(self, name: str, phase: Mapping[str, Any], run_status: str) -> None:
        status = _text(phase.get("status")) or "pending"
        started = self._time(phase.get("started_at"), f"phases.{name}.started_at")
        ended = self._time(phase.get("completed_at"), f"phases.{name}.completed_at")
        if status == "pending" and not started:
            return
        said_at = len(self.recovered)  # the phase's own line comes before its artifacts'
        if status == "skipped":
            self._add("phase_skip", ended or started or self.clock, recorded=bool(ended or started), phase=name)
            self.recovered.append(f"phase {name}: skipped")
            return
        self._add("phase_start", started or self.clock, recorded=started is not None, phase=name)
        hooks = _object(phase.get("hooks_executed"))
        for hook in _strings(hooks.get("pre")):
            self._add("hook_execute", self.clock, recorded=False, phase=name, message=f"pre hook {hook}",
                      metadata={"hook": hook, "when": "pre"})
        finished_at = ended if status in ("completed", "failed") and ended else self.last_update
        steps = _step_ids(phase.get("completed_steps")) or _step_ids(phase.get("completed_step_ids"), strip=name)
        for step in steps:
            self._add("step_complete", finished_at, recorded=False, phase=name, step=step, duration_ms=0,
                      extra={"duration": "unknown"})
        if steps:
            self._note_once(_STEP_TIMES)
        current = _step_id(phase.get("current_step")) or _step_id(phase.get("current_step_id"), strip=name)
        if not current and _text(self.old.get("current_phase")) == name:
            current = _step_id(self.old.get("current_step")) or _step_id(self.old.get("current_step_id"), strip=name)
        if current and current not in steps and status in ("in_progress", "failed"):
            self._add("step_start", self.last_update, recorded=False, phase=name, step=current,
                      extra={"note": "the step was current at the last update; when it started is unknown"})
            if status == "failed":
                self._add("step_error", finished_at, recorded=False, phase=name, step=current,
                          error=self._error_for(name, current, level="step"))
        for text in _strings(phase.get("artifacts")):
            self._artifact_text(text, name, finished_at)
        for hook in _strings(hooks.get("post")):
            self._add("hook_execute", finished_at, recorded=False, phase=name, message=f"post hook {hook}",
                      metadata={"hook": hook, "when": "post"})
        if status == "completed":
            self._add("phase_complete", ended or finished_at, recorded=ended is not None, phase=name)
        elif status == "failed":
            self._add("phase_error", ended or finished_at, recorded=ended is not None, phase=name,
                      error=self._error_for(name, None, level="phase"))
        elif status not in ("in_progress", "pending"):
            self.not_recovered.append(f"phase {name}: status {status!r} has no FABER event; it is shown as in progress")
        described = f"phase {name}: {status}"
        if started or ended:
            described += ", with its " + " and ".join(w for w, t in (("start", started), ("end", ended)) if t) + " time"
        if steps:
            described += f"; {len(steps)} completed step{'s' if len(steps) > 1 else ''} ({', '.join(steps)})"
        if current and current not in steps and status in ("in_progress", "failed"):
            described += f"; current step {current}"
        self.recovered.insert(said_at, described)
        if steps or current:
            self._note_once(_STEP_TIMES)
        if run_status == "completed" and status == "in_progress":
            self.not_recovered.append(f"phase {name} is in progress in a completed run; it is left in progress")

    def _artifact_text(self, text: str, phase: str | None, at: str) -> None:
        kind, separator, value = text.partition(":")
        if not separator:
            kind, value = "artifact", text
        self._artifact(kind.strip(), value.strip(), phase, at)

    def _artifact(self, kind: str, value: str, phase: str | None, at: str) -> None:
        if not value or value in self.seen_artifacts:
            return
        self.seen_artifacts.add(value)
        event_type = _ARTIFACT_EVENTS.get(kind, "artifact_create")
        artifact: Json = {"type": kind.removesuffix("_path").removesuffix("_url").removesuffix("s") or "artifact"}
        if value.startswith(("http://", "https://")):
            artifact |= {"name": value, "url": value}
        elif kind.endswith("_path") or kind in ("file", "spec", "doc", "docs"):
            artifact |= {"name": value.rsplit("/", 1)[-1] or value, "path": value}
        else:
            artifact["name"] = value
        self._add(event_type, at, recorded=False, phase=phase, artifacts=[artifact])
        self.recovered.append(f"artifact {artifact['type']} {value}" + (f" (phase {phase})" if phase else ""))
        self._note_once("when each artifact was made: it is placed at its phase's end or the last update")

    def _top_artifacts(self, artifacts: object) -> None:
        if not isinstance(artifacts, dict):
            return
        for key, value in artifacts.items():
            if value is None or value == [] or value == "":
                continue
            if key == "pr_number":
                if not artifacts.get("pr_url"):
                    self._artifact("pr", f"#{value}", None, self.last_update)
                continue
            values = value if isinstance(value, list) else [value]
            for item in values:
                if isinstance(item, (str, int, float)):
                    self._artifact(str(key), str(item), self._phase_of(str(item)), self.last_update)
                else:
                    self.not_recovered.append(f"artifact {key}: {json.dumps(item)[:80]} is not a plain value")

    def _phase_of(self, value: str) -> str | None:
        phases = _object(self.old.get("phases"))
        for name in PHASES:
            phase = phases.get(name)
            if isinstance(phase, dict) and any(value in text for text in _strings(phase.get("artifacts"))):
                return name
        return None

    def _retries(self, retries: object) -> None:
        if not isinstance(retries, dict):
            return
        for name, count in retries.items():
            if name in PHASES and isinstance(count, int) and count > 0:
                for _ in range(min(count, 100)):
                    self._add("retry_loop_enter", self.last_update, recorded=False, phase=name)
                self.recovered.append(f"{count} retry round{'s' if count > 1 else ''} of {name}")
                self._note_once("when each retry round happened")

    def _approvals(self, approvals: object) -> None:
        for request in approvals if isinstance(approvals, list) else []:
            if not isinstance(request, dict):
                request = {"message": str(request)}
            phase = request.get("phase") if request.get("phase") in PHASES else None
            at = self._time(request.get("requested_at") or request.get("timestamp"))
            self._add("approval_request", at or self.last_update, recorded=at is not None, phase=phase,
                      message=_text(request.get("message") or request.get("reason")) or "approval requested")
            self.recovered.append(f"pending approval{f' for {phase}' if phase else ''}")

    def _errors(self, errors: object) -> None:
        for index, error in enumerate(errors if isinstance(errors, list) else []):
            if index in self.used_errors:
                continue
            entry = error if isinstance(error, dict) else {"message": str(error)}
            phase = entry.get("phase") if entry.get("phase") in PHASES else None
            at = self._time(entry.get("timestamp") or entry.get("at"))
            self._add("checkpoint", at or self.last_update, recorded=at is not None, phase=phase,
                      step=_step_id(entry.get("step")), message="an error recorded in the old state file",
                      error=_error(entry))
            self.recovered.append(f"error {_error(entry)['code']}")

    def _final(self, status: str, old: Mapping[str, Any]) -> None:
        kind = _FINAL_EVENTS.get(status)
        if kind is None:
            if status not in ("in_progress", "pending"):
                self.not_recovered.append(f"the run's status {status!r} has no FABER event; the run stays in progress")
            as_of = f" as of {self.last_update}" if status == "in_progress" else ""
            self.recovered.append(f"status {status}{as_of}")
            return
        ended = self._time(old.get("completed_at")) if kind == "workflow_complete" else None
        fields: Json = {}
        if kind == "workflow_error":
            fields["error"] = self._error_for(_text(old.get("current_phase")), None, level="run")
            fields["phase"] = _text(old.get("current_phase")) if old.get("current_phase") in PHASES else None
        if kind == "workflow_paused":
            fields["message"] = "paused (from the old state file)"
        self._add(kind, ended or self.last_update, recorded=True, **fields)
        self.recovered.append(f"status {status}")

    def _error_for(self, phase: str | None, step: str | None, *, level: str = "step") -> Json:
        """The old file's error for a failed step, phase or run (``level``), each used once: a step's
        own error; for a phase, its own or else its failed step's; for the run, its failed phase's or
        else the latest one left; when the file kept none, an error saying so."""
        errors = self.old.get("errors")
        errors = errors if isinstance(errors, list) else []

        def take(match: Callable[[Mapping[str, Any]], bool]) -> Json | None:
            for index in range(len(errors) - 1, -1, -1):
                entry = errors[index]
                if index not in self.used_errors and isinstance(entry, dict) and match(entry):
                    self.used_errors.add(index)
                    return _error(entry)
            return None

        found: Json | None
        if level == "step":
            found = take(lambda e: e.get("phase") == phase and _step_id(e.get("step")) in (step, None))
        elif level == "phase":
            found = take(lambda e: e.get("phase") == phase and not e.get("step")) or self.phase_errors.get(phase or "")
        else:
            found = self.phase_errors.get(phase or "") or take(lambda e: True)
        if found is None:
            self._note_once("the error that stopped the run: the old file kept none, so the error says so")
            found = {"code": "MIGRATED_WITHOUT_DETAILS",
                     "message": "the old state file marks this as failed but kept no error details"}
        if phase and level != "run":
            self.phase_errors.setdefault(phase, found)
        return found

    def _add(self, kind: str, at: str, *, recorded: bool, extra: Json | None = None, **fields: Any) -> None:
        timing = "recorded" if recorded else "approximate"
        if at < self.clock:  # keep the log's times in order: a time before the last one is moved up
            at, timing = self.clock, "approximate"
        self.clock = at
        metadata = dict(fields.pop("metadata", None) or {})
        metadata["reconstructed"] = {"from": "old state file", "timing": timing, **(extra or {})}
        event: Json = {"event_id": len(self.events) + 1, "type": kind, "timestamp": at, "run_id": self.run_id,
                       "source": SOURCE, "metadata": metadata}
        event.update({key: value for key, value in fields.items() if value is not None})
        self.events.append(event)

    def _time(self, value: object, where: str | None = None) -> str | None:
        moment = utc_ms_timestamp(value)
        if value not in (None, "") and moment is None and where:
            self.not_recovered.append(f"{where} {str(value)[:40]!r} is not a time; it is ignored")
        return moment

    def _note_once(self, text: str) -> None:
        if text not in self.not_recovered:
            self.not_recovered.append(text)


def _object(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value.strip() or None if isinstance(value, str) else None


def _strings(value: object) -> list[str]:
    return [str(item) for item in value if isinstance(item, (str, int))] if isinstance(value, list) else []


def _step_id(value: object, strip: str | None = None) -> str | None:
    text = _text(value)
    if text and strip and text.startswith(f"{strip}:"):
        text = text[len(strip) + 1 :]
    if not text:
        return None
    # Step ids in events are slugs; an old free-text id is turned into one.
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in text).strip("-._")[:_STEP_ID_MAX]
    return cleaned or None


def _step_ids(value: object, strip: str | None = None) -> list[str]:
    ids = [_step_id(item, strip) for item in _strings(value)]
    return list(dict.fromkeys(step for step in ids if step))


def _error(entry: Mapping[str, Any]) -> Json:
    code = _text(entry.get("code") or entry.get("error_code") or entry.get("type")) or "MIGRATED_ERROR"
    message = _text(entry.get("message") or entry.get("error")) or "no message was kept"
    error: Json = {"code": code[:256], "message": message}
    if isinstance(entry.get("recoverable"), bool):
        error["recoverable"] = entry["recoverable"]
    return error

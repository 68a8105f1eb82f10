"""What the benchmarks write: projects, realistic event sequences, big runs, and the plain loops
that stand for the disk's limit."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from itertools import chain, count, cycle, islice
from pathlib import Path
from typing import Any

from faber_backend_local_files.files import overwrite_counter
from faber_backend_local_files.run_folder import event_file_name
from faber_backend_local_files.store import LocalRunStore
from faber_hookspecs.run_id import RunId
from faber_hookspecs.wire import canonical_event, dump_event, utc_timestamp

from faber_host.api import Faber
from faber_host.init import initialize

PHASE_STEPS = {
    "frame": ["fetch-work", "classify"],
    "architect": ["design", "spec"],
    "build": ["implement", "lint", "unit-tests"],
    "evaluate": ["review", "integration-tests"],
    "release": ["open-pr"],
}


def workflow_cycle() -> Iterator[dict[str, Any]]:
    """Draft fields of one pass through a FABER workflow, as an agent emits them (with messages,
    metadata and an artifact, so events weigh what real ones do: 300 to 500 bytes on disk)."""
    yield {"type": "workflow_start", "message": "starting the workflow", "metadata": {"work_id": "1234"}}
    for phase, steps in PHASE_STEPS.items():
        yield {"type": "phase_start", "phase": phase, "message": f"entering {phase}"}
        for step in steps:
            yield {"type": "step_start", "phase": phase, "step": step, "status": "started",
                   "message": f"{step}: started by the agent"}
            yield {"type": "step_complete", "phase": phase, "step": step, "status": "completed",
                   "duration_ms": 1234, "message": f"{step}: done",
                   "metadata": {"tool": "claude-code", "tokens": 5123, "files_changed": 3}}
        yield {"type": "checkpoint", "phase": phase, "message": f"{phase} checkpoint",
               "artifacts": [{"type": "file", "name": f"{phase}-notes", "path": f"docs/{phase}.md"}]}
        yield {"type": "phase_complete", "phase": phase, "duration_ms": 4567}
    yield {"type": "workflow_complete", "message": "all phases done"}


def drafts(count: int) -> Iterator[dict[str, Any]]:
    """``count`` draft events: a workflow's start, then its phases again and again (a finished run
    takes no new events, so the run never completes)."""
    events = list(workflow_cycle())
    return islice(chain(events[:1], cycle(events[1:-1])), count)


def step_drafts(first: int) -> Iterator[dict[str, Any]]:
    """A long workflow's build phase from step ``first`` on: each step a new one (started, then
    completed), so the run's state grows by a step every two events."""
    for number in count(first):
        step = f"step-{number:05d}"
        yield {"type": "step_start", "phase": "build", "step": step, "status": "started",
               "message": f"{step}: started by the agent"}
        yield {"type": "step_complete", "phase": "build", "step": step, "status": "completed",
               "duration_ms": 1234, "message": f"{step}: done",
               "metadata": {"tool": "claude-code", "tokens": 5123, "files_changed": 3}}


def new_project(root: Path, *, sync: bool) -> Path:
    """An initialised project with sync_writes on or off."""
    root.mkdir(parents=True)
    initialize(root, "bench", "widget", {})
    gateway = root / ".fractary/plugins/faber/gateway.json"
    document = json.loads(gateway.read_text())
    document["backends"]["local_files"]["config"]["sync_writes"] = sync
    gateway.write_text(json.dumps(document, indent=2) + "\n")
    return root


def open_api(root: Path) -> Faber:
    """The Python API on a project, read with an empty environment (nothing points elsewhere)."""
    return Faber.open(root, {})


def runs_dir(root: Path) -> str:
    return os.fspath(root / ".fractary/plugins/faber/runs")


def fill_run(root: Path, run_id: str, events: int, pending: Iterator[dict[str, Any]] | None = None) -> None:
    """Give a run ``events`` more events (``pending``'s, by default the workflow cycle's), in the store's
    exact format: event files named and written as the store writes them, the counter, and a
    state.json rebuilt by the store's reducer. Written directly (one open and write per file, no fsync,
    no state per event), so a 100,000-event run takes seconds: this is setting up, not what is measured."""
    store = LocalRunStore(runs_dir(root), sync=False)
    parsed = RunId.parse(run_id)
    folder = store.folder(parsed)
    first = folder.next_id()
    for event_id, draft in enumerate(islice(pending or drafts(events), events), start=first):
        event = canonical_event({"user": "bench", "source": "bench", **draft, "event_id": event_id,
                                 "timestamp": utc_timestamp(), "run_id": run_id})
        path = os.path.join(folder.events_dir, event_file_name(event_id, event["type"]))
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(descriptor, dump_event(event))
        os.close(descriptor)
    overwrite_counter(folder.next_id_file, first + events, 0o600)
    store.write_state_if_newer(parsed, store.reconstruct(parsed))


def fill_steps(root: Path, run_id: str, steps: int) -> None:
    """Give a new run the start of a long workflow: ``steps`` build steps, each started and completed."""
    fill_run(root, run_id, 2, iter([{"type": "workflow_start", "message": "starting the workflow"},
                                    {"type": "phase_start", "phase": "build", "message": "entering build"}]))
    fill_run(root, run_id, 2 * steps, step_drafts(1))


def sample_event_bytes() -> bytes:
    """An event file as the store writes it (about 400 bytes): what the plain loops write."""
    event = {"event_id": 123, "type": "step_complete", "timestamp": "2026-11-26T07:13:25.215Z",
             "run_id": "bench/widget/ee04a6d4-8111-4fde-8172-e0639c154b63", "phase": "build",
             "step": "implement", "status": "completed", "user": "bench", "source": "faber-api",
             "message": "implement: done", "metadata": {"tool": "claude-code", "tokens": 5123, "files_changed": 3},
             "duration_ms": 1234}
    return (json.dumps(event, indent=2) + "\n").encode()


class PlainWriter:
    """The disk's limit: a loop writing one new file per operation, by temporary file and rename,
    with (``sync``) the file fsync and the directory fsync a durable event needs."""

    def __init__(self, directory: Path, *, sync: bool) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = os.fspath(directory)
        self.temporary = os.path.join(self.directory, ".tmp")
        self.sync = sync
        self.data = sample_event_bytes()
        self.written = 0

    def write(self, _index: int = 0) -> None:
        self.written += 1
        fd = os.open(self.temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, self.data)
        if self.sync:
            os.fsync(fd)
        os.close(fd)
        os.rename(self.temporary, os.path.join(self.directory, f"{self.written:03d}-step_complete.json"))
        if self.sync:
            directory = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
            os.fsync(directory)
            os.close(directory)

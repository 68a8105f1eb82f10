"""faber-jsonl-mirror: every event of every run, mirrored to ``{path}/{org}/{project}/{uuid}.jsonl``.

An example to copy: a third-party faber backend in one small module. It shows the three things every
backend has: a pydantic ``config_model`` (the ``config`` object of its entry in gateway.json), a
constructor taking ``(config, context)``, and methods marked ``@hookimpl`` whose names and argument
names are those of the hook specifications in ``faber_hookspecs.specs``.

One line per event, in the order the events were stored, so ``tail -f`` follows a run and ``jq`` or a
log shipper reads it. The record of truth stays with the record store (local_files); this is a copy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from faber_hookspecs import hookimpl
from faber_hookspecs.events import Event
from faber_hookspecs.nofollow import open_beneath, refused
from faber_hookspecs.records import BackendContext
from faber_hookspecs.reports import HealthCheck
from faber_hookspecs.run_id import RunId
from faber_hookspecs.state import RunState
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["JsonlMirror", "JsonlMirrorConfig"]


class JsonlMirrorConfig(BaseModel):
    """``backends.jsonl_mirror.config`` in gateway.json."""

    model_config = ConfigDict(extra="forbid")  # a misspelled key is an error, not silently ignored

    path: str = Field(".fractary/plugins/faber/mirror", description="The mirror folder, relative to the project.")
    types: list[str] | None = Field(None, description="Mirror only these event types (default: every event).")


class JsonlMirror:
    """Appends each stored event, as one JSON line, to its run's mirror file."""

    config_model = JsonlMirrorConfig

    def __init__(self, config: JsonlMirrorConfig, context: BackendContext) -> None:
        path = Path(config.path)
        self.root = path if path.is_absolute() else context.root / path
        self.types = set(config.types) if config.types is not None else None

    def mirror_file(self, run_id: str) -> Path:
        """Where a run's events are mirrored. ``RunId.parse`` validates: no id becomes a bad path."""
        run = RunId.parse(run_id)
        return self.root / run.org / run.project / f"{run.uuid}.jsonl"

    @hookimpl
    def faber_emit_event(self, event: Event, state: RunState) -> None:
        """Called after each stored event. Raising here only shows a warning: the event is safe."""
        if self.types is not None and event.type not in self.types:
            return
        target = self.mirror_file(event.run_id)
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps(event.to_json(), ensure_ascii=False) + "\n"  # the event file's form, on one line
        # One write on an O_APPEND file: lines of concurrent writers never interleave. Opened without
        # following a link below the mirror folder: a planted one must not lead the write elsewhere.
        try:
            fd = open_beneath(self.root, target.relative_to(self.root).as_posix(),
                              os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600, dir_mode=0o700)
        except OSError as problem:
            raise refused(target, problem) from None
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)

    @hookimpl
    def faber_check_health(self) -> list[HealthCheck]:
        """Called by ``faber doctor``: can the mirror folder take a file?"""
        probe = self.root / f".probe-{os.getpid()}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as problem:
            return [HealthCheck(name="mirror writable", verdict="fail", detail=f"{self.root}: {problem.strerror}")]
        return [HealthCheck(name="mirror writable", verdict="ok", detail=str(self.root))]

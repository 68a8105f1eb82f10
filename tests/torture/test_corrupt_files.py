"""Damaged runs on disk: every file of a run in turn truncated, emptied, filled with garbage or wrong
types, nested a hundred thousand deep, replaced by a folder, by a symlink leading out of the runs
folder, or deleted, then every command run on it. Always one clear line or a usable answer; never a
traceback, never a write outside the runs folder, and the events and metadata already stored stay
exactly as they were."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FABER, clean_environ

from faber_host.api import Faber

from .clirun import run_faber
from .kit import RUNS, files_outside, record

TARGETS = {
    "an event file": "events/003-step_start.json",
    "the last event file": "events/005-step_complete.json",
    "state.json": "state.json",
    "metadata.json": "metadata.json",
    ".next-id": "events/.next-id",
    ".lock": "events/.lock",
    ".pending": "events/.pending",
    "a state buffer": ".state.json.swap1",
    "the events folder": "events",
}

WRONG_TYPES = {
    "events/003-step_start.json": {"event_id": "three", "type": 7, "timestamp": [], "run_id": None, "phase": {"x": 1}},
    "events/005-step_complete.json": {"event_id": 5, "type": "step_complete", "timestamp": "2026-01-01T00:00:00.000Z",
                                      "run_id": "RUN", "phase": "build", "step": "s", "duration_ms": "slow"},
    "state.json": {"run_id": 5, "last_event_id": "x", "phases": [], "reducer_version": 1, "status": {}},
    "metadata.json": {"run_id": 5, "work_id": [], "created_at": None, "params": "p", "phases": "all"},
    "events/.next-id": "-7",
    "events/.pending": {"event_id": "x", "type": None},
}


Damage = Callable[[Path, bytes | None, Path | None], None]


def corruptions(outside: Path) -> dict[str, Damage]:
    """Each way of damaging a path that has just been removed: ``original`` holds its old bytes (None
    for a folder or a file that was not there), ``copy`` a copy of an old folder, outside the runs
    folder (``outside``)."""

    def truncate(path: Path, original: bytes | None, copy: Path | None) -> None:
        data = original or b'{"event_id": 1, "ty'
        path.write_bytes(data[: max(1, len(data) // 2)])

    def empty(path: Path, original: bytes | None, copy: Path | None) -> None:
        path.write_bytes(b"")

    def garbage(path: Path, original: bytes | None, copy: Path | None) -> None:
        path.write_bytes(bytes(range(256)) * 3 + b"\x00\xff\xfe")

    def nested_deeply(path: Path, original: bytes | None, copy: Path | None) -> None:
        path.write_text("[" * 100_000)  # the json module's parser recurses: a RecursionError, not a ValueError

    def not_an_object(path: Path, original: bytes | None, copy: Path | None) -> None:
        path.write_text("[1, 2, 3]")

    def wrong_types(path: Path, original: bytes | None, copy: Path | None) -> None:
        relative = f"{path.parent.name}/{path.name}" if path.parent.name == "events" else path.name
        value = WRONG_TYPES.get(relative, {"event_id": "x"})
        path.write_text(value if isinstance(value, str) else json.dumps(value))

    def folder(path: Path, original: bytes | None, copy: Path | None) -> None:
        path.mkdir()
        (path / "inside.json").write_text("{}")

    def symlink_out(path: Path, original: bytes | None, copy: Path | None) -> None:
        # The link leads to a faithful copy, so a reader that followed it would find valid data:
        # only refusing to follow it passes.
        if copy is not None:
            path.symlink_to(copy)
            return
        target = outside / f"planted-{len(list(outside.iterdir()))}-{path.name}"
        target.write_bytes(original if original is not None else b"{}")
        path.symlink_to(target)

    def missing(path: Path, original: bytes | None, copy: Path | None) -> None:
        pass

    return {
        "truncated": truncate, "empty": empty, "binary garbage": garbage, "nested deeply": nested_deeply,
        "a JSON array": not_an_object,
        "wrong types": wrong_types, "a folder": folder, "a symlink out of the runs folder": symlink_out,
        "missing": missing,
    }


COMMANDS = [
    ["events", "{run}", "--json"],
    ["events", "{run}", "--since-id", "4"],
    ["events", "{run}", "--type", "step_start"],
    ["runs", "show", "{run}", "--json"],
    ["runs", "show", "{short}"],
    ["runs", "list", "--json"],
    ["runs", "reconstruct", "{run}"],
    ["event", "emit", "{run}", "checkpoint", "--message", "after the damage"],
]


def protected(run_dir: Path) -> dict[str, bytes | str]:
    """What must never change: each event file and metadata.json (their bytes, or what they are)."""
    found: dict[str, bytes | str] = {}
    for path in [run_dir / "metadata.json", *sorted((run_dir / "events").glob("[0-9]*.json"))] if (run_dir / "events").is_dir() else []:
        if path.is_symlink():
            found[path.name] = f"symlink to {os.readlink(path)}"
        elif path.is_dir():
            found[path.name] = "folder"
        elif path.exists():
            found[path.name] = path.read_bytes()
    return found


@pytest.fixture
def damaged_project(tmp_path: Path, project_dir: Path, faber: Faber) -> tuple[Path, str]:
    """A project with one run of five events (and a second, healthy run), ready to be copied."""
    run_id = faber.new_run("damage").run_id
    faber.emit(run_id, "workflow_start")
    faber.emit(run_id, "phase_start", phase="build")
    faber.emit(run_id, "step_start", phase="build", step="compile")
    faber.emit(run_id, "step_error", phase="build", step="compile", error={"code": "E", "message": "boom"})
    faber.emit(run_id, "step_complete", phase="build", step="compile", duration_ms=5)
    faber.emit(faber.new_run("healthy").run_id, "workflow_start")
    return project_dir, run_id


def test_every_command_on_every_damaged_file(tmp_path: Path, damaged_project: tuple[Path, str]) -> None:
    pristine, run_id = damaged_project
    outside = tmp_path / "outside"
    outside.mkdir()
    cases = 0
    failures: list[str] = []
    kinds = corruptions(outside)
    for target_name, relative in TARGETS.items():
        for kind_name, damage in kinds.items():
            if relative == "events" and kind_name in ("wrong types", "a JSON array", "a folder"):
                continue  # the events folder as a folder is no damage; a file in its place is "garbage"
            project = tmp_path / f"case-{cases}"
            shutil.copytree(pristine, project, symlinks=True)
            run_dir = project / RUNS / run_id
            path = run_dir / relative
            original, copy = None, None
            if path.is_dir():
                copy = outside / f"folder-{cases}"
                shutil.copytree(path, copy)
                shutil.rmtree(path)
            elif path.exists():
                original = path.read_bytes()
                path.unlink()
            damage(path, original, copy)
            before = protected(run_dir)
            outside_before = files_outside(tmp_path, project / RUNS)
            for command in COMMANDS:
                args = [part.format(run=run_id, short=run_id.split("/")[-1][:8]) for part in command]
                outcome = run_faber(project, *args)
                cases += 1
                for problem in outcome.problems():
                    failures.append(f"{target_name} {kind_name}: faber {' '.join(args)}: {problem}")
                after = protected(run_dir)
                changed = sorted(name for name in before if after.get(name) != before[name])
                if changed:
                    failures.append(f"{target_name} {kind_name}: faber {' '.join(args)} changed {changed}")
                if files_outside(tmp_path, project / RUNS) != outside_before:
                    failures.append(f"{target_name} {kind_name}: faber {' '.join(args)} wrote outside the runs folder")
            shutil.rmtree(project)
    assert not failures, "\n".join(failures[:int(os.environ.get("SHOW", "40"))]) + f"\n({len(failures)} in all)"
    record("test_every_command_on_every_damaged_file", inputs_tried=cases)


def test_damage_through_the_real_executable(tmp_path: Path, damaged_project: tuple[Path, str]) -> None:
    """A sample of the matrix through the installed `faber` program: the same answers, one line each."""
    pristine, run_id = damaged_project
    samples = [("events/003-step_start.json", b'{"event_id": 3, "ty'), ("metadata.json", b"\x00\xff garbage"),
               ("state.json", b"[]"), ("events/.next-id", b"many")]
    cases = 0
    for relative, data in samples:
        project = tmp_path / f"real-{cases}"
        shutil.copytree(pristine, project)
        (project / RUNS / run_id / relative).write_bytes(data)
        for command in (["events", run_id], ["runs", "show", run_id], ["event", "emit", run_id, "checkpoint"]):
            result = subprocess.run([FABER, "--root", str(project), *command], capture_output=True, text=True,
                                    env=clean_environ(), timeout=120)
            cases += 1
            assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
            assert result.returncode in (0, 1, 2)
            if result.returncode:
                assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    record("test_damage_through_the_real_executable", inputs_tried=cases)

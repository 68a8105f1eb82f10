"""Hypothesis fuzzing of what users and agents send: run ids, event payloads, gateway.json. Each input
gets a result or one clear error (an InvalidInput, exit code 2); never another exception, never a
traceback, never a write outside the runs folder, and nothing already stored changes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from conftest import clean_environ
from faber_hookspecs.catalogue import EVENT_TYPES, PHASES
from faber_hookspecs.errors import FaberError, InvalidInput, RunFinished
from faber_hookspecs.run_id import RunId
from faber_hookspecs.validation import validate_event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faber_host.api import Faber
from faber_host.init import template

from .clirun import run_faber
from .kit import RUNS, check_log, check_settled, files_outside, record, scaled

FUZZ = settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))

any_text = st.text(st.characters(codec=None, blacklist_categories=()), max_size=80)  # surrogates and NUL too
json_scalars = st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10**5000), max_value=10**5000) \
    | st.floats(allow_nan=True, allow_infinity=True) | any_text
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(any_text, inner, max_size=4), max_leaves=12)
field_names = st.sampled_from(["type", "phase", "step", "status", "message", "metadata", "artifacts", "duration_ms",
                               "error", "correlation_id", "retry_attempt", "user", "source", "event_id", "timestamp",
                               "run_id"]) | any_text


@st.composite
def plausible_drafts(draw: st.DrawFn) -> dict[str, Any]:
    """Drafts close to valid ones, so that the fuzzer also explores what is accepted and stored."""
    kind = draw(st.sampled_from(sorted(EVENT_TYPES)) | st.from_regex(r"x-[a-z]{1,5}\.[a-z_]{1,8}", fullmatch=True))
    draft: dict[str, Any] = {"type": kind}
    requires = EVENT_TYPES[kind].requires if kind in EVENT_TYPES else ()
    if "phase" in requires or draw(st.booleans()):
        draft["phase"] = draw(st.sampled_from(PHASES) | any_text)
    if "step" in requires or draw(st.booleans()):
        draft["step"] = draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True) | any_text)
    if "error" in requires or draw(st.booleans()):
        draft["error"] = draw(st.fixed_dictionaries({"code": any_text, "message": any_text}) | json_values)
    if "duration_ms" in requires or draw(st.booleans()):
        draft["duration_ms"] = draw(st.integers(min_value=-5, max_value=10**12) | json_values)
    if draw(st.booleans()):  # half of them get stray fields, the other half stay storable
        for name in draw(st.lists(field_names, max_size=4)):
            draft[name] = draw(json_values)
    return draft


drafts = plausible_drafts() | st.dictionaries(field_names, json_values, max_size=6) | json_values


def fast_project(project_dir: Path) -> Faber:
    """The project with sync_writes off: the fuzzing is about input, not durability (tested elsewhere)."""
    gateway_file = project_dir / ".fractary/plugins/faber/gateway.json"
    gateway = json.loads(gateway_file.read_text())
    gateway["backends"]["local_files"]["config"]["sync_writes"] = False
    gateway_file.write_text(json.dumps(gateway))
    return Faber.open(project_dir, clean_environ())


def test_event_payloads(tmp_path: Path, project_dir: Path) -> None:
    faber = fast_project(project_dir)
    run_id = faber.new_run("fuzz").run_id
    run_dir = project_dir / RUNS / run_id
    faber.emit(run_id, "workflow_start")
    first = (run_dir / "events" / "001-workflow_start.json").read_bytes()
    outside = files_outside(tmp_path, project_dir / RUNS)
    tried = stored = 0

    @settings(FUZZ, max_examples=scaled(1500))
    @given(draft=drafts, through_cli=st.integers(0, 9))
    def emit(draft: Any, through_cli: int) -> None:
        nonlocal tried, stored
        tried += 1
        if through_cli == 0 and isinstance(draft, dict) and isinstance(draft.get("type"), str):
            # The same through the command, with the type as its argument and the rest as --data.
            rest = {key: value for key, value in draft.items() if key != "type"}
            try:
                data = json.dumps(rest, allow_nan=False)
            except (ValueError, TypeError):
                return
            outcome = run_faber(project_dir, "event", "emit", run_id, draft["type"], "--data", data)
            assert not outcome.problems(), (draft, outcome)
            assert outcome.code in (0, 2), (draft, outcome)
            stored += outcome.code == 0
            return
        try:
            result = faber.emit_draft(run_id, draft)
        except InvalidInput as problem:  # invalid, or refused by the lifecycle once the draws end the run
            assert "\n" not in str(problem), repr(str(problem))
            assert str(problem).startswith("invalid") or isinstance(problem, RunFinished), repr(str(problem))
            return
        except FaberError as problem:
            raise AssertionError(f"a runtime error for bad input: {problem}") from None
        stored += 1
        path = run_dir / "events" / f"{result.event.event_id:03d}-{result.event.type}.json"
        on_disk = json.loads(path.read_bytes())
        validate_event(on_disk)
        assert on_disk == result.event.to_json(), "the event returned is the event stored"

    emit()
    assert (run_dir / "events" / "001-workflow_start.json").read_bytes() == first
    assert files_outside(tmp_path, project_dir / RUNS) == outside, "a write outside the runs folder"
    log = check_log(run_dir, run_id, full_schema=True)
    assert not log.problems and log.last_id == stored + 1
    assert not check_settled(run_dir, run_id, log)
    record("test_event_payloads", inputs_tried=tried, events_written=stored + 1)


def test_run_ids(tmp_path: Path, project_dir: Path, faber: Faber, run_id: str) -> None:
    outside = files_outside(tmp_path, project_dir / RUNS)
    uuid = run_id.split("/")[-1]
    tried = 0
    near = st.builds(lambda a, b, c: f"{a}/{b}/{c}", st.sampled_from(["acme", "ACME", "..", "", "a" * 65, "acme "]) | any_text,
                     st.sampled_from(["widget-service", "..", "w/s"]) | any_text,
                     st.sampled_from([uuid, uuid.upper(), uuid[:8], "../" + uuid, uuid + "/.."]) | any_text)
    prefixes = st.sampled_from([uuid[:n] for n in range(0, 37)]) | st.from_regex(r"[0-9a-f-]{1,40}", fullmatch=True)

    @settings(FUZZ, max_examples=scaled(1500))
    @given(text=near | prefixes | any_text, command=st.sampled_from(["events", "show", "emit", "parse"]))
    def resolve(text: str, command: str) -> None:
        nonlocal tried
        tried += 1
        try:
            parsed = RunId.parse(text)
        except InvalidInput:
            parsed = None
        if parsed is not None:
            assert str(parsed) == text
        if command == "parse":
            try:
                found = faber.resolve(text)
            except InvalidInput:
                return
            # A well-formed full id names its run as it is (whether that run exists is for the command
            # using it to say); anything else resolves to the one run there is, or is refused.
            assert found == parsed if parsed is not None else str(found) == run_id, (text, found)
            return
        # "--" ends the options: a run reference such as "-h" is then an argument, never an option
        args = {"events": ["events", "--", text], "show": ["runs", "show", "--json", "--", text],
                "emit": ["event", "emit", "--", text, "checkpoint"]}[command]
        outcome = run_faber(project_dir, *args)
        assert not outcome.problems(), (text, outcome)
        assert outcome.code in (0, 2), (text, outcome)
        if outcome.code == 0 and command == "show":
            assert json.loads(outcome.stdout)["metadata"]["run_id"] == run_id

    resolve()
    assert files_outside(tmp_path, project_dir / RUNS) == outside, "a write outside the runs folder"
    assert os.listdir(project_dir / RUNS) == ["acme"] and os.listdir(project_dir / RUNS / "acme") == ["widget-service"]
    record("test_run_ids", inputs_tried=tried)


def test_gateway_json(tmp_path: Path, project_dir: Path, faber: Faber, run_id: str) -> None:
    faber.emit(run_id, "workflow_start")
    gateway_file = project_dir / ".fractary/plugins/faber/gateway.json"
    base = template("gateway.json")
    stored_before = {p.name: p.read_bytes() for p in (project_dir / RUNS / run_id / "events").glob("*.json")}
    outside = files_outside(tmp_path, project_dir / RUNS)
    outside.pop(str(gateway_file), None)
    tried = 0
    paths = [(), ("backends",), ("backends", "local_files"), ("backends", "local_files", "config"),
             ("backends", "local_files", "enabled"), ("event_retention", "local_days"), ("mcp_server", "transport"),
             ("logging",), ("redaction",), ("redaction", "patterns"), ("limits",), ("limits", "max_depth"),
             ("version",), ("backends", "s3_archive"), ("backends", "local_files", "config", "sync_writes")]

    def mutate(document: dict[str, Any], path: tuple[str, ...], value: Any) -> Any:
        if not path:
            return value
        copy = dict(document) if isinstance(document, dict) else {}
        copy[path[0]] = mutate(copy.get(path[0], {}), path[1:], value)
        return copy

    mutated = st.builds(mutate, st.just(base), st.sampled_from(paths), json_values)
    raw = st.binary(max_size=200) | st.sampled_from([b"", b"{", b"[]", b"null", b'{"backends": []}', b"\xff\xfe{}",
                                                     b'{"version": "${UNSET}"}', b'{"a": ' * 5000])

    @settings(FUZZ, max_examples=scaled(600))
    @given(document=mutated | st.dictionaries(any_text, json_values, max_size=4) | raw)
    def open_with(document: Any) -> None:
        nonlocal tried
        tried += 1
        if isinstance(document, bytes):
            gateway_file.write_bytes(document)
        else:
            try:
                gateway_file.write_text(json.dumps(document, allow_nan=True))
            except (ValueError, TypeError, UnicodeEncodeError):
                return
        try:
            opened = Faber.open(project_dir, clean_environ())
        except FaberError as problem:
            assert problem.exit_code in (1, 2) and "\n" not in str(problem), str(problem)
        else:
            config = opened.gateway.config.backends.get("local_files")
            if config is None or config.config.get("base_path", ".fractary/plugins/faber/runs") != ".fractary/plugins/faber/runs":
                return  # a valid file that moves the runs folder elsewhere: not a place to write to here
        outcome = run_faber(project_dir, "runs", "list", "--json")
        assert not outcome.problems(), (document, outcome)

    open_with()
    assert {p.name: p.read_bytes() for p in (project_dir / RUNS / run_id / "events").glob("*.json")} == stored_before
    now = files_outside(tmp_path, project_dir / RUNS)
    now.pop(str(gateway_file), None)
    assert {k: v for k, v in now.items() if ".bak-" not in k} == outside, "a write outside the runs folder"
    record("test_gateway_json", inputs_tried=tried)


def defused(value: Any) -> Any:
    """The document with every shell command replaced by ``true``: fuzzed text is never executed."""
    if isinstance(value, dict):
        return {key: "true" if key in ("run", "command") and isinstance(item, str) else defused(item)
                for key, item in value.items()}
    if isinstance(value, list):
        return [defused(item) for item in value]
    return value


def test_workflow_files(tmp_path: Path, project_dir: Path, faber: Faber) -> None:
    """Workflow definitions with any part replaced by any JSON value, arbitrary objects and garbage:
    `faber run` (in dry-run, so nothing is executed) gives a run or one clear line."""
    from faber_host.workflows import WorkflowLibrary, resolve_workflow

    base = template("workflows/default.json")
    workflow_file = project_dir / ".fractary/plugins/faber/workflows/fuzzed.json"
    outside = files_outside(tmp_path, project_dir / RUNS)
    tried = 0

    def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        found = [prefix]
        if isinstance(value, dict):
            for key, item in value.items():
                found += paths(item, (*prefix, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                found += paths(item, (*prefix, index))
        return found

    every_path = paths(base)

    def mutate(document: Any, path: tuple[Any, ...], value: Any) -> Any:
        if not path:
            return value
        head, rest = path[0], path[1:]
        if isinstance(document, dict):
            return {**document, head: mutate(document.get(head), rest, value)}
        if isinstance(document, list) and isinstance(head, int) and head < len(document):
            return [*document[:head], mutate(document[head], rest, value), *document[head + 1:]]
        return document

    names = st.sampled_from(["id", "extends", "skip_steps", "phases", "steps", "pre_steps", "post_steps", "run",
                             "prompt", "command", "retries", "timeout", "autonomy", "enabled", "arguments"])
    mutated = st.builds(mutate, st.just(base), st.sampled_from(every_path), json_values | st.dictionaries(names, json_values))
    extends = st.builds(lambda target: {**base, "extends": target},
                        st.sampled_from(["default", "core", "fuzzed", "../../etc/passwd", "/etc/passwd", "x:y",
                                         "fractary-faber:nope", "project:fuzzed"]) | any_text)

    @settings(FUZZ, max_examples=scaled(400))
    @given(document=mutated | extends | st.dictionaries(any_text, json_values, max_size=4) | json_values)
    def run_it(document: Any) -> None:
        nonlocal tried
        tried += 1
        try:
            workflow_file.write_text(json.dumps(defused(document), allow_nan=True))
        except (ValueError, TypeError, UnicodeEncodeError):
            return
        try:
            resolve_workflow(WorkflowLibrary(faber.project), "fuzzed")
        except FaberError as problem:
            assert "\n" not in str(problem), str(problem)
        outcome = run_faber(project_dir, "run", "fuzzed", "--work-id", "fuzz", "--autonomy", "dry-run")
        assert not [p for p in outcome.problems() if not p.startswith("exit code 3")], (document, outcome)

    run_it()
    now = files_outside(tmp_path, project_dir / RUNS)
    now.pop(str(workflow_file), None)
    runners = str(project_dir / ".fractary/plugins/faber/runners")  # `faber run`'s own lock files
    assert {path: info for path, info in now.items() if not path.startswith(runners)} == outside, (
        "a write outside the runs folder"
    )
    record("test_workflow_files", inputs_tried=tried)

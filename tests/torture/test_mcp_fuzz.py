"""Hypothesis fuzzing of the MCP tools' arguments, through the SDK's in-memory client on the real
server: arbitrary JSON values, hostile strings (traversal, NUL, huge, deeply nested), wrong types and
unknown keys for every tool. Each call answers a result or an error result in one clear line (never
a traceback, never an internal error); the server keeps serving; nothing is written outside the runs
folder; and a reference run no call names stays byte for byte as it was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from anyio.from_thread import start_blocking_portal
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.shared.exceptions import MCPError

from faber_host.mcp.server import build_server

from .kit import RUNS, check_log, check_settled, record, scaled
from .test_fuzz import FUZZ, fast_project, files_outside

# test_fuzz's JSON values, but only what the SDK's client can send: text without lone surrogates (NUL
# and every other character included), integers a JSON parser reads (its 5,000-digit ones stop the
# client before the server sees them, and hypothesis when it prints them).
any_text = st.text(st.characters(codec="utf-8"), max_size=80)
json_scalars = st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) \
    | st.floats(allow_nan=True, allow_infinity=True) | any_text
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(any_text, inner, max_size=4), max_leaves=12)

FUZZED_TOOLS = ("emit_event", "start_run", "get_run", "list_runs", "get_events", "resume_context", "resume_run",
                "rerun_run", "reconstruct_state", "verify_run")


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"d": [value]}
    return value


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, hidden ones too."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def hostile_strings(run_id: str, reference: str) -> st.SearchStrategy[str]:
    org, project, uuid = run_id.split("/")
    ref_uuid = reference.split("/")[-1]
    return st.sampled_from([
        "", " ", "../", "../../../../etc/passwd", "/etc/passwd", "..", ".", "~", "~/.ssh/id_rsa", "a\x00b", "\x00",
        f"{run_id}\x00", f"{run_id}/..", f"{run_id}/../{ref_uuid}", f"{org}/{project}/../{project}/{uuid}",
        f"{org}/{project}/{ref_uuid}/../{uuid}", f"../{run_id}", f"{org}/../{org}/{project}/{uuid}",
        "%2e%2e%2f%2e%2e%2f", "..\\..\\windows", "C:\\Windows", "//server/share", "file:///etc/passwd",
        # A prefix of 8 or more characters names its run (and resume_run or rerun_run would run it): the
        # fuzzed run's may be named that way; the reference's only too short to name it.
        uuid, uuid[:8], ref_uuid[:7], f"{org}/{project}", "é" * 70_000, "x" * 300_000, "\n".join(["line"] * 1000),
        "${HOME}", "$(touch /tmp/pwned)", "`id`", "'; DROP TABLE runs; --", "{}", "[]", "null", "1e9999",
        json.dumps({"run": run_id}), "step_complete", "workflow_start", "frame", "build",
    ])


def argument_values(run_id: str, reference: str) -> st.SearchStrategy[Any]:
    hostile = hostile_strings(run_id, reference)
    return (st.just(run_id) | hostile | json_values | any_text
            | st.integers(min_value=-(2**70), max_value=2**70)
            | st.sampled_from([nested(30), nested(100), [None] * 5000, {"k" * 300: "v"}])
            | st.lists(hostile, max_size=3) | st.dictionaries(hostile | any_text, hostile | json_values, max_size=4))


def test_mcp_tool_arguments(tmp_path: Path, project_dir: Path) -> None:
    faber = fast_project(project_dir)
    run_id = faber.new_run("fuzz").run_id
    faber.emit(run_id, "workflow_start")
    reference = faber.new_run("reference").run_id
    faber.emit(reference, "workflow_start")
    faber.emit(reference, "phase_start", phase="frame")
    faber.emit(reference, "checkpoint", message="kept as it is")
    reference_dir = project_dir / RUNS / reference
    reference_before = folder_bytes(reference_dir)
    fuzz_events_before = folder_bytes(project_dir / RUNS / run_id / "events")
    outside = files_outside(tmp_path, project_dir / RUNS)
    tried = answered = refused = 0

    with start_blocking_portal() as portal, portal.wrap_async_context_manager(Client(build_server(faber))) as client:
        schemas = {tool.name: tool.input_schema for tool in portal.call(client.list_tools).tools}
        values = argument_values(run_id, reference)

        @st.composite
        def calls(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
            tool = draw(st.sampled_from(FUZZED_TOOLS))
            properties = sorted(schemas[tool]["properties"])
            arguments: dict[str, Any] = {}
            if draw(st.booleans()):  # usually name a run (the fuzzed one, never the reference), as a valid call would
                arguments["run"] = run_id
            for name in draw(st.lists(st.sampled_from(properties), max_size=len(properties), unique=True)):
                arguments[name] = draw(values)
            if draw(st.integers(0, 5)) == 0:  # unknown keys
                for name in draw(st.lists(any_text | hostile_strings(run_id, reference), min_size=1, max_size=3)):
                    arguments[name] = draw(values)
            if arguments.get("write") is True and tool == "reconstruct_state":
                arguments["write"] = draw(st.booleans())
            return tool, arguments

        @settings(FUZZ, max_examples=scaled(3000))
        @given(call=calls())
        def call_tool(call: tuple[str, dict[str, Any]]) -> None:
            nonlocal tried, answered, refused
            tool, arguments = call
            tried += 1
            try:
                result = portal.call(client.call_tool, tool, arguments)
            except MCPError as problem:  # a protocol error: also one clear line
                text = str(problem)
                refused += 1
            else:
                (block,) = result.content
                text = block.text
                if not result.is_error:
                    answered += 1
                    assert isinstance(result.structured_content, dict), (tool, arguments)
                    return
                refused += 1
            assert text and "\n" not in text, (tool, arguments, text)
            assert "Traceback" not in text and "internal error" not in text.lower(), (tool, arguments, text)

        call_tool()
        # The server still serves: a protocol request, then a valid call.
        assert {tool.name for tool in portal.call(client.list_tools).tools} >= set(FUZZED_TOOLS)
        result = portal.call(client.call_tool, "emit_event", {"run": run_id, "type": "checkpoint", "message": "after"})
        assert not result.is_error, result.content

    # resume_run and rerun_run run the workflow: a runner's lock (named after its run) is theirs to write.
    runners = str(project_dir / ".fractary/plugins/faber/runners") + "/"
    written = {path: stat for path, stat in files_outside(tmp_path, project_dir / RUNS).items()
               if not (path.startswith(runners) and path.endswith(".lock"))}
    assert written == outside, "a write outside the runs folder"
    assert not list(Path(runners).rglob(f"{reference.split('/')[-1]}*")), "the reference run was resumed"
    assert folder_bytes(reference_dir) == reference_before, "the reference run changed"
    fuzz_events_after = folder_bytes(project_dir / RUNS / run_id / "events")
    changed = [name for name, data in fuzz_events_before.items() if name.endswith(".json") and fuzz_events_after.get(name) != data]
    assert not changed, f"stored events changed: {changed}"
    log = check_log(project_dir / RUNS / run_id, run_id, full_schema=True)
    assert not log.problems, log.problems
    assert not check_settled(project_dir / RUNS / run_id, run_id, log)
    record("test_mcp_tool_arguments", inputs_tried=tried, events_written=len(log.ids), answered=answered,
           refused=refused)

"""Many writers at once: CLI processes, API threads and the MCP server into one run, and runs written
side by side.

The proof is in the files: exactly N events with ids 1..N, every file valid against the schema, every
writer's acknowledged ids distinct, every message stored once, state.json equal to the state rebuilt
from the events.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import anyio
from conftest import FABER, clean_environ

from faber_host.api import Faber

from .kit import RUNS, check_log, check_settled, cli_emit_loop, fork_writer, record, scaled

CLI_WRITERS = 16
CLI_EMITS = 250
API_THREADS = 4
API_EMITS = 250
MCP_EMITS = 250


def mcp_writer(project_dir: Path, run_id: str, count: int, log: Path, ids: list[int], errors: list[str]) -> None:
    """An agent: the real `faber mcp` over stdio, driven by the SDK's client, emitting ``count`` events."""
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    async def emit_all() -> None:
        server = StdioServerParameters(command=FABER, args=["mcp"], cwd=project_dir, env=clean_environ())
        with open(log, "w") as errlog:
            async with Client(stdio_client(server, errlog=errlog)) as client:
                for i in range(count):
                    answer = await client.call_tool("emit_event", {"run": run_id, "type": "checkpoint",
                                                                   "message": f"mcp-{i}"})
                    if answer.is_error or not isinstance(answer.structured_content, dict):
                        errors.append(f"mcp emit {i}: {answer.content}")
                        return
                    ids.append(answer.structured_content["event_id"])

    try:
        anyio.run(emit_all)
    except Exception as problem:
        errors.append(f"mcp: {type(problem).__name__}: {problem}")


def test_cli_processes_and_api_threads_into_one_run(faber: Faber, project_dir: Path, tmp_path: Path) -> None:
    cli_emits = scaled(CLI_EMITS)
    api_emits = scaled(API_EMITS)
    mcp_emits = scaled(MCP_EMITS)
    run_id = faber.new_run("concurrency").run_id
    run_dir = project_dir / RUNS / run_id

    writers = [cli_emit_loop(project_dir, run_id, cli_emits, f"cli{w}", clean_environ()) for w in range(CLI_WRITERS)]

    thread_ids: list[list[int]] = [[] for _ in range(API_THREADS)]
    thread_errors: list[str] = []

    def api_writer(index: int) -> None:
        # Every thread shares the one Faber object, as a server's request handlers would.
        for i in range(api_emits):
            try:
                result = faber.emit(run_id, "checkpoint", message=f"api{index}-{i}")
            except Exception as problem:
                thread_errors.append(f"thread {index}: {type(problem).__name__}: {problem}")
                return
            if result.state.last_event_id != result.event.event_id:
                thread_errors.append(
                    f"thread {index}: event {result.event.event_id} came back with the state after event "
                    f"{result.state.last_event_id}"
                )
            if result.event.message != f"api{index}-{i}":
                thread_errors.append(f"thread {index}: got back another thread's event")
            thread_ids[index].append(result.event.event_id)

    mcp_ids: list[int] = []
    threads = [threading.Thread(target=api_writer, args=(t,)) for t in range(API_THREADS)]
    threads.append(threading.Thread(target=mcp_writer, args=(project_dir, run_id, mcp_emits, tmp_path / "mcp.log",
                                                             mcp_ids, thread_errors)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=1800)
    acknowledged: list[int] = [event_id for ids in thread_ids for event_id in ids] + mcp_ids
    for writer in writers:
        out, err = writer.communicate(timeout=1800)
        assert writer.returncode == 0, err
        acknowledged += [int(line) for line in out.split()]
    assert not thread_errors, thread_errors[:5]
    assert "Traceback" not in (tmp_path / "mcp.log").read_text()
    assert mcp_ids == sorted(mcp_ids) and len(mcp_ids) == mcp_emits
    assert mcp_ids[-1] - mcp_ids[0] + 1 > mcp_emits, "the MCP server wrote while the other writers did"

    total = CLI_WRITERS * cli_emits + API_THREADS * api_emits + mcp_emits
    assert sorted(acknowledged) == list(range(1, total + 1)), "every emit was told a distinct id, and all of 1..N"
    log = check_log(run_dir, run_id, acknowledged=acknowledged, full_schema=True)
    assert not log.problems, log.problems[:5]
    assert log.ids == list(range(1, total + 1))
    messages = [event["message"] for event in log.events.values()]
    expected = {f"cli{w}-{i}" for w in range(CLI_WRITERS) for i in range(1, cli_emits + 1)}
    expected |= {f"api{t}-{i}" for t in range(API_THREADS) for i in range(api_emits)}
    expected |= {f"mcp-{i}" for i in range(mcp_emits)}
    assert len(messages) == len(set(messages)) and set(messages) == expected, "each emit stored exactly once"
    for index, ids in enumerate(thread_ids):
        assert ids == sorted(ids), f"thread {index} saw its own events out of order"
    assert not check_settled(run_dir, run_id, log)
    assert faber.reconstruct(run_id)[0].model_dump(mode="json") == faber.run(run_id).state.model_dump(mode="json")
    record("test_cli_processes_and_api_threads_into_one_run", events_written=total,
           cli_processes=CLI_WRITERS * cli_emits, api_threads=API_THREADS, mcp_emits=mcp_emits)


def test_runs_written_in_parallel_stay_isolated(faber: Faber, project_dir: Path) -> None:
    runs = 8
    writers_per_run = 2
    emits = scaled(150)
    run_ids = [faber.new_run(f"isolation-{r}").run_id for r in range(runs)]

    def writer(run_index: int, writer_index: int) -> Callable[[Callable[[int], None]], None]:
        def body(ack: Callable[[int], None]) -> None:
            # A fresh API in each process, as separate programs would have.
            mine = Faber.open(project_dir, clean_environ())
            for i in range(emits):
                ack(mine.emit(run_ids[run_index], "checkpoint", message=f"run{run_index}-w{writer_index}-{i}").event.event_id)

        return body

    children = [(r, w, fork_writer(writer(r, w))) for r in range(runs) for w in range(writers_per_run)]
    acknowledged: dict[int, list[int]] = {r: [] for r in range(runs)}
    for run_index, _, child in children:
        assert child.wait() == 0
        acknowledged[run_index] += child.read_acknowledged()

    total = 0
    for run_index, run_id in enumerate(run_ids):
        run_dir = project_dir / RUNS / run_id
        count = writers_per_run * emits
        assert sorted(acknowledged[run_index]) == list(range(1, count + 1))
        log = check_log(run_dir, run_id, acknowledged=acknowledged[run_index], full_schema=True)
        assert not log.problems, (run_index, log.problems[:5])
        messages = {event["message"] for event in log.events.values()}
        assert messages == {f"run{run_index}-w{w}-{i}" for w in range(writers_per_run) for i in range(emits)}, (
            f"run {run_index} holds exactly its own events"
        )
        assert not check_settled(run_dir, run_id, log)
        total += count
    record("test_runs_written_in_parallel_stay_isolated", events_written=total, runs=runs)

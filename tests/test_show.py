"""`faber runs show`: a timeline in colour on a terminal, plain text in a pipe, JSON unchanged."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from pathlib import Path

import pytest
from conftest import FABER, Cli, clean_environ
from stories import rerun_of, tell_story

from faber_host.api import Faber

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_plain_text_in_a_pipe(faber: Faber, cli: Cli) -> None:
    run = tell_story(faber)
    child = rerun_of(faber, run)
    out = cli.ok("runs", "show", run[-36:])
    assert not ANSI.search(out) and "█" not in out
    lines = out.splitlines()
    facts = dict(re.match(r"(\S[^:]*):\s+(.*)", line).groups() for line in lines[:20] if re.match(r"\S[^:]*:\s", line))  # type: ignore[union-attr]
    assert facts["run"] == run and facts["status"] == "completed"
    assert facts["re-run"] == f"{child} (pending)"
    assert facts["params"] == "ticket=WIDGET-123, model=fast"
    assert "resumed 2x" in facts["took"]
    chart = {line.split("|")[0].strip(): line for line in lines if line.count("|") >= 2}
    assert set(chart) == {"run", "frame", "fetch-work", "architect", "generate-spec", "build", "implement",
                          "release", "create-pr", "approval (release)", "evaluate"}
    implement = chart["implement"]
    assert "x" in implement.split("|")[1] and "=" in implement.split("|")[1]  # two failures, then done
    assert implement.endswith("completed  3 attempts · 1 retry")
    assert chart["evaluate"].split("|")[1].strip(" :") == "" and "pending" in chart["evaluate"]
    assert "granted" in chart["approval (release)"]
    assert ": resumed here" in out and "x failed" in out
    assert re.search(r"#\d+\s+resumed at build/implement", out)
    assert "PR #7 (pr) https://github.com/acme/widget-service/pull/7" in out

    child_out = cli.ok("runs", "show", child)
    assert f"re-run of:   {run} (completed)" in child_out
    assert 'changed:     model: "fast" → "slow"' in child_out
    assert 'changed:     workflow_changes: ["build: step added"]' in child_out
    assert re.search(r"#1\s+re-run of " + re.escape(run), child_out)


def test_colour_on_a_terminal(faber: Faber, project_dir: Path) -> None:
    run = tell_story(faber)
    leader, follower = pty.openpty()
    environ = clean_environ(COLUMNS="150", TERM="xterm-256color")
    environ.pop("NO_COLOR", None)
    process = subprocess.Popen([FABER, "runs", "show", run], cwd=project_dir, env=environ,
                               stdout=follower, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    out = b"".join(chunks).decode("utf-8")
    assert ANSI.search(out) and "█" in out and "┆" in out  # bars, and the resume lines
    plain = ANSI.sub("", out)
    implement = next(line for line in plain.splitlines() if line.startswith("  implement"))
    assert "completed" in implement and "3 attempts" in implement
    assert "\x1b[1;31m" in out  # a failure in red


def test_json_is_unchanged(faber: Faber, cli: Cli) -> None:
    run = tell_story(faber)
    shown = json.loads(cli.ok("runs", "show", run, "--json"))
    record = faber.run(run)
    assert shown == {
        "metadata": record.metadata.to_json(),
        "state": record.state.model_dump(mode="json"),
        "location": record.location,
        "warnings": [],
    }


def test_a_run_with_no_events(cli: Cli, run_id: str) -> None:
    out = cli.ok("runs", "show", run_id)
    assert "status:      pending" in out and "events:      0" in out
    assert re.search(r"^build\s+\|\s+\|\s+-\s+pending$", out, re.M)


def test_a_reader_that_goes_away_is_not_an_error(faber: Faber, project_dir: Path) -> None:
    run = tell_story(faber)
    # `true` reads nothing and is gone long before faber writes: every write meets a closed pipe.
    for command in ("faber schema event | true", f"faber events {run} | true", f"faber runs show {run} | true",
                    f"faber runs report {run} -o - | true", f"faber events {run} --json | head -1"):
        result = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=project_dir, capture_output=True,
                                text=True, timeout=60, env=clean_environ(PATH=f"{Path(FABER).parent}:/usr/bin:/bin"))
        assert (result.returncode, result.stderr) == (0, ""), command


def test_the_timeline_of_a_very_long_run_is_drawn_on_request(
    faber: Faber, cli: Cli, run_id: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from faber_host.cli import main, runs

    faber.emit(run_id, "step_start", phase="build", step="compile")
    monkeypatch.setattr(runs, "TIMELINE_LIMIT", 0)  # as if the run were longer than the limit
    assert main(["--root", str(cli.cwd), "runs", "show", run_id]) == 0
    out, err = capsys.readouterr()
    assert "|" not in out and "events:      1" in out
    assert err == ("faber: warning: the timeline was not drawn: the run has 1 events; --timeline draws it "
                   "(reading them all)\n")
    assert main(["--root", str(cli.cwd), "runs", "show", run_id, "--timeline"]) == 0
    assert re.search(r"^  compile \|", capsys.readouterr().out, re.M)
    skipped = cli("runs", "show", run_id, "--no-timeline")
    assert (skipped.returncode, skipped.stderr) == (0, "") and "|" not in skipped.stdout

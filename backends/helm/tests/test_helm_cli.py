"""The stream as the CLI shows it: emits while it is down, `faber backends`, `faber doctor`, flush."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helm_helpers import LONG_OUTAGE, pending_ids, restream

from faber_host.testing import RecordingReceiver, TestProject

pytest_plugins = ["helm_fixtures"]

FABER = str(Path(sys.executable).with_name("faber"))


def test_cli_emit_while_the_stream_is_down_succeeds_with_one_warning_line(
    stream_project: TestProject, faber_receiver: RecordingReceiver
) -> None:
    """The real `faber` executable, in its own process."""
    restream(stream_project, faber_receiver, retry_policy=LONG_OUTAGE)
    faber_receiver.refuse()
    environ = {**stream_project.environ, "FABER_ROOT": str(stream_project.root)}

    def faber(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([FABER, *args], env=environ, capture_output=True, text=True, timeout=60)

    run_id = faber("runs", "new", "--work-id", "7").stdout.strip()
    first = faber("event", "emit", run_id, "workflow_start")
    assert first.returncode == 0 and first.stdout == "1\n"
    assert first.stderr.startswith("faber: warning: backend 'event_stream' (faber_emit_event): the Helm service")
    assert len(first.stderr.splitlines()) == 1
    second = faber("event", "emit", run_id, "checkpoint")
    assert (second.returncode, second.stdout, second.stderr) == (0, "2\n", "")
    assert pending_ids(stream_project, run_id) == [1, 2]


def test_backends_lists_the_stream_with_its_hooks(stream_project: TestProject) -> None:
    listed = {info["name"]: info for info in stream_project.cli("backends", "--json").json()}
    stream = listed["event_stream"]
    assert stream["enabled"] is True and stream["installed"] is True and stream["error"] is None
    assert stream["distribution"] == "faber-backend-helm" and stream["version"] == "0.1.0"
    assert stream["entry_point"] == "faber_backend_helm.plugin:HelmStreamBackend"
    assert stream["hooks"] == ["faber_check_health", "faber_emit_event", "faber_flush"]
    table = stream_project.cli("backends").stdout
    assert "event_stream  yes" in table and "faber_emit_event" in table


def test_doctor_says_the_stream_answers(stream_project: TestProject, faber_receiver: RecordingReceiver) -> None:
    result = stream_project.cli("doctor", "--json")
    assert result.exit_code == 0, result.stdout
    checks = {(c["area"], c["name"]): c for c in result.json()["checks"]}
    assert checks[("event_stream", "loads")]["verdict"] == "ok"
    assert checks[("event_stream", "stream answers")]["verdict"] == "ok"
    assert checks[("event_stream", "stream outbox")]["verdict"] == "ok"
    ping = faber_receiver.requests[-1]
    assert ping.method == "POST" and ping.body == b"", "the ping is an empty batch"
    assert ping.headers["Authorization"].startswith("Bearer ")


def test_doctor_fails_when_the_stream_is_down_and_warns_about_waiting_events(
    stream_project: TestProject, faber_receiver: RecordingReceiver
) -> None:
    faber = stream_project.faber()
    run_id = faber.new_run("1").run_id
    faber_receiver.refuse()
    faber.emit(run_id, "workflow_start")
    result = stream_project.cli("doctor")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("FAIL  event_stream: stream answers") and "refused" in line for line in lines)
    assert any(line.startswith("warn  event_stream: stream outbox") and "1 event(s) of 1 run(s)" in line
               for line in lines)
    assert any(line.startswith("ok    local_files: runs folder writable") for line in lines)
    assert lines[-1] == "verdict: 1 check(s) failed, 1 warning(s)"
    assert "Traceback" not in result.stdout + result.stderr


def test_doctor_warns_when_the_api_key_is_not_set(stream_project: TestProject) -> None:
    del stream_project.environ["FABER_HELM_API_KEY"]
    result = stream_project.cli("doctor", "--json")
    assert result.exit_code == 0
    warned = [c for c in result.json()["checks"] if c["verdict"] == "warn"]
    assert warned == [{"area": "event_stream", "name": "stream API key", "verdict": "warn",
                       "detail": "FABER_HELM_API_KEY is not set: events are sent without an API key"}]


def test_doctor_reports_an_unwritable_outbox(stream_project: TestProject, faber_receiver: RecordingReceiver) -> None:
    config = json.loads(stream_project.gateway_file.read_text())["backends"]["event_stream"]["config"]
    blocker = stream_project.root / "not-a-folder"
    blocker.write_text("a file where the outbox folder should be")
    stream_project.enable("event_stream", {**config, "outbox_path": str(blocker / "outbox")})
    checks = stream_project.cli("doctor", "--json").json()["checks"]
    outbox = next(c for c in checks if c["name"] == "stream outbox")
    assert outbox["verdict"] == "fail" and "cannot write" in outbox["detail"]


def test_flush_usage_errors_are_one_line(stream_project: TestProject) -> None:
    for args, message in [
        (("backends", "flush", "local_files"), "backend 'local_files' holds nothing back"),
        (("backends", "flush", "nosuch"), "backend 'nosuch' is not enabled; enabled: local_files, event_stream"),
        (("backends", "flush", "event_stream", "--run", "not-a-run"), "cannot read 'not-a-run' as a run"),
    ]:
        result = stream_project.cli(*args)
        assert result.exit_code == 2, (args, result)
        assert result.stderr.count("\n") == 1 and message in result.stderr


def test_flush_with_nothing_to_flush(faber_project: TestProject) -> None:
    result = faber_project.cli("backends", "flush")
    assert (result.exit_code, result.stdout) == (0, "no enabled backend holds anything back\n")


def test_listed_disabled_as_faber_init_writes_it(faber_project: TestProject) -> None:
    (info,) = [i for i in faber_project.cli("backends", "--json").json() if i["name"] == "event_stream"]
    assert info["enabled"] is False and info["installed"] is True and info["error"] is None

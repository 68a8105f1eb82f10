"""The testing kit itself: its fixtures are registered by the pytest11 entry point, and each does
what docs/backends.md says."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from faber_hookspecs import hookimpl
from faber_hookspecs.catalogue import EVENT_TYPES
from faber_hookspecs.errors import BackendError
from faber_hookspecs.events import Event
from faber_hookspecs.records import BackendContext
from faber_hookspecs.state import RunState

from faber_host.testing import (
    AWS_TEST_ENVIRONMENT,
    EventFactory,
    GatewayFactory,
    RecordingReceiver,
    S3Server,
    TestProject,
    aws_test_environ,
)

pytest_plugins = ["pytester"]


def test_the_plugin_is_found_through_its_entry_point_in_a_fresh_pytest_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_outside="""
        def test_fixtures(faber_project, faber_gateway, faber_events, faber_receiver):
            assert (faber_project.root / ".fractary/plugins/faber/gateway.json").is_file()
            assert faber_gateway().enabled() == ["local_files"]
            assert faber_events.draft("step_start").step == "implement"
            assert faber_receiver.url.startswith("http://127.0.0.1:")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_faber_project_is_fresh_and_isolated(faber_project: TestProject, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FABER_RUNS_PATH", "/nowhere")
    project = TestProject(faber_project.root.parent / "other")
    assert "FABER_RUNS_PATH" not in project.environ, "FABER_* variables of the caller are dropped"
    assert project.project.identity() == ("acme", "widget-service")
    assert project.gateway_document()["backends"]["local_files"]["enabled"] is True
    run = project.faber().new_run("1")
    assert (project.runs_dir / run.run_id).is_dir()


def test_enable_disable_only(faber_project: TestProject) -> None:
    faber_project.enable("mirror", {"path": "m"})
    assert faber_project.gateway_document()["backends"]["mirror"] == {"enabled": True, "config": {"path": "m"}}
    faber_project.disable("mirror")
    assert faber_project.gateway().enabled() == ["local_files"]
    faber_project.enable("mirror")  # None keeps the config
    assert faber_project.gateway_document()["backends"]["mirror"]["config"] == {"path": "m"}
    faber_project.only("local_files")
    assert faber_project.gateway().enabled() == ["local_files"]


class Counter:
    """A backend class that is not installed."""

    def __init__(self, config: dict[str, int], context: BackendContext) -> None:
        self.step = config.get("step", 1)
        self.total = 0

    @hookimpl
    def faber_emit_event(self, event: Event, state: RunState) -> None:
        self.total += self.step


def test_faber_gateway_with_a_class_and_its_config(faber_gateway: GatewayFactory, faber_project: TestProject) -> None:
    gateway = faber_gateway("counter", config={"counter": {"step": 5}}, backends={"counter": Counter})
    assert gateway.enabled() == ["local_files", "counter"]
    counter = gateway.manager.get_plugin("counter")
    from faber_host.api import Faber

    faber = Faber(faber_project.project, gateway)
    run_id = faber.new_run("1").run_id
    faber.emit(run_id, "checkpoint")
    faber.emit(run_id, "checkpoint")
    assert counter.total == 10
    assert faber_gateway().enabled() == ["local_files"], "each call chooses again"


def test_cli_runs_in_process_and_sees_classes_given_to_enable(faber_project: TestProject) -> None:
    faber_project.enable("counter", backend=Counter)
    listed = {info["name"]: info for info in faber_project.cli("backends", "--json").json()}
    assert listed["counter"]["enabled"] is True and listed["counter"]["hooks"] == ["faber_emit_event"]
    assert listed["counter"]["entry_point"] == f"{__name__}:Counter" and listed["counter"]["distribution"] is None
    bad = faber_project.cli("runs", "show", "nope")
    assert bad.exit_code == 2 and bad.stderr.startswith("faber: error: ")


def test_a_class_enabled_in_one_project_is_not_seen_elsewhere(faber_project: TestProject, tmp_path: Path) -> None:
    faber_project.enable("counter", backend=Counter)
    faber_project.cli("backends")
    other = TestProject(tmp_path / "elsewhere")
    other.enable("counter")
    with pytest.raises(BackendError, match=r"'counter' is enabled .* but not installed"):
        other.gateway().check_loaded()


@pytest.mark.parametrize("type", sorted(EVENT_TYPES))
def test_faber_events_drafts_every_catalogue_type(faber_events: EventFactory, type: str) -> None:
    assert faber_events.draft(type).type == type
    assert faber_events.event(type).event_id == 1


def test_faber_events_workflows(faber_events: EventFactory) -> None:
    run_id = faber_events.run_id()
    done = faber_events.events(faber_events.workflow(), run_id=run_id)
    assert [event.event_id for event in done] == list(range(1, len(done) + 1))
    assert faber_events.state(done).status == "completed"
    failed = faber_events.events(faber_events.workflow(fail_at="evaluate:test"))
    state = faber_events.state(failed)
    assert state.status == "failed" and state.current_phase == "evaluate"
    assert faber_events.event("checkpoint", run_id=run_id).event_id == len(done) + 1, "ids keep counting per run"


def post(url: str, body: bytes = b"x", timeout: float = 5) -> int:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as problem:
        return problem.code


def test_faber_receiver_modes(faber_receiver: RecordingReceiver) -> None:
    assert post(f"{faber_receiver.url}/a", b'{"n": 1}\n{"n": 2}\n') == 200
    assert faber_receiver.accepted_ndjson() == [{"n": 1}, {"n": 2}]
    faber_receiver.fail(503, times=1)
    assert [post(faber_receiver.url), post(faber_receiver.url)] == [503, 200]
    faber_receiver.fail(500)
    assert post(faber_receiver.url) == 500
    faber_receiver.slow(10.0)  # recorded only when it answers: after this test
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        post(faber_receiver.url, timeout=0.2)
    port = faber_receiver.port
    faber_receiver.refuse()
    with pytest.raises(urllib.error.URLError, match="refused"):
        post(faber_receiver.url)
    faber_receiver.accept()
    assert faber_receiver.port == port and post(faber_receiver.url) == 200
    assert [r.status for r in faber_receiver.requests] == [200, 503, 200, 500, 200]
    assert faber_receiver.requests[0].path == "/a" and faber_receiver.requests[0].method == "POST"


def test_aws_test_environ_replaces_every_aws_variable() -> None:
    environ = aws_test_environ({"PATH": "/bin", "AWS_PROFILE": "prod", "AWS_SESSION_TOKEN": "secret"})
    assert environ == {"PATH": "/bin", **AWS_TEST_ENVIRONMENT}, "nothing of the machine's own AWS setup is left"


def test_faber_s3_server_is_a_real_s3_endpoint(request: pytest.FixtureRequest) -> None:
    pytest.importorskip("moto", reason='the S3 test server needs moto[server] (pip install -e "backends/s3[test]")')
    server: S3Server = request.getfixturevalue("faber_s3_server")
    assert server.url.startswith("http://127.0.0.1:")
    first, second = server.create_bucket(), server.create_bucket()
    assert first != second and first.startswith("faber-test-")
    client = server.client()
    client.put_object(Bucket=first, Key="a/b.json", Body=b"{}")
    assert client.get_object(Bucket=first, Key="a/b.json")["Body"].read() == b"{}"
    assert {first, second} <= {bucket["Name"] for bucket in client.list_buckets()["Buckets"]}

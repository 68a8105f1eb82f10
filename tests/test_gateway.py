"""gateway.json and the plugin manager: validation, entry points, isolation of broken backends."""

from __future__ import annotations

import json
import re
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import clean_environ
from faber_hookspecs import hookimpl
from faber_hookspecs.errors import BackendError, ConfigError

from faber_host.api import Faber
from faber_host.gateway import Gateway
from faber_host.gateway.config import GatewayConfig, expand_variables, load_gateway_config
from faber_host.gateway.logging_off import LoggingOff, OffStore
from faber_host.gateway.plugins import discover_backends
from faber_host.project import Project


def write_gateway(project_dir: Path, document: dict[str, Any]) -> Project:
    (project_dir / ".fractary/plugins/faber/gateway.json").write_text(json.dumps(document))
    return Project(project_dir, clean_environ())


def test_reference_template_is_accepted(tmp_path: Path) -> None:
    template = Path(__file__).parent / "fixtures/reference-config/gateway__config.template.json"
    config = load_gateway_config(template, {"AWS_REGION": "eu-west-1"})
    assert config.enabled_backends() == ["local_files"]
    # A backend's config is expanded when that backend loads, as load_backends does.
    s3 = expand_variables(config.backends["s3_archive"].config, {"AWS_REGION": "eu-west-1"}, template)
    assert s3["region"] == "eu-west-1"
    assert s3["bucket"] == "fractary-workflow-logs"  # the :- default
    assert config.event_retention.local_days == 30 and config.mcp_server.transport == "stdio"


def test_missing_gateway_means_local_files_only(tmp_path: Path) -> None:
    assert load_gateway_config(tmp_path / "absent.json", {}).enabled_backends() == ["local_files"]


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"backends": {"local_files": {"enabled": 1.5}}}, "backends.local_files.enabled"),
        ({"backends": {"local_files": {"enabled": True, "colour": "red"}}}, "backends.local_files.colour"),
        ({"event_retention": {"local_days": -1}}, "event_retention.local_days"),
        ({"mcp_server": {"transport": "pigeon"}}, "mcp_server.transport"),
        ({"unknown_section": True}, "unknown_section"),
    ],
)
def test_invalid_gateway_names_key_and_file(project_dir: Path, document: dict[str, Any], key: str) -> None:
    project = write_gateway(project_dir, document)
    with pytest.raises(ConfigError) as problem:
        Gateway.open(project)
    assert key in str(problem.value) and str(project.gateway_file) in str(problem.value)


def test_backend_config_is_validated_by_the_backend(project_dir: Path) -> None:
    project = write_gateway(project_dir, {"backends": {"local_files": {"enabled": True, "config": {"sync_writes": "often"}}}})
    with pytest.raises(ConfigError, match=r"backends\.local_files\.config\.sync_writes"):
        Gateway.open(project)


def test_variables_are_expanded() -> None:
    environ = {"BUCKET": "b1", "EMPTY": ""}
    document = {"a": "${BUCKET}", "b": ["x-${BUCKET}-y"], "c": "${EMPTY:-fallback}", "d": 3, "e": "${UNSET:-}"}
    assert expand_variables(document, environ, Path("g.json")) == {"a": "b1", "b": ["x-b1-y"], "c": "fallback", "d": 3, "e": ""}
    with pytest.raises(ConfigError, match="UNSET"):
        expand_variables({"a": "${UNSET}"}, environ, Path("g.json"))


def test_local_files_is_discovered_through_its_entry_point() -> None:
    found = discover_backends()
    assert found["local_files"].value == "faber_backend_local_files.plugin:LocalFilesBackend"
    assert found["local_files"].dist is not None and found["local_files"].dist.name == "faber-backend-local-files"


def test_disabling_local_files_turns_event_logging_off(project_dir: Path) -> None:
    """The rollback switch (tests/test_logging_off.py runs it through every door)."""
    project = write_gateway(project_dir, {"backends": {"local_files": {"enabled": False}}})
    store = Gateway.open(project).store
    assert isinstance(store, OffStore)
    with pytest.raises(LoggingOff, match="event logging is off"):
        store.find_runs("deadbeef")


# Third-party backends, plugged in through fake entry points of this test module -------------------


class RecordingSink:
    """A sink that records what it is told."""

    config_model = None
    seen: ClassVar[list[int]] = []

    def __init__(self, config: dict[str, Any], context: object) -> None:
        self.config = config

    @hookimpl
    def faber_emit_event(self, event: Any, state: Any) -> None:
        RecordingSink.seen.append(event.event_id)


class ExplodingSink:
    config_model = None

    def __init__(self, config: dict[str, Any], context: object) -> None:
        pass

    @hookimpl
    def faber_emit_event(self, event: Any, state: Any) -> None:
        raise RuntimeError("the stream is down")


class MisspelledHook:
    config_model = None

    def __init__(self, config: dict[str, Any], context: object) -> None:
        pass

    @hookimpl
    def faber_emit_evnt(self, event: Any) -> None:  # a typo check_pending must catch
        pass


def entry(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"{__name__}:{target}", group="faber.backends")


def available(**extra: str) -> dict[str, EntryPoint]:
    found = dict(discover_backends())
    found.update({name: entry(name, target) for name, target in extra.items()})
    return found


def enable(project_dir: Path, *names: str) -> Project:
    backends = {"local_files": {"enabled": True}, **{name: {"enabled": True} for name in names}}
    return write_gateway(project_dir, {"backends": backends})


def test_a_sink_receives_every_stored_event(project_dir: Path) -> None:
    RecordingSink.seen = []
    project = enable(project_dir, "recorder")
    faber = Faber(project, Gateway.open(project, available(recorder="RecordingSink")))
    run = faber.new_run("1").run_id
    for _ in range(3):
        assert faber.emit(run, "checkpoint").warnings == []
    assert RecordingSink.seen == [1, 2, 3]


def test_a_failing_sink_never_loses_the_event(project_dir: Path) -> None:
    RecordingSink.seen = []
    project = enable(project_dir, "exploder", "recorder")
    faber = Faber(project, Gateway.open(project, available(exploder="ExplodingSink", recorder="RecordingSink")))
    run = faber.new_run("1").run_id
    result = faber.emit(run, "checkpoint")
    assert result.event.event_id == 1
    assert result.warnings == ["backend 'exploder' (faber_emit_event) failed: RuntimeError: the stream is down"]
    assert RecordingSink.seen == [1], "the other sink still ran"
    assert [e.event_id for e in faber.events(run)] == [1]


def test_disabled_backends_are_not_loaded(project_dir: Path) -> None:
    project = write_gateway(project_dir, {"backends": {"local_files": {"enabled": True}, "broken": {"enabled": False}}})
    gateway = Gateway.open(project, available(broken="DoesNotExist"))
    assert gateway.manager.get_plugin("broken") is None
    assert {b.name: b.enabled for b in gateway.backends}["broken"] is False


def test_broken_backend_is_named_by_its_distribution(project_dir: Path) -> None:
    project = enable(project_dir, "broken")
    assert_not_loaded(Gateway.open(project, available(broken="DoesNotExist")),
                      r"'broken'.*failed to import: AttributeError")


def test_misspelled_hook_fails_loudly(project_dir: Path) -> None:
    project = enable(project_dir, "typo")
    assert_not_loaded(Gateway.open(project, available(typo="MisspelledHook")), "faber_emit_evnt")


def test_each_gateway_has_its_own_manager(project_dir: Path) -> None:
    project = Project(project_dir, clean_environ())
    first, second = Gateway.open(project), Gateway.open(project)
    assert first.manager is not second.manager
    assert isinstance(first.config, GatewayConfig)


def test_a_known_backend_that_is_not_installed_names_its_distribution(project_dir: Path) -> None:
    project = enable(project_dir, "s3_archive")
    without_s3 = {name: ep for name, ep in discover_backends().items() if name != "s3_archive"}
    assert_not_loaded(Gateway.open(project, without_s3), "pip install faber-backend-s3")


def assert_not_loaded(gateway: Gateway, error: str) -> None:
    """A backend that did not load leaves the gateway open (the record store loaded), warned about by
    name; what needs every backend (the archive's doors) fails with its error."""
    (warning,) = gateway.warnings
    assert re.search(error, warning) and "is not loaded" in warning
    for door in (gateway.has_archive, gateway.can_restore, gateway.can_list_archive, gateway.check_loaded):
        with pytest.raises(BackendError, match=error):
            door()

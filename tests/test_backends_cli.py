"""`faber backends`: every discovered backend, enabled or not, and why one cannot be used — even when
the gateway itself would not open."""

from __future__ import annotations

from faber_hookspecs import hookimpl
from faber_hookspecs.records import BackendContext
from pydantic import BaseModel, ConfigDict

from faber_host.testing import TestProject


class SinkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = "sink"


class Sink:
    config_model = SinkConfig

    def __init__(self, config: SinkConfig, context: BackendContext) -> None:
        pass

    @hookimpl
    def faber_emit_event(self, event: object, state: object) -> None:
        pass


def listed(project: TestProject) -> dict[str, dict[str, object]]:
    result = project.cli("backends", "--json")
    assert result.exit_code == 0, result.stderr
    return {info["name"]: info for info in result.json()}


def test_installed_backends_are_listed_with_hooks_enabled_first(faber_project: TestProject) -> None:
    faber_project.enable("sink", backend=Sink)
    names = [info["name"] for info in faber_project.cli("backends", "--json").json()]
    assert names[:2] == ["local_files", "sink"], "the enabled ones first, in gateway.json order"
    info = listed(faber_project)["local_files"]
    assert set(info) == {"name", "distribution", "version", "enabled", "installed", "entry_point", "hooks", "error"}
    assert "faber_record_store" in info["hooks"] and "faber_check_health" in info["hooks"]  # type: ignore[operator]


def test_an_enabled_backend_that_is_not_installed_is_listed_not_fatal(faber_project: TestProject) -> None:
    faber_project.enable("carrier_pigeon")
    info = listed(faber_project)
    assert info["carrier_pigeon"]["installed"] is False
    assert info["carrier_pigeon"]["error"] == (
        f"backend 'carrier_pigeon' is enabled in {faber_project.gateway_file} but not installed: install the "
        "distribution that provides the entry point 'carrier_pigeon' in the group 'faber.backends' (or disable it there)"
    ), "the error the gateway raises, word for word: one load report"
    listing = faber_project.cli("runs", "list")  # not the record store: other commands warn and go on
    assert listing.exit_code == 0
    assert listing.stderr == f"faber: warning: backend 'carrier_pigeon' is not loaded (what needs it fails): " \
        f"{info['carrier_pigeon']['error']}\n"
    assert faber_project.cli("runs", "list", "--archived").exit_code == 1, "what needs every backend refuses"
    table = faber_project.cli("backends").stdout
    assert "not installed" in table and "error: backend 'carrier_pigeon' is enabled" in table


def test_an_invalid_config_is_shown_on_its_backend(faber_project: TestProject) -> None:
    faber_project.enable("sink", {"pathh": "typo"}, backend=Sink)
    error = listed(faber_project)["sink"]["error"]
    assert isinstance(error, str) and "backends.sink.config.pathh: unknown key" in error

"""The pytest plugin of the testing kit (entry point ``pytest11``: ``faber``).

Importing it costs nothing: the kit's modules load when a fixture is first used.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..gateway import Gateway
    from .events import EventFactory
    from .project import BackendClass, GatewayFactory, TestProject
    from .receiver import RecordingReceiver
    from .s3 import S3Server


@pytest.fixture
def faber_project(tmp_path: Path) -> TestProject:
    """A fresh FABER project (org ``acme``, project ``widget-service``) with local_files enabled,
    in a temporary folder, read with the process environment minus every ``FABER_*`` variable."""
    from .project import TestProject

    return TestProject(tmp_path / "widget-service")


@pytest.fixture
def faber_gateway(faber_project: TestProject) -> GatewayFactory:
    """Open a gateway on ``faber_project`` with chosen backends::

        gateway = faber_gateway("my_backend", config={"my_backend": {...}}, backends={"my_backend": MyBackend})

    The names given are enabled, every other backend disabled; ``local_files`` is enabled too as the
    record store unless a class given in ``backends`` offers one (``faber_record_store``).
    ``backends`` gives classes that are not installed as entry points."""

    def open_gateway(
        *names: str,
        config: Mapping[str, Mapping[str, Any]] | None = None,
        backends: Mapping[str, BackendClass] | None = None,
    ) -> Gateway:
        config = config or {}
        backends = backends or {}
        for name in {*names, *backends}:
            faber_project.enable(name, config.get(name), backend=backends.get(name))
        offers_store = any(hasattr(backend, "faber_record_store") for backend in backends.values())
        faber_project.only(*(() if offers_store else ("local_files",)), *names, *backends)
        return faber_project.gateway()

    return open_gateway


@pytest.fixture
def faber_events() -> EventFactory:
    """Makes valid event drafts, stored events, states and whole workflows."""
    from .events import EventFactory

    return EventFactory()


@pytest.fixture
def faber_receiver() -> Iterator[RecordingReceiver]:
    """A recording HTTP server on 127.0.0.1 that accepts, fails, answers slowly or refuses on demand."""
    from .receiver import RecordingReceiver

    receiver = RecordingReceiver()
    yield receiver  # pytest runs what follows however the test ends
    receiver.stop()


@pytest.fixture(scope="session")
def faber_s3_server() -> Iterator[S3Server]:
    """A real S3-compatible server (moto in server mode, its own process) on 127.0.0.1, shared by the
    session: ``url`` for ``endpoint_url``, ``create_bucket()`` for a fresh bucket per test, ``client()``
    to look inside. Needs ``moto[server]`` installed."""
    from .s3 import S3Server

    server = S3Server()
    yield server
    server.stop()

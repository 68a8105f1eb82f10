"""Fixtures of the Helm stream tests, loaded by ``pytest_plugins = ["helm_fixtures"]`` in the test
modules (a conftest.py here would replace tests/conftest.py as the module ``conftest`` when pytest
collects the whole repository in one run)."""

from __future__ import annotations

import pytest
from helm_helpers import API_KEY, stream_config

from faber_host.testing import RecordingReceiver, TestProject


@pytest.fixture
def stream_project(faber_project: TestProject, faber_receiver: RecordingReceiver) -> TestProject:
    """A project with event_stream enabled, sending to ``faber_receiver``, with an API key set."""
    faber_project.environ["FABER_HELM_API_KEY"] = API_KEY
    faber_project.enable("event_stream", stream_config(faber_receiver))
    return faber_project

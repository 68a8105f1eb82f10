"""Fixtures of the Helm stream tests: a project streaming to the kit's recording receiver."""

from __future__ import annotations

import pytest
from helm_helpers import API_KEY, stream_config

from faber_host.testing import RecordingReceiver, TestProject


@pytest.fixture
def stream(faber_project: TestProject, faber_receiver: RecordingReceiver) -> TestProject:
    """A project with event_stream enabled, sending to ``faber_receiver``, with an API key set."""
    faber_project.environ["FABER_HELM_API_KEY"] = API_KEY
    faber_project.enable("event_stream", stream_config(faber_receiver))
    return faber_project

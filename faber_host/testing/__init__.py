"""The testing kit for backend authors: a temporary project, a gateway with chosen backends, event
factories and a recording HTTP receiver. faber-host registers ``faber_host.testing.plugin`` as a
pytest plugin, so once faber-host is installed these fixtures exist in every test suite:

* ``faber_project``: a fresh FABER project in a temporary folder (``TestProject``);
* ``faber_gateway``: ``faber_gateway("my_backend", config={...})`` opens a gateway with those backends;
* ``faber_events``: an ``EventFactory`` for drafts, stored events, states and whole workflows;
* ``faber_receiver``: a ``RecordingReceiver`` on 127.0.0.1 that can accept, fail, be slow or refuse;
* ``faber_s3_server``: an ``S3Server``, moto's S3-compatible server on 127.0.0.1 (needs ``moto[server]``).

See docs/backends.md in the faber-host repository for a walk-through.
"""

from __future__ import annotations

from .events import EventFactory
from .project import BackendClass, CliResult, GatewayFactory, StaticEntryPoint, TestProject
from .receiver import ReceivedRequest, RecordingReceiver
from .s3 import AWS_TEST_ENVIRONMENT, S3Server, aws_test_environ, use_s3_store

__all__ = [
    "AWS_TEST_ENVIRONMENT",
    "BackendClass",
    "CliResult",
    "EventFactory",
    "GatewayFactory",
    "ReceivedRequest",
    "RecordingReceiver",
    "S3Server",
    "StaticEntryPoint",
    "TestProject",
    "aws_test_environ",
    "use_s3_store",
]

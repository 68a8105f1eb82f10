"""The testing kit for backend authors, registered as a pytest plugin: the fixtures ``faber_project``,
``faber_gateway``, ``faber_events``, ``faber_receiver`` and ``faber_s3_server`` (see ``plugin.py``)
exist in every test suite once faber-host is installed. docs/backends.md walks through them."""

from __future__ import annotations

from .events import EventFactory
from .project import BackendClass, CliResult, GatewayFactory, StaticEntryPoint, TestProject
from .receiver import ReceivedRequest, RecordingReceiver
from .s3 import AWS_TEST_ENVIRONMENT, S3Server, aws_test_environ, use_s3_store

__all__ = [
    "AWS_TEST_ENVIRONMENT", "BackendClass", "CliResult", "EventFactory", "GatewayFactory", "ReceivedRequest",
    "RecordingReceiver", "S3Server", "StaticEntryPoint", "TestProject", "aws_test_environ", "use_s3_store",
]

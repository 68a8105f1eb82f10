"""A FABER project in a temporary folder, with the backends a test chooses."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, Protocol, cast
from unittest.mock import patch

from ..api import Faber
from ..gateway import Gateway
from ..gateway.plugins import discover_backends, extra_backends
from ..init import initialize
from ..project import Project

BackendClass = type
"""A backend: a class created as ``Backend(config, context)`` with ``@hookimpl`` methods."""


class GatewayFactory(Protocol):
    """The ``faber_gateway`` fixture: opens a gateway with chosen backends enabled."""

    def __call__(
        self, *names: str, config: Mapping[str, Mapping[str, Any]] | None = None,
        backends: Mapping[str, BackendClass] | None = None,
    ) -> Gateway: ...


@dataclass(frozen=True)
class StaticEntryPoint:
    """Stands in for an installed entry point: ``load()`` returns the class itself. Lets a test
    enable a backend class that has no distribution (yet)."""

    name: str
    backend: BackendClass
    group: str = "faber.backends"
    dist: None = None

    @property
    def value(self) -> str:
        return f"{self.backend.__module__}:{self.backend.__qualname__}"

    def load(self) -> BackendClass:
        return self.backend


@dataclass(frozen=True)
class CliResult:
    """What an in-process ``faber`` command did."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout as JSON (for commands run with ``--json``)."""
        return json.loads(self.stdout)


class TestProject:
    """A fresh FABER project (org ``acme``, project ``widget-service``): ``enable``/``disable`` edit its
    gateway.json; ``gateway()``, ``faber()`` and ``cli()`` open it as it is, with the classes given to ``enable``."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, root: Path, environ: Mapping[str, str] | None = None) -> None:
        self.root = root
        self.environ: dict[str, str] = dict(
            environ if environ is not None
            else {key: value for key, value in os.environ.items() if not key.startswith("FABER_")}
        )
        self._classes: dict[str, StaticEntryPoint] = {}
        if not (root / ".fractary").exists():
            root.mkdir(parents=True, exist_ok=True)
            initialize(root, "acme", "widget-service", self.environ)

    @property
    def project(self) -> Project:
        return Project(self.root, self.environ)

    @property
    def faber_dir(self) -> Path:
        return self.project.faber_dir

    @property
    def gateway_file(self) -> Path:
        return self.project.gateway_file

    @property
    def runs_dir(self) -> Path:
        """The local_files runs folder (its default place)."""
        return self.faber_dir / "runs"

    def gateway_document(self) -> dict[str, Any]:
        """gateway.json as a JSON object."""
        document: dict[str, Any] = json.loads(self.gateway_file.read_text(encoding="utf-8"))
        return document

    def write_gateway(self, document: Mapping[str, Any]) -> None:
        """Replace gateway.json."""
        self.gateway_file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")

    def enable(
        self, name: str, config: Mapping[str, Any] | None = None, *, backend: BackendClass | None = None
    ) -> None:
        """Enable backend ``name`` with ``config`` (None keeps its current config). ``backend`` is its
        class when it is not installed as an entry point."""
        document = self.gateway_document()
        entry = document.setdefault("backends", {}).setdefault(name, {})
        entry["enabled"] = True
        if config is not None:
            entry["config"] = dict(config)
        self.write_gateway(document)
        if backend is not None:
            self._classes[name] = StaticEntryPoint(name, backend)

    def disable(self, name: str) -> None:
        """Disable backend ``name`` (it stays in gateway.json)."""
        document = self.gateway_document()
        document.setdefault("backends", {}).setdefault(name, {})["enabled"] = False
        self.write_gateway(document)

    def only(self, *names: str) -> None:
        """Enable exactly these backends (their configs kept), disable every other one."""
        document = self.gateway_document()
        backends = document.setdefault("backends", {})
        for name in set(backends) | set(names):
            backends.setdefault(name, {})["enabled"] = name in names
        self.write_gateway(document)

    def available(self) -> dict[str, EntryPoint]:
        """The installed backends plus the classes given to ``enable``."""
        return {**discover_backends(), **cast(dict[str, EntryPoint], self._classes)}

    def gateway(self) -> Gateway:
        """A new gateway (a fresh plugin manager) on the project as it is now."""
        return Gateway.open(self.project, self.available())

    def faber(self) -> Faber:
        """The Python API on the project, with a new gateway."""
        return Faber(self.project, self.gateway())

    def cli(self, *args: str) -> CliResult:
        """Run ``faber --root <project> ARGS...`` in this process and capture what it printed.
        Backend classes given to ``enable`` are discovered as if installed."""
        from ..cli.runner import run_cli

        stdout, stderr = io.StringIO(), io.StringIO()
        with (
            extra_backends(cast(dict[str, EntryPoint], self._classes)),
            patch.dict(os.environ, self.environ, clear=True),  # the CLI reads os.environ
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
        ):
            code = run_cli(["--root", str(self.root), *args], debug=False)
        return CliResult(code, stdout.getvalue(), stderr.getvalue())

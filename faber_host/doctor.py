"""``faber doctor``: is this project ready to record runs? One verdict per check: the project and its
config, each enabled backend's load, then each backend's ``faber_check_health``. A check that an earlier
failure makes moot is not run."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from faber_hookspecs.errors import FaberError
from faber_hookspecs.reports import HealthCheck, Verdict

from .gateway import Gateway, backend_context
from .gateway.config import MCP_HTTP_PORT, GatewayConfig, expand_variables, load_gateway_config
from .gateway.logging_off import OffStore
from .gateway.plugins import load_backends
from .project import Project


@dataclass(frozen=True)
class DoctorCheck:
    """One line of ``faber doctor``: what was checked (``area``: config, backends, or a backend's
    name), the verdict, and what was found."""

    area: str
    name: str
    verdict: Verdict
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def diagnose(root: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> list[DoctorCheck]:
    """Run every check on the project at ``root`` (or FABER_ROOT, or above the current folder)."""
    checks: list[DoctorCheck] = []
    try:
        project = Project.find(root, environ)
    except FaberError as problem:
        return [DoctorCheck("config", "project found", "fail", str(problem))]
    checks.append(DoctorCheck("config", "project found", "ok", str(project.root)))

    try:
        org, slug = project.identity()
        checks.append(DoctorCheck("config", "config.json", "ok", f"runs are named {org}/{slug}/<uuid>"))
    except FaberError as problem:
        checks.append(DoctorCheck("config", "config.json", "fail", str(problem)))
    try:
        config = load_gateway_config(project.gateway_file, project.environ)
    except FaberError as problem:
        checks.append(DoctorCheck("config", "gateway.json", "fail", str(problem)))
        return checks
    enabled = config.enabled_backends()
    where = project.gateway_file if project.gateway_file.exists() else f"{project.gateway_file} (absent: defaults)"
    checks.append(DoctorCheck("config", "gateway.json", "ok", f"{where}; enabled: {', '.join(enabled) or 'none'}"))
    checks += _port_clashes(project, config)

    gateway, load_checks = _load_backends(project, config)
    checks += load_checks
    if gateway is not None:
        checks += _health_checks(gateway)
    return checks


def _port_clashes(project: Project, config: GatewayConfig) -> list[DoctorCheck]:
    """A warning per enabled backend URL on this machine at the port ``faber mcp --transport http``
    takes by default: with both on, one of them cannot listen or the backend talks to the wrong one."""
    checks = []
    for name in config.enabled_backends():
        try:
            settings = expand_variables(config.backends[name].config, project.environ, project.gateway_file)
        except FaberError:
            continue  # the backend's load check reports it
        for url in _urls(settings):
            try:
                host, port = urlsplit(url).hostname, urlsplit(url).port
            except ValueError:
                continue  # the backend's own config check words a malformed URL
            if port == MCP_HTTP_PORT and host in _THIS_MACHINE:
                checks.append(DoctorCheck(
                    "config", "ports", "warn",
                    f"backend {name!r} uses {url}, the port `faber mcp --transport http` listens on by default "
                    f"({MCP_HTTP_PORT}): move the backend, or start faber mcp with another --port",
                ))
    return checks


_THIS_MACHINE = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def _urls(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [url for item in value.values() for url in _urls(item)]
    if isinstance(value, list):
        return [url for item in value for url in _urls(item)]
    return [value] if isinstance(value, str) and value.startswith(("http://", "https://")) else []


def _load_backends(project: Project, config: GatewayConfig) -> tuple[Gateway | None, list[DoctorCheck]]:
    """Every enabled backend's load, from the one load report; the gateway when all loaded."""
    loaded = load_backends(config, backend_context(project))
    checks = [
        DoctorCheck(info.name, "loads", "fail", info.error) if info.error
        else DoctorCheck(info.name, "loads", "ok", f"{info.distribution} {info.version}" if info.distribution
                         else info.entry_point or "")
        for info in loaded.report[:len(config.enabled_backends())]
    ]
    if loaded.failures:
        return None, checks
    try:
        gateway = Gateway(project, config, loaded.manager, loaded.report)
    except FaberError as problem:
        return None, [*checks, DoctorCheck("backends", "record store", "fail", str(problem))]
    if isinstance(gateway.store, OffStore):  # the rollback switch: deliberate, but worth saying
        return gateway, [*checks, DoctorCheck("backends", "record store", "warn",
                                              f"{gateway.store.notice}: nothing is recorded")]
    return gateway, [*checks, DoctorCheck("backends", "record store", "ok", gateway.store_backend)]


def _health_checks(gateway: Gateway) -> list[DoctorCheck]:
    answers, failures = gateway.check_health()
    checks: list[DoctorCheck] = []
    for name, answer in answers:
        for check in answer:
            if isinstance(check, HealthCheck):
                checks.append(DoctorCheck(name, check.name, check.verdict, check.detail))
            else:
                wrong = f"answered {type(check).__name__}, not a HealthCheck"
                checks.append(DoctorCheck(name, "health", "fail", wrong))
    for name, warning in failures:
        checks.append(DoctorCheck(name, "health check", "fail", warning))
    return checks

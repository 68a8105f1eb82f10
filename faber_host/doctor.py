"""``faber doctor``: is this project ready to record runs? One verdict per check.

Checks, in order: the project and its config files; each enabled backend imports, validates its
config and starts; then each backend's own ``faber_check_health`` (the runs folder is writable, the
bucket answers, the stream answers...). A check that cannot run because an earlier one failed is not
run; the earlier failure says why.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from faber_hookspecs.errors import FaberError
from faber_hookspecs.records import BackendContext
from faber_hookspecs.reports import HealthCheck, Verdict

from .gateway import Gateway
from .gateway.config import GatewayConfig, load_gateway_config
from .gateway.plugins import (
    backend_report,
    check_hooks,
    discover_backends,
    load_backend,
    new_plugin_manager,
    register_backend,
    register_builtins,
)
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
        return {"area": self.area, "name": self.name, "verdict": self.verdict, "detail": self.detail}


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

    gateway, load_checks = _load_backends(project, config)
    checks += load_checks
    if gateway is not None:
        checks += _health_checks(gateway)
    return checks


def _load_backends(project: Project, config: GatewayConfig) -> tuple[Gateway | None, list[DoctorCheck]]:
    """Load each enabled backend on its own, so every broken one is reported, not only the first."""
    context = BackendContext(
        root=project.root, faber_dir=project.faber_dir, config_file=project.gateway_file, environ=project.environ
    )
    available = discover_backends()
    manager = new_plugin_manager()
    checks: list[DoctorCheck] = []
    for name in config.enabled_backends():
        try:
            plugin = load_backend(name, config.backends[name].config, context, available)
            register_backend(manager, name, plugin)
        except FaberError as problem:
            checks.append(DoctorCheck(name, "loads", "fail", str(problem)))
            continue
        dist = available[name].dist
        label = f"{dist.name} {dist.version}" if dist else available[name].value
        checks.append(DoctorCheck(name, "loads", "ok", label))
    register_builtins(manager)
    try:
        check_hooks(manager)
    except FaberError as problem:
        checks.append(DoctorCheck("backends", "hooks", "fail", str(problem)))
    if any(check.verdict == "fail" for check in checks):
        return None, checks
    try:
        gateway = Gateway(project, config, manager, backend_report(config, context, available))
    except FaberError as problem:
        return None, [*checks, DoctorCheck("backends", "record store", "fail", str(problem))]
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

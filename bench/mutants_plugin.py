"""A pytest plugin for the test runs of ``make mutants`` (bench/mutants.py loads it with -p mutants_plugin).

They trace every call on a loaded machine, so hypothesis gets no health checks or deadlines, and the same
examples every run, so a mutant's verdict does not depend on the draw.

It also keeps mutmut honest: mutmut counts any non-zero pytest exit as a kill, so a test selection that
pytest refuses (a bad node id: exit 4, before any session) or that selects nothing (exit 5) would pass
for a killed mutant. Each such run of a mutant is written to the file named by FABER_MUTANTS_REFUSED,
which bench/mutants.py reads to fail loudly."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("mutants", deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
settings.load_profile("mutants")

_exit_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


def pytest_unconfigure(config: pytest.Config) -> None:
    # A usage error (a node id pytest cannot find) ends the run before the session: no exit status then.
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    refused = not _exit_status or _exit_status[-1] in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED)
    if "__mutmut_" in mutant and refused and (record := os.environ.get("FABER_MUTANTS_REFUSED")):
        with open(record, "a") as file:
            file.write(f"{mutant} {_exit_status[-1] if _exit_status else 'usage error'}\n")
    _exit_status.clear()

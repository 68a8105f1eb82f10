"""The torture suite: every test here is marked ``torture`` and reports its figures at the end."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .kit import DETAILS, FIGURE_NAMES, FIGURES, SCALE

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.torture)


@pytest.fixture(autouse=True)
def _timed(request: pytest.FixtureRequest) -> Iterator[None]:
    start = time.monotonic()
    yield
    DETAILS.setdefault(request.node.name, {})["seconds"] = round(time.monotonic() - start, 1)


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    """Print the torture figures (and write them as JSON to FABER_TORTURE_REPORT when set)."""
    if not DETAILS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("torture figures")
    write("  ".join(f"{name.replace('_', ' ')}: {FIGURES[name]:,}" for name in FIGURE_NAMES)
          + (f"  (FABER_TORTURE_SCALE={SCALE:g})" if SCALE != 1 else ""))
    for test, figures in sorted(DETAILS.items()):
        shown = ", ".join(f"{key.replace('_', ' ')} {value:,}" if key in FIGURE_NAMES else f"{key.replace('_', ' ')} {value}"
                          for key, value in figures.items())
        write(f"  {test}: {shown}")
    target = os.environ.get("FABER_TORTURE_REPORT")
    if target:
        Path(target).write_text(json.dumps({"totals": dict(FIGURES), "scale": SCALE, "tests": DETAILS}, indent=2) + "\n")

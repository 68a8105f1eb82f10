"""Measuring side by side: alternating rounds, medians, and the table the figures end up in."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Figure:
    """One row of the table: what was measured, the ratio (or value) found, and its target."""

    key: str
    title: str
    value: float | None
    target: str
    passed: bool | None
    repetitions: str
    detail: str = ""

    @classmethod
    def pending(cls, key: str, title: str, target: str, why: str) -> Figure:
        """A figure that cannot be measured yet (the feature has not landed)."""
        return cls(key, title, None, target, None, "-", why)


def rounds(samplers: dict[str, Callable[[], float]], count: int) -> dict[str, list[float]]:
    """Call every sampler once per round, in turn, ``count`` rounds: each returns a cost (seconds per
    operation). Alternating spreads the machine's noise over all of them alike."""
    results: dict[str, list[float]] = {name: [] for name in samplers}
    for _ in range(count):
        for name, sampler in samplers.items():
            results[name].append(sampler())
    return results


def per_operation(action: Callable[[int], object], operations: int, first: int = 0) -> float:
    """Seconds per call of ``action(i)`` for i in first..first+operations-1."""
    start = time.perf_counter()
    for index in range(first, first + operations):
        action(index)
    return (time.perf_counter() - start) / operations


def median(values: list[float]) -> float:
    return statistics.median(values)


def paired_ratio(numerators: list[float], denominators: list[float]) -> float:
    """The median of the per-round ratios: each round's two figures were taken moments apart."""
    return statistics.median(n / d for n, d in zip(numerators, denominators, strict=True))


def fmt_rate(seconds_per_op: float) -> str:
    return f"{1 / seconds_per_op:,.0f}/s"


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def render_table(figures: list[Figure]) -> str:
    """The table ``make bench`` prints (Markdown, so docs/performance.md can quote it as is)."""
    rows = [["#", "figure", "measured", "target", "ok", "reps", "detail"]]
    for figure in figures:
        if figure.value is None:
            measured = "-"
        elif figure.key == "k":
            measured = f"{figure.value:.0f} MB"
        else:
            measured = f"{figure.value:.2f}"
        ok = {True: "yes", False: "NO", None: "-"}[figure.passed]
        rows.append([figure.key, figure.title, measured, figure.target, ok, figure.repetitions, figure.detail])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)

"""How ``faber run`` shows progress: ``RichDisplay`` (a live spinner) on a terminal, ``PlainDisplay`` (one
flushed line per thing, step output prefixed with ``|``) in a pipe, nothing for the Python API."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

from faber_hookspecs.workflow import ResolvedStep

if TYPE_CHECKING:
    from .outcome import RunOutcome


class Display:
    """Receives what happens during a run. This base class shows nothing (the Python API's default)."""

    def start(self, run_id: str, workflow_id: str, work_id: str | None, how: str) -> None:
        """The run is about to execute (``how``: started, resumed at X, re-run of Y)."""

    def phase(self, name: str, action: str, detail: str = "") -> None:
        """A phase started, completed or was skipped."""

    def step_started(self, step: ResolvedStep, attempt: int, max_attempts: int) -> None:
        """An attempt of a step started."""

    def output(self, line: str) -> None:
        """A line of the running step's output."""

    def step_finished(self, step: ResolvedStep, status: str, duration_ms: int | None, detail: str = "") -> None:
        """A step ended: completed, failed, skipped, or handed to an agent (paused)."""

    def note(self, text: str) -> None:
        """Anything else worth a line: a retry, an approval request, a backend's warning."""

    def finish(self, outcome: RunOutcome) -> None:
        """The run stopped; ``outcome`` says how and what to do next."""

    def close(self) -> None:
        """Release the terminal."""


class PlainDisplay(Display):
    """One line per thing that happened, for pipes and logs."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def start(self, run_id: str, workflow_id: str, work_id: str | None, how: str) -> None:
        self._line(f"run {run_id} ({how}; workflow {workflow_id}, work {work_id or '-'})")

    def phase(self, name: str, action: str, detail: str = "") -> None:
        self._line(f"[{name}] phase {action}" + (f": {detail}" if detail else ""))

    def step_started(self, step: ResolvedStep, attempt: int, max_attempts: int) -> None:
        tries = f" (attempt {attempt} of {max_attempts})" if max_attempts > 1 else ""
        self._line(f"[{step.phase}] {step.id} started{tries}")

    def output(self, line: str) -> None:
        self._line(f"  | {line}")

    def step_finished(self, step: ResolvedStep, status: str, duration_ms: int | None, detail: str = "") -> None:
        took = f" in {format_duration(duration_ms)}" if duration_ms is not None else ""
        self._line(f"[{step.phase}] {step.id} {status}{took}" + (f": {detail}" if detail else ""))

    def note(self, text: str) -> None:
        self._line(text)

    def finish(self, outcome: RunOutcome) -> None:
        self._line(outcome.message)
        if outcome.hint:
            self._line(f"  next: {outcome.hint}")


class RichDisplay(Display):
    """A live view for a terminal: finished steps scroll up, the running one ticks at the bottom."""

    MARKS: ClassVar[dict[str, str]] = {
        "completed": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[dim]-[/]", "paused": "[yellow]‖[/]",
    }

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.live import Live

        self.current: tuple[ResolvedStep, float, int, int] | None = None
        self.last_line = ""
        self.console = Console(file=stream, highlight=False)
        self.live = Live(console=self.console, refresh_per_second=8, transient=True, get_renderable=self._status)
        self.live.start()

    def _status(self) -> Any:
        from rich.spinner import Spinner
        from rich.text import Text

        if self.current is None:
            return Text("")
        step, started, attempt, attempts = self.current
        tries = f" attempt {attempt}/{attempts}" if attempts > 1 else ""
        elapsed = format_duration(int((time.monotonic() - started) * 1000))
        text = Text.assemble(
            (f" {step.phase}:{step.id}", "bold"), (f"{tries}  {elapsed}", "dim"),
            (f"  {self.last_line[:80]}" if self.last_line else "", "dim"),
        )
        return Spinner("dots", text=text)

    def _print(self, markup: str) -> None:
        self.live.console.print(markup)

    def start(self, run_id: str, workflow_id: str, work_id: str | None, how: str) -> None:
        self._print(f"[bold]run[/] {run_id} [dim]({how}; workflow {workflow_id}, work {work_id or '-'})[/]")

    def phase(self, name: str, action: str, detail: str = "") -> None:
        if action == "started":
            self._print(f"[bold cyan]{name}[/]")
        elif action == "skipped":
            self._print(f"[dim]{name} skipped{': ' + detail if detail else ''}[/]")

    def step_started(self, step: ResolvedStep, attempt: int, max_attempts: int) -> None:
        self.current = (step, time.monotonic(), attempt, max_attempts)
        self.last_line = ""
        self.live.refresh()

    def output(self, line: str) -> None:
        from rich.markup import escape

        self.last_line = line.strip()
        self._print(f"[dim]  │ {escape(line)}[/]")

    def step_finished(self, step: ResolvedStep, status: str, duration_ms: int | None, detail: str = "") -> None:
        from rich.markup import escape

        self.current = None
        self.live.refresh()
        took = f" [dim]{format_duration(duration_ms)}[/]" if duration_ms is not None else ""
        more = f" [dim]{escape(detail)}[/]" if detail else ""
        self._print(f"  {self.MARKS.get(status, status)} {escape(step.id)}{took}{more}")

    def note(self, text: str) -> None:
        from rich.markup import escape

        self._print(f"[yellow]{escape(text)}[/]")

    def finish(self, outcome: RunOutcome) -> None:
        from rich.markup import escape

        colour = {"completed": "green", "failed": "red", "denied": "red"}.get(outcome.status, "yellow")
        self._print(f"[bold {colour}]{escape(outcome.message)}[/]")
        if outcome.hint:
            self._print(f"  next: [bold]{escape(outcome.hint)}[/]")

    def close(self) -> None:
        self.current = None
        self.live.stop()


def choose_display(stream: TextIO | None = None, *, quiet: bool = False) -> Display:
    """A live display on a terminal, plain lines otherwise; step output is left out when ``quiet``."""
    stream = stream or sys.stdout
    display: Display = RichDisplay(stream) if stream.isatty() else PlainDisplay(stream)
    if quiet:
        display.output = lambda line: None  # type: ignore[method-assign]
    return display


def format_duration(duration_ms: int | None) -> str:
    """``850 ms``, ``12.4 s``, ``3 min 05 s``."""
    if duration_ms is None:
        return "-"
    if duration_ms < 1000:
        return f"{duration_ms} ms"
    seconds = duration_ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes} min {seconds:02d} s"

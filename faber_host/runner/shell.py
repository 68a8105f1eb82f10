"""The built-in ``shell`` executor (``trylast``, so a backend's executor is asked first): runs a step's
``run`` with ``/bin/sh -c`` in the project root, FABER_* variables added, stdin closed.

It gets its own process group, so a timeout or a cancellation (SIGTERM, then SIGKILL after a grace
period) stops everything it started. Signals are blocked while it starts, so a cancellation cannot land
between fork and the point where it can be stopped; on Linux PR_SET_PDEATHSIG kills it with faber."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from faber_hookspecs.markers import hookimpl

if TYPE_CHECKING:
    from faber_hookspecs.execution import StepContext, StepResult
    from faber_hookspecs.workflow import ResolvedStep

SHELL = "/bin/sh"
STOP_GRACE_SECONDS = 2.0
"""How long a stopped step gets between SIGTERM and SIGKILL."""


class ShellExecutor:
    """Runs ``run`` steps as shell commands."""

    name = "shell"

    @hookimpl(trylast=True)
    def faber_execute_step(
        self, step: ResolvedStep, context: StepContext, output: Callable[[str], None]
    ) -> StepResult | None:
        if step.run is None:
            return None
        from faber_hookspecs.events import EventError
        from faber_hookspecs.execution import OUTPUT_TAIL_LINES, StepResult, tail_of

        started = time.monotonic()
        timed_out = threading.Event()
        timer = None
        lines: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
        process, mask = _start(step.run, context)
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a cancellation held back meanwhile lands here
            if step.timeout is not None:
                timer = threading.Timer(step.timeout, _stop_on_timeout, (process, timed_out))
                timer.daemon = True
                timer.start()
            assert process.stdout is not None
            for raw in process.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                lines.append(line)
                output(line)
            code = process.wait()
        except BaseException:  # RunCancelled, KeyboardInterrupt, a display failure: stop the step
            _stop(process)
            raise
        finally:
            if timer is not None:  # a stop under way finishes first: the shell's end does not end its group
                timer.cancel()
                timer.join()
            if process.stdout is not None:
                process.stdout.close()
        duration_ms = int((time.monotonic() - started) * 1000)
        tail = tail_of(list(lines)) if lines else None
        if code == 0 and not timed_out.is_set():
            return StepResult(status="completed", executor=self.name, duration_ms=duration_ms, exit_code=0,
                              output_tail=tail)
        if timed_out.is_set():
            error = EventError(code="STEP_TIMEOUT", message=f"stopped after the step's timeout of {step.timeout:g} s",
                               recoverable=True)
        else:
            last = next((line.strip() for line in reversed(lines) if line.strip()), "")
            detail = f": {last[:300]}" if last else ""
            error = EventError(code="STEP_FAILED", message=f"{_describe_exit(code)}{detail}", recoverable=True)
        return StepResult(status="failed", executor=self.name, duration_ms=duration_ms, exit_code=code,
                          output_tail=tail, error=error)


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _stop_on_timeout(process: subprocess.Popen[bytes], timed_out: threading.Event) -> None:
    timed_out.set()
    _stop(process)


def _start(command: str, context: StepContext) -> tuple[subprocess.Popen[bytes], set[int | signal.Signals]]:
    """Start ``command`` in a new process group with SIGINT and SIGTERM blocked in this thread; return
    it and the signal mask to restore once the caller is ready to stop it."""
    from .cancel import CANCEL_SIGNALS  # here: every gateway registers this executor, few run a step

    mask = signal.pthread_sigmask(signal.SIG_BLOCK, CANCEL_SIGNALS)
    try:
        return subprocess.Popen(
            [SHELL, "-c", command], cwd=context.working_directory, env={**os.environ, **context.environment},
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_child_setup(os.getpid()),
        ), mask
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the step's whole process group: SIGTERM, then SIGKILL after a grace period to whatever
    is left of it, background children that outlived the shell included."""
    _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None and not _signal_group(process.pid, 0):
            return
        time.sleep(0.02)
    _signal_group(process.pid, signal.SIGKILL)
    try:
        process.wait(timeout=5.0)
    except subprocess.TimeoutExpired:  # uninterruptible in the kernel: nothing more to do from here
        pass


def _signal_group(group: int, signum: int) -> bool:
    """Send ``signum`` to a process group (0: only ask whether it exists); False when it is empty."""
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we may not signal is still a member
        return True
    return True


def _child_setup(parent: int) -> Callable[[], None]:
    """A function for the child to run before exec: block no signal (not even one faber inherited
    blocked: a stop's SIGTERM must reach the step), and, on Linux, ask to be sent SIGKILL when faber dies
    (PR_SET_PDEATHSIG). prctl is looked up here, in the parent: the child, forked from a process that
    may have other threads, only calls it."""
    prctl = None
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            pass
    kill = int(signal.SIGKILL)

    def setup() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        if prctl is not None:
            prctl(1, kill, 0, 0, 0)  # PR_SET_PDEATHSIG
            if os.getppid() != parent:  # faber died before the request took effect
                os._exit(137)

    return setup

"""The ``event_stream`` backend (off by default): every stored event goes to the Helm service, or waits
in the run's outbox. An emit tries the service once, for at most ``emit_timeout_ms``; the outbox is sent
by the run's next emit and by ``faber backends flush event_stream``. After a failure emits leave the
service alone for the backoff, so an outage costs an emit one append. The contract is in README.md."""

from __future__ import annotations

import os
import time
from pathlib import Path

from faber_hookspecs import hookimpl
from faber_hookspecs.errors import BackendError
from faber_hookspecs.events import Event
from faber_hookspecs.records import BackendContext
from faber_hookspecs.reports import FlushReport, HealthCheck
from faber_hookspecs.state import RunState

from .config import HelmStreamConfig
from .envelope import envelope_line
from .health import HealthRecord
from .outbox import Outbox
from .transport import Delivery, HelmClient

PING_TIMEOUT_S = 5.0


class HelmStreamBackend:
    """Forwards events to the Helm service in NDJSON batches, with a durable per-run outbox."""

    config_model = HelmStreamConfig

    def __init__(self, config: HelmStreamConfig, context: BackendContext) -> None:
        self.config = config
        root = Path(config.outbox_path)
        self.outbox_root = root if root.is_absolute() else context.root / root
        self.outbox = Outbox(self.outbox_root, sync=config.sync_writes)
        self.health = HealthRecord(self.outbox_root, config.retry_policy)
        self.api_key_env = config.api_key_env
        self.api_key_set = bool(config.api_key_env and context.environ.get(config.api_key_env))
        api_key = context.environ.get(config.api_key_env) if config.api_key_env else None
        self.client = HelmClient(config.service_url, api_key)

    @hookimpl
    def faber_emit_event(self, event: Event, state: RunState) -> None:
        line = envelope_line(event, state, self.config.dashboard_url)
        run_id = event.run_id
        timeout = self.config.emit_timeout_ms / 1000
        if self.outbox.has_pending(run_id):
            # Earlier events of this run wait: queue behind them, and send from the front.
            self.outbox.append(run_id, line)
            if not self.health.read().blocks(time.time()):
                with self.outbox.sending(wait=False) as mine:
                    if mine:
                        self._drain(run_id, timeout=timeout, retries=0, max_batches=1)
            return
        if self.health.read().blocks(time.time()):
            self.outbox.append(run_id, line)
            return
        delivery = self.client.post(line, timeout)
        if delivery.ok:
            self.health.succeeded()
            return
        self.outbox.append(run_id, line)
        self._failed(delivery, warn=True)

    @hookimpl
    def faber_flush(self, run_id: str | None) -> FlushReport:
        runs = [run_id] if run_id is not None else self.outbox.runs()
        delivered, touched, error = 0, 0, None
        timeout = self.config.flush_timeout_ms / 1000
        with self.outbox.sending(wait=True):
            for run in runs:
                if not self.outbox.has_pending(run):
                    continue
                touched += 1
                count, error = self._drain(run, timeout=timeout, retries=self.config.retry_policy.max_retries)
                delivered += count
                if error is not None:
                    break  # the service is not taking anything: later runs would fail the same way
        pending = sum(self.outbox.pending(run) for run in (runs if run_id is not None else self.outbox.runs()))
        return FlushReport(delivered=delivered, pending=pending, runs=touched, error=error)

    @hookimpl
    def faber_check_health(self) -> list[HealthCheck]:
        checks = [self._check_service(), self._check_outbox()]
        if self.api_key_env and not self.api_key_set:
            checks.append(HealthCheck(
                name="stream API key", verdict="warn",
                detail=f"{self.api_key_env} is not set: events are sent without an API key",
            ))
        return checks

    def _drain(
        self, run_id: str, *, timeout: float, retries: int, max_batches: int | None = None
    ) -> tuple[int, str | None]:
        """Send the run's outbox from the front, batch by batch (hold ``outbox.sending``). Returns the
        events delivered and, when it stopped early, why."""
        self.outbox.compact(run_id)
        delivered, batches = 0, 0
        while max_batches is None or batches < max_batches:
            batch = self.outbox.peek(run_id, self.config.batch_size)
            if batch is None:
                break
            delivery = self._post(b"".join(batch.lines), timeout, retries)
            if not delivery.ok:
                self._failed(delivery, warn=False)
                return delivered, delivery.detail
            self.outbox.advance(batch)
            self.health.succeeded()
            delivered += len(batch.lines)
            batches += 1
        return delivered, None

    def _post(self, body: bytes, timeout: float, retries: int) -> Delivery:
        """POST with up to ``retries`` more attempts for failures that may pass, backing off."""
        attempt = 0
        while True:
            delivery = self.client.post(body, timeout)
            if delivery.ok or not delivery.retryable or attempt >= retries:
                return delivery
            attempt += 1
            time.sleep(self.config.retry_policy.delay_ms(attempt) / 1000)

    def _failed(self, delivery: Delivery, *, warn: bool) -> None:
        """Record the failure; on the first one of an outage, tell the emitter (as a warning)."""
        record = self.health.failed(delivery.detail)
        if warn and record.failures == 1:
            raise BackendError(
                f"the Helm service did not take the event ({delivery.detail}); it waits in the outbox and "
                "is sent again on the next emit or by `faber backends flush event_stream`"
            )

    def _check_service(self) -> HealthCheck:
        delivery = self.client.post(b"", min(PING_TIMEOUT_S, self.config.flush_timeout_ms / 1000))
        if delivery.ok:
            detail = f"{self.config.service_url}: {delivery.detail}"
            return HealthCheck(name="stream answers", verdict="ok", detail=detail)
        return HealthCheck(name="stream answers", verdict="fail", detail=delivery.detail)

    def _check_outbox(self) -> HealthCheck:
        try:
            self.outbox_root.mkdir(mode=0o700, parents=True, exist_ok=True)
            probe = self.outbox_root / f".probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as problem:
            return HealthCheck(
                name="stream outbox", verdict="fail",
                detail=f"cannot write {self.outbox_root}: {problem.strerror}",
            )
        runs = self.outbox.runs()
        pending = sum(self.outbox.pending(run) for run in runs)
        if not pending:
            return HealthCheck(name="stream outbox", verdict="ok", detail=f"{self.outbox_root}: empty")
        outage = self.health.read()
        why = f"; last error: {outage.last_error}" if outage.last_error else ""
        return HealthCheck(
            name="stream outbox", verdict="warn",
            detail=f"{pending} event(s) of {len(runs)} run(s) wait to be sent{why}; "
            "run `faber backends flush event_stream`",
        )

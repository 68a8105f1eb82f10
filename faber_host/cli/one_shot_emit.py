"""``faber event emit`` without typer, pydantic or pluggy: the one-shot command agents run at every step.

Starting the full CLI costs ten times what the event does (typer, pydantic, pluggy and the entry
points take hundreds of milliseconds to import). ``try_emit`` stores the event through the same record
store, reducer, validator and run naming the full CLI ends up using, and it does so only when it can
prove the outcome is the one the full CLI would give. Otherwise it returns None, before anything is
written, and the full CLI runs instead. It goes ahead only with:

- arguments it fully understands: ``[--root DIR] event emit RUN TYPE`` with ``--phase``, ``--step``,
  ``--status``, ``--message``, ``--data``, ``--duration-ms`` (each at most once) and ``--json``;
- a gateway.json that enables ``local_files`` alone, written exactly as ``GatewayConfig`` reads it
  with nothing to coerce or expand (no ``${VAR}``): ``quick.gateway_sections``;
- fields that pass the gateway's input policy (size limits, then secret redaction:
  ``InputPolicy.screen_event``, the very call the emit core ``runlog.screen_draft`` makes), so a
  secret is redacted here exactly as on the full CLI, before anything is written;
- a draft that ``plain_draft`` builds without pydantic, and a run that its name resolves to.

Every mistake a user can make therefore takes the full CLI's path, which also words the error: the
two cannot drift apart. From the moment the event is being stored, errors are reported here exactly as
the full CLI reports them (``runner.run_cli``). Tests run the same inputs through both paths.
"""

from __future__ import annotations

import os
import sys

from faber_hookspecs.errors import FaberError
from faber_hookspecs.wire import encodable, loads

from ..project_root import FABER_DIR_NAME, find_project_root
from .output import fail, print_json, warn
from .quick import gateway_sections, leading_root, local_store

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (it costs this path milliseconds)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from faber_backend_local_files.store import LocalRunStore
    from faber_hookspecs.run_id import RunId

    from ..safety.redaction import Findings

_VALUE_OPTIONS = {"--phase": "phase", "--step": "step", "--status": "status", "--message": "message",
                  "--data": "data", "--duration-ms": "duration_ms"}


def try_emit(args: list[str], environ: Mapping[str, str]) -> int | None:
    """Run ``faber <args>`` if it is an event emit this path can prove equivalent; return its exit
    code, or None (nothing done) to have the full CLI run it."""
    try:
        command = _parse(args)
        if command is None:
            return None
        try:
            decided = _prepare(*command, environ)
        except Exception:  # whatever went wrong, the full CLI reports it in its own words
            return None
        if decided is None:
            return None
        return _store(*decided, as_json=command[3])
    except KeyboardInterrupt:
        return fail("interrupted", 130)


def _parse(args: list[str]) -> tuple[str | None, str, dict[str, str], bool] | None:
    """``(--root value, RUN, {option: value}, --json)``, or None for anything beyond the plain forms."""
    leading = leading_root(args)
    if leading is None:
        return None
    root, index = leading
    if args[index:index + 2] != ["event", "emit"]:
        return None
    positional: list[str] = []
    options: dict[str, str] = {}
    as_json = False
    rest = args[index + 2:]
    position = 0
    while position < len(rest):
        token = rest[position]
        position += 1
        if not token.startswith("-"):
            positional.append(token)
            continue
        name, equals, value = token.partition("=")
        if token == "--json" and not as_json:
            as_json = True
        elif name in _VALUE_OPTIONS and _VALUE_OPTIONS[name] not in options:
            if not equals:
                if position == len(rest) or rest[position].startswith("-"):
                    return None
                value = rest[position]
                position += 1
            options[_VALUE_OPTIONS[name]] = value
        else:
            return None  # --help, --debug, a repeated or unknown option, "--", "-": the full CLI's job
    if len(positional) != 2:
        return None
    if not all(encodable(text) for text in (*positional, *options.values(), root or "")):
        return None
    run_ref, event_type = positional
    options["type"] = event_type
    return root, run_ref, options, as_json


def _prepare(root_option: str | None, run_ref: str, options: dict[str, str], _as_json: bool,
             environ: Mapping[str, str]) -> tuple[LocalRunStore, RunId, dict[str, Any], Findings] | None:
    """Everything the full CLI checks before it stores the event, checked without writing anything:
    the project, its store, the run, the screened draft and what the screening redacted; None when
    this path cannot be sure."""
    from faber_hookspecs.errors import InvalidEvent
    from faber_hookspecs.validation import plain_draft

    from ..run_ref import current_user, resolve_run_ref
    from ..safety.policy import InputPolicy

    fields = _fields(options)
    if fields is None:
        return None
    root = find_project_root(root_option, environ)
    gateway = gateway_sections(os.path.join(root, FABER_DIR_NAME, "gateway.json"), environ)
    if gateway is None:
        return None
    settings, redaction, limits = gateway
    # The same policy, built from the same sections, as Gateway.input_policy; and the same call, on
    # the same fields, as runlog.screen_draft. A config error or a refused event: the full CLI words it.
    policy = InputPolicy.from_settings(redaction, limits)
    try:
        screened, findings = policy.screen_event({"user": current_user(), "source": "faber-cli", **fields})
    except InvalidEvent:
        return None
    draft = plain_draft(screened)
    if draft is None:
        return None
    store: LocalRunStore = local_store(settings, root, environ, one_shot=True)
    return store, resolve_run_ref(run_ref, store.find_runs), draft, findings


def _store(store: LocalRunStore, run_id: RunId, draft: dict[str, Any], findings: Findings, *,
           as_json: bool) -> int:
    """Store the event and print what the full CLI prints; errors as ``runner.run_cli`` words them."""
    from faber_hookspecs.wire import canonical_event

    try:
        event, _ = store.append(run_id, draft)
        if findings:
            warn(findings.describe("the event"))
        if as_json:
            print_json(canonical_event(event))
        else:
            print(event["event_id"])
    except FaberError as problem:
        return fail(str(problem), problem.exit_code)
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except Exception as problem:  # the last line of defence, as in runner.run_cli
        return fail(
            f"internal error: {type(problem).__name__}: {problem} (run again with --debug for the details)", 1
        )
    return 0


def _fields(options: dict[str, str]) -> dict[str, Any] | None:
    """The draft fields the typer command builds: ``--data`` first, the options over it."""
    fields: dict[str, Any] = {}
    data = options.pop("data", None)
    if data is not None:
        try:
            parsed = loads(data)
        except ValueError:
            return None
        if not isinstance(parsed, dict):
            return None
        fields = parsed
    duration = options.pop("duration_ms", None)
    if duration is not None:
        if not (duration.isascii() and duration.isdigit()):
            return None
        fields["duration_ms"] = int(duration)
    fields.update(options)
    return fields

"""``faber event emit``: its options, declared once in ``OPTIONS``, and the one function that runs it.

Agents run this command at every step, and building the typer application costs more than the event,
so the console script calls ``run`` directly for ``faber [--root DIR] [--debug] event emit ...``. The
typer command ``faber event emit`` (listed by ``faber event --help``) hands its arguments to the same
``run``. Either way the backends are loaded by the gateway as for every command, the event goes
through ``RunLog.emit``, and errors are worded by ``output`` with the CLI's exit codes.

The flags of the FABER reference's ``emit-event.sh`` work too (``--run-id``, ``--type``, ``--metadata``,
``--artifacts``, ``--error``), so a call written for the script works once the script's path is
replaced by ``faber event emit``.
"""

from __future__ import annotations

import sys

from faber_hookspecs.errors import InvalidInput

from .output import note, print_json, warn

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

    from ..safety.limits import Limits

USAGE = "faber event emit [OPTIONS] RUN TYPE"

OPTIONS: tuple[tuple[str, str, str | None, str], ...] = (
    # (flag, event field or option name, metavar (None: a flag without a value), help)
    ("--run-id", "run", "RUN", "The run, instead of the RUN argument (as emit-event.sh takes it)."),
    ("--type", "type", "TYPE", "The event type, instead of the TYPE argument (see `faber schema`)."),
    ("--phase", "phase", "PHASE", "One of frame, architect, build, evaluate, release."),
    ("--step", "step", "STEP", "The step id."),
    ("--status", "status", "STATUS", "started, completed, failed..."),
    ("--message", "message", "TEXT", "What happened, for a person."),
    ("--metadata", "metadata", "JSON", "The event's metadata: a JSON object."),
    ("--artifacts", "artifacts", "JSON", 'What it produced: a JSON array of objects such as {"type": "file", '
                                         '"name": "x"}.'),
    ("--error", "error", "JSON", 'What went wrong: a JSON object {"code": ..., "message": ...}.'),
    ("--duration-ms", "duration_ms", "N", "How long it took, in milliseconds."),
    ("--data", "data", "JSON", 'More event fields as one JSON object ({"metadata": ..., "correlation_id": ..., '
                               '"retry_attempt": ...}); @FILE reads it from a file, - from standard input.'),
    ("--json", "json", None, "Print the stored event as JSON."),
)
"""Every option of the command, for the parser and the help alike."""

_BY_FLAG = {flag: (name, metavar) for flag, name, metavar, _ in OPTIONS}
_EMPTY_MEANS_ABSENT = ("phase", "step", "status", "message")
"""emit-event.sh leaves these out of the event when given empty: a script passing ``--phase "$PHASE"``
with no phase set works the same here."""

MAX_JSON_INPUT = 64 * 1024 * 1024
"""The most ``--data @FILE`` or ``--data -`` reads: the largest event any configuration allows."""


def help_text() -> str:
    """``faber event emit --help``."""
    width = max(len(flag) + len(metavar or "") + 1 for flag, _, metavar, _ in OPTIONS) + 2
    lines = [f"Usage: {USAGE}", "", "  Record an event durably and print its id.", "",
             "  RUN is org/project/uuid, a uuid, or a unique uuid prefix; TYPE an event type (see `faber schema`).",
             "  Empty --phase, --step, --status and --message values are left out, as emit-event.sh does.", "",
             "Options:"]
    for flag, _, metavar, text in OPTIONS:
        lines.append(f"  {(flag + ' ' + metavar) if metavar else flag:<{width}}{text}")
    lines.append(f"  {'-h, --help':<{width}}Show this message and exit.")
    return "\n".join(lines)


def parse(args: list[str]) -> dict[str, str | bool] | None:
    """The options and arguments given, by name (``run``, ``type``, ``phase``...); None for ``--help``.
    Raises InvalidInput (exit 2) for an unknown or repeated option, a missing value or argument, or
    a run or type given twice differently."""
    given: dict[str, str | bool] = {}
    positional: list[str] = []
    position = 0
    while position < len(args):
        token = args[position]
        position += 1
        if token in ("-h", "--help"):
            return None
        if token == "--":
            positional += args[position:]
            break
        if not token.startswith("-") or token == "-":
            positional.append(token)
            continue
        flag, equals, value = token.partition("=")
        if flag not in _BY_FLAG:
            raise _usage(f"no such option: {flag[:64]}")
        name, metavar = _BY_FLAG[flag]
        if name in given:
            raise _usage(f"{flag} is given twice")
        if metavar is None:
            if equals:
                raise _usage(f"{flag} takes no value")
            given[name] = True
            continue
        if not equals:
            if position == len(args):
                raise _usage(f"{flag} needs a value ({metavar})")
            value = args[position]
            position += 1
        given[name] = value
    if len(positional) > 2:
        raise _usage(f"unexpected argument {positional[2][:64]!r}")
    for name, value in zip(("run", "type"), positional, strict=False):
        flag = "--run-id" if name == "run" else "--type"
        if name in given and given[name] != value:
            raise _usage(f"the {name.upper()} argument {value[:64]!r} and {flag} {str(given[name])[:64]!r} differ: "
                         "give one")
        given[name] = value
    for name, flag in (("run", "--run-id"), ("type", "--type")):
        if name not in given:
            raise _usage(f"missing the {name.upper()} argument (or {flag})")
    return given


def _usage(message: str) -> InvalidInput:
    return InvalidInput(f"{message} (see `faber event emit --help`)")


def event_fields(given: dict[str, str | bool], limits: Limits) -> dict[str, Any]:
    """The draft fields of an event: ``--data``'s object, and each option's field. A field given both
    in ``--data`` and by its own option is refused, unless both say the same."""
    fields: dict[str, Any] = {}
    data = given.get("data")
    if isinstance(data, str):
        fields = read_json_option(data, "--data", limits)
    options: dict[str, Any] = {"type": given["type"]}
    for name in _EMPTY_MEANS_ABSENT:
        if given.get(name):
            options[name] = given[name]
    duration = given.get("duration_ms")
    if isinstance(duration, str):
        if not (duration.isascii() and duration.isdigit()):
            raise InvalidInput(f"--duration-ms {duration[:64]!r} must be a whole number of milliseconds (0 or more)")
        options["duration_ms"] = int(duration)
    for name, kind in (("metadata", dict), ("artifacts", list), ("error", dict)):
        text = given.get(name)
        if isinstance(text, str):
            value = _parse_json(text, f"--{name}", limits)
            if not isinstance(value, kind):
                what = "an object" if kind is dict else "an array"
                raise InvalidInput(f"--{name} must be {what} in JSON, like {_EXAMPLES[name]}")
            options[name] = value
    for name, value in options.items():
        if name in fields and fields[name] != value:
            flag = "TYPE" if name == "type" else "--" + name.replace("_", "-")
            raise InvalidInput(f"{name!r} is given both in --data and by {flag}, differently: give it once")
        fields[name] = value
    return fields


_EXAMPLES = {"metadata": '\'{"key": "value"}\'', "artifacts": '\'[{"type": "file", "name": "x"}]\'',
             "error": '\'{"code": "E_TEST", "message": "3 tests failed"}\''}


def read_json_option(value: str, option: str, limits: Limits) -> dict[str, Any]:
    """A JSON object given as ``--data '{...}'``, ``--data @FILE`` or ``--data -`` (standard input):
    a command line holds at most 128 KiB per argument, an event up to 1 MiB by default. Nesting too
    deep to parse is refused as ``limits`` refuse it in an event."""
    if value == "-":
        text = sys.stdin.buffer.read(MAX_JSON_INPUT + 1)
        source = "standard input"
    elif value.startswith("@"):
        path = value[1:]
        try:
            with open(path, "rb") as handle:
                text = handle.read(MAX_JSON_INPUT + 1)
        except OSError as problem:
            raise InvalidInput(f"{option} {value[:200]}: cannot read the file: {problem.strerror or problem}") from None
        source = path
    else:
        return _json_object(value, option, limits)
    if len(text) > MAX_JSON_INPUT:
        raise InvalidInput(f"{option}: {source} holds more than {MAX_JSON_INPUT // (1024 * 1024)} MiB")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as problem:
        raise InvalidInput(f"{option}: {source} is not UTF-8 text (byte {problem.start})") from None
    return _json_object(decoded, option, limits)


def _json_object(text: str, option: str, limits: Limits) -> dict[str, Any]:
    value = _parse_json(text, option, limits)
    if not isinstance(value, dict):
        raise InvalidInput(f"{option} must be a JSON object, like '{{\"metadata\": {{\"key\": \"value\"}}}}'")
    return value


def _parse_json(text: str, option: str, limits: Limits) -> Any:
    from json import JSONDecodeError

    try:
        return limits.parse(text, "event")
    except JSONDecodeError as problem:
        raise InvalidInput(f"{option} is not valid JSON: {problem.msg} (at character {problem.pos})") from None


def run(args: list[str], root: str | None) -> None:
    """Run ``faber [--root ROOT] event emit <args>``: print the stored event's id (or the event, with
    ``--json``); after a ``workflow_complete``, take the archive step and say what it did. Raises the
    FaberError that says what went wrong."""
    given = parse(args)
    if given is None:
        print(help_text())
        return
    from ..gateway import Gateway
    from ..project import Project
    from ..runlog import RunLog

    project = Project.find(root)
    gateway = Gateway.open(project)
    for message in gateway.warnings:
        warn(message)
    log = RunLog(project, gateway)
    log.notify = note  # a run whose events are only in the archive is restored first: one line on stderr
    result = log.emit(str(given["run"]), event_fields(given, gateway.input_policy.limits), source="faber-cli")
    for message in result.warnings:
        warn(message)
    event = result.event.to_json()
    if given.get("json"):
        print_json(event)
    else:
        print(event["event_id"])
    if event["type"] == "workflow_complete":
        sys.stdout.flush()  # the id is the answer; archiving is the next step, said on stderr
        from ..archive.archiver import after_complete

        done = after_complete(log, event["run_id"])
        if done is not None:
            (warn if done.failed else note)(done.message)

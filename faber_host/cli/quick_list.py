"""``faber runs list`` without typer, pydantic or pluggy, for the plain table in a pipe.

Listing 10,000 runs spends as long starting the full CLI and validating 10,000 ``RunState`` models as it
does reading the states. ``try_list`` reads them with the same record store (``LocalRunStore.list_states``,
the seqlock-consistent read), selects them with the same ``select_states``, and builds the same rows
(``views.run_list``) and table (``screen.print_long_table``) as the full command; it does so only when it
can prove the outcome is the full CLI's. Otherwise it returns None, having printed nothing, and the full
CLI runs instead (listing writes nothing, so reading twice changes nothing). It goes ahead only with:

- ``[--root DIR] runs list`` with ``--status``, ``--work-id``, ``--workflow``, ``--org``, ``--project`` and
  ``--limit`` (each at most once, non-empty; a known status; org and project valid slugs; a limit of at
  least 1), no ``--json``, ``--archived``, ``--since``, ``--until``, ``--help`` or anything else (an
  unknown status is refused by the full CLI, in its words);
- stdout that is not a terminal (the terminal table is coloured);
- a gateway.json that enables ``local_files`` alone, read exactly as ``GatewayConfig`` reads it
  (``quick.local_files_settings``);
- selected states that ``RunState`` takes exactly as they stand (``faber_hookspecs.plain_state``),
  and timestamps the rows can parse.
"""

from __future__ import annotations

import os
import sys

from faber_hookspecs.plain_state import RUN_STATUSES
from faber_hookspecs.wire import encodable

from ..project_root import FABER_DIR_NAME, find_project_root
from .output import fail
from .quick import leading_root, local_files_settings, local_store

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

_VALUE_OPTIONS = {"--status": "status", "--work-id": "work_id", "--org": "org", "--project": "project",
                  "--limit": "limit", "--workflow": "workflow"}


def try_list(args: list[str], environ: Mapping[str, str]) -> int | None:
    """Run ``faber <args>`` if it is a runs list this path can prove equivalent; return its exit code,
    or None (nothing printed) to have the full CLI run it."""
    try:
        options = _parse(args)
        if options is None:
            return None
        import gc

        gc.disable()  # as the full command does: thousands of states, all kept, none in cycles
        try:
            listing = _lines(options, environ)
        except Exception:  # whatever went wrong, the full CLI reports it in its own words
            return None
        finally:
            gc.enable()
        if listing is None:
            return None
        lines, states = listing
        try:
            sys.stdout.write(lines)  # encoded whole before any byte is written
        except UnicodeEncodeError:  # text stdout's encoding cannot carry: the full CLI words it
            return None
        try:
            sys.stdout.flush()
        except BrokenPipeError:  # as runner.run_cli: the reader went away, not an error of ours
            sys.stderr.close()
        KEPT.append(states)  # printed and flushed: freed with the process, not one by one (entry_point)
        return 0
    except KeyboardInterrupt:
        return fail("interrupted", 130)


def _parse(args: list[str]) -> dict[str, str | None] | None:
    """``{"root": ..., option: value}``, or None for anything beyond the plain forms."""
    leading = leading_root(args)
    if leading is None:
        return None
    root, index = leading
    if args[index:index + 2] != ["runs", "list"]:
        return None
    options: dict[str, str | None] = {}
    rest = args[index + 2:]
    position = 0
    while position < len(rest):
        token = rest[position]
        position += 1
        name, equals, value = token.partition("=")
        if name not in _VALUE_OPTIONS or _VALUE_OPTIONS[name] in options:
            return None  # --json, --archived, --help, --debug, a positional, a repeated or unknown option
        if not equals:
            if position == len(rest):
                return None
            value = rest[position]
            position += 1
        if not value or value.startswith("-"):
            return None
        options[_VALUE_OPTIONS[name]] = value
    if not all(encodable(text) for text in (*(v for v in options.values() if v), root or "")):
        return None
    status = options.get("status")
    if status is not None and status not in RUN_STATUSES:
        return None
    limit = options.get("limit")
    if limit is not None and not (limit.isascii() and limit.isdigit() and int(limit) >= 1):
        return None
    options["root"] = root
    return options


def _lines(options: dict[str, str | None], environ: Mapping[str, str]) -> tuple[str, list[Any]] | None:
    """The table as the full command prints it in a pipe, and the states it shows; or None when this
    path cannot be sure."""
    from .screen import stdout_is_terminal

    if stdout_is_terminal():
        return None
    from faber_backend_local_files.store import select_states
    from faber_hookspecs.plain_state import plain_state
    from faber_hookspecs.run_id import validate_slug

    from ..views.run_list import COLUMNS, plain_rows
    from ..views.times import utc_now
    from .screen import table_lines

    org, project = options.get("org"), options.get("project")
    for value, what in ((org, "org"), (project, "project")):
        if value is not None:
            validate_slug(value, what)  # an invalid one raises: the full CLI words the error
    root = find_project_root(options.get("root"), environ)
    settings: dict[str, Any] | None = local_files_settings(os.path.join(root, FABER_DIR_NAME, "gateway.json"),
                                                           environ)
    if settings is None:
        return None
    store = local_store(settings, root, environ)
    limit = options.get("limit")
    states = select_states(store.list_states(org, project, parse=_table_parser()), options.get("status"),
                           options.get("work_id"), int(limit) if limit is not None else None,
                           workflow_id=options.get("workflow"))
    if not all(plain_state(state) for state in states):
        return None
    return "\n".join(table_lines(COLUMNS, plain_rows(states, utc_now()))) + "\n", states


def _table_parser() -> Callable[[bytes], Any]:
    """How the listing parses state.json: orjson, 2.6 times as fast as the json module on a state
    (2.7 against 7.1 µs; 10,000 states are most of a listing's time), with the json module
    (``wire.loads``) deciding whatever orjson refuses (NaN, a lone surrogate, a byte-order mark).

    For this table only: orjson reads an integer beyond 64 bits as a float where json keeps it exact,
    which no column shows and ``plain_state`` refuses where the model wants an integer, so the table
    is the same; the full command, whose ``--json`` prints whole states, keeps the json module."""
    from faber_hookspecs.wire import loads

    try:
        import orjson
    except ImportError:  # local-files requires it; without it, the json module alone
        return loads
    fast, refused = orjson.loads, orjson.JSONDecodeError

    def parse(data: bytes) -> Any:
        try:
            return fast(data)
        except refused:
            return loads(data)

    return parse


KEPT: list[object] = []
"""What a listing that printed its table leaves for the process's end to free: the console script then
exits at once (``faber_host.cli.entry_point``) instead of freeing 10,000 states' hundred thousand objects
one by one (about 30 ms, 6% of listing 10,000 runs). Empty whenever the full CLI ran instead, which
gets the interpreter's usual exit."""

"""A run's archive bundle on local disk: consolidate it, prove it reproduces the event files, expand it.

    runs/{org}/{project}/{uuid}/archive/
    ├── events.jsonl      one line per event, numeric id order
    ├── state.json        the state through the last event
    ├── metadata.json     the metadata, without its local ``archive`` record
    └── manifest.json     ArchiveManifest: counts, ids, sizes, sha256s

The format is ``faber_hookspecs.archive.ArchiveManifest``'s docstring. An event file in the standard form
(what this store writes: indented JSON and a newline) becomes its compact line, and the line expands back
to the same bytes; any other file (the FABER reference's jq output, a renamed file) is also kept verbatim
in the manifest, so every file comes back byte for byte.

Everything streams: a run of a million events is consolidated in bounded memory (the sorted list of
file names is the largest thing held).
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from faber_hookspecs.archive import (
    EVENTS_FILE,
    MANIFEST_FILE,
    METADATA_FILE,
    STATE_FILE,
    ArchiveBundle,
    ArchiveManifest,
    BundleFile,
    RemovedEvents,
    VerbatimEventFile,
)
from faber_hookspecs.errors import ArchiveError, EventsNotLocal, IntegrityError, StorageError
from faber_hookspecs.reducer import REDUCER_VERSION
from faber_hookspecs.run_id import RunId
from faber_hookspecs.wire import dump_document

from .files import (
    _NOFOLLOW,
    FileLock,
    _write_all,
    exchange_paths,
    fsync_directory,
    overwrite_counter,
    read_bytes,
    remove_dead_leftovers,
)
from .run_folder import EVENT_FILE_RE, RunFolder, event_file_name, read_json

ARCHIVE_DIR = "archive"
BOOKKEEPING_FILES = frozenset({".next-id", ".lock", ".next-id.lock", ".faber-ledger"})
"""Files of events/ that are not events; cleanup removes them with the folder."""
REMOVED_AT_CLEANUP = (EVENTS_FILE, STATE_FILE, METADATA_FILE)
"""The bundle's copies removed with the events; archive/manifest.json stays, to name the archive."""

_WRITE_BUFFER = 1 << 20
_FLOAT_FORMS = re.compile(rb"[:,\[]\s*-?(?:[0-9]+(?:\.[0-9]+)?[eE]|0\.0000)")
"""A number token (after ':', ',' or '[') in exponent form or with four zeros after the point."""
_INDENT_2 = orjson.OPT_INDENT_2
_orjson_loads = orjson.loads
_orjson_dumps = orjson.dumps
_OrjsonError = (orjson.JSONDecodeError, orjson.JSONEncodeError)
_python_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


# The formats are defined by the standard library (see ArchiveManifest): a file is
# ``json.dumps(event, indent=2, ensure_ascii=False) + "\n"``, a line ``json.dumps(event,
# ensure_ascii=False, separators=(",", ":"))``. orjson produces exactly these bytes, with the same
# layout, for every JSON value except some floats: where Python writes ``1e-05`` orjson writes
# ``0.00001``, and ``1e-7`` for ``1e-07``; orjson's form of such a float always has an exponent or
# ``0.0000``. So orjson does the work (it is several times faster, which is what keeps
# consolidation near the speed of copying the files), and when orjson's line holds such a number the
# standard library does the work instead. Tests check both facts on generated values.


def event_forms(raw: bytes) -> tuple[dict[str, Any], bytes, bool]:
    """An event file's content: the event, its line, and whether the file is in the standard form
    (so that expanding the line gives back ``raw`` exactly). ValueError when it is not a JSON object."""
    try:
        event = _orjson_loads(raw)
    except _OrjsonError:
        return _event_forms_slowly(raw)
    if type(event) is not dict:
        raise ValueError("not a JSON object")
    line = _orjson_dumps(event)
    if _may_hold_float_forms(line):  # numbers orjson may write differently: the standard library decides
        return event, _python_line(event), raw == event_file_bytes(event)
    indented = _orjson_dumps(event, option=_INDENT_2)
    return event, line, len(raw) == len(indented) + 1 and raw.startswith(indented) and raw[-1:] == b"\n"


def _event_forms_slowly(raw: bytes) -> tuple[dict[str, Any], bytes, bool]:
    """The same with the standard library alone, for what orjson refuses (integers beyond 64 bits,
    NaN, lone surrogates, invalid UTF-8 that Python's decoder tolerates)."""
    event = json.loads(raw)
    if type(event) is not dict:
        raise ValueError("not a JSON object")
    try:
        return event, _python_line(event), raw == event_file_bytes(event)
    except UnicodeEncodeError:  # a lone surrogate: keep the file verbatim, and the line in ASCII escapes
        return event, json.dumps(event, separators=(",", ":")).encode("ascii"), False


def event_file_bytes(event: dict[str, Any]) -> bytes:
    """An event file in the standard form: what ``wire.dump_event`` writes for a stored event."""
    return (json.dumps(event, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def expand_line(line: bytes) -> tuple[dict[str, Any], bytes]:
    """The event a line holds and its file in the standard form."""
    try:
        event = _orjson_loads(line)
    except _OrjsonError:
        event = json.loads(line)
        return event, event_file_bytes(event)
    if type(event) is not dict:
        raise ValueError("not a JSON object")
    if _may_hold_float_forms(line) and _orjson_dumps(event) != _python_line(event):
        return event, event_file_bytes(event)
    return event, _orjson_dumps(event, option=_INDENT_2) + b"\n"


def _may_hold_float_forms(line: bytes) -> bool:
    """True when a line may hold a number in exponent form or with four zeros after the point.

    orjson writes every exponent with a sign, so three substring tests rule out nearly every line
    first; the regular expression then looks at number tokens only.
    """
    return (b"e-" in line or b"e+" in line or b"0.0000" in line) and _FLOAT_FORMS.search(line) is not None


def _python_line(event: dict[str, Any]) -> bytes:
    return _python_compact(event).encode("utf-8")


def digest_entry(digest: Any, name: str, data: bytes) -> None:
    """Add one event file to the digest of the event files (see ArchiveManifest)."""
    digest.update(b"%s\n%d\n%s" % (name.encode("utf-8"), len(data), data))


def event_names(events_dir: str) -> list[str]:
    """The event files' names in numeric id order, holding nothing but the names.

    Names are ``{id:03d}-{type}.json``: within one number of digits, text order is numeric order, so the
    names are grouped by the length of their number and each group sorted as text (no key objects,
    which for a million files would cost more memory than the names). A name with extra leading
    zeros breaks that rule; then the names are sorted by their number instead.
    """
    groups: dict[int, list[str]] = {}
    with os.scandir(events_dir) as entries:
        for entry in entries:
            name = entry.name
            if EVENT_FILE_RE.fullmatch(name):
                groups.setdefault(name.index("-"), []).append(name)
    names: list[str] = []
    for width in sorted(groups):
        group = groups.pop(width)
        group.sort()
        names.extend(group)
    if any(name.startswith("0") and name.index("-") > 3 for name in names):
        names.sort(key=lambda name: int(name[: name.index("-")]))
    return names


def file_id(name: str) -> int:
    return int(name[: name.index("-")])


def consolidate(
    folder: RunFolder, run_id: RunId, state: dict[str, Any] | None, dir_mode: int, *, install: bool = True
) -> ArchiveBundle:
    """Write the bundle of the run in ``folder`` to ``archive/`` and return it; call with the lock held.

    ``state`` is state.json when it is current (else None: it is rebuilt from the events here).
    The bundle is written in a staging folder, fsynced, and swapped in whole. Without ``install`` it
    stays in the staging folder, which the caller removes.
    """
    if not os.path.isdir(folder.events_dir):
        raise EventsNotLocal(f"the events of run {run_id} are not on this machine; `faber restore {run_id}` first")
    folder.check_archive_folder()
    staging = os.path.join(folder.path, f".archive-{'new' if install else 'scratch'}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        os.mkdir(staging, dir_mode)
        names = event_names(folder.events_dir)
        events = _write_events(folder, run_id, names, os.path.join(staging, EVENTS_FILE))
        if state is None or state.get("last_event_id") != (events.last_id or 0):
            # state.json is stale (or a reference run's): rebuild it, streaming the same names.
            from faber_hookspecs.reducer import initial_state_for, reconstruct

            metadata = _read_metadata(folder, run_id)
            state = reconstruct(initial_state_for(metadata), _iter_parsed(folder.events_dir, names))
            folder.write_state(dump_document(state), state["last_event_id"])
        del names
        metadata = _read_metadata(folder, run_id)
        metadata.pop("archive", None)  # describes local copies, not the run
        files = [
            events.entry,
            _write_file(os.path.join(staging, STATE_FILE), dump_document(state), folder.file_mode),
            _write_file(os.path.join(staging, METADATA_FILE), dump_document(metadata), folder.file_mode),
        ]
        manifest = ArchiveManifest(
            run_id=str(run_id),
            event_count=events.count,
            first_event_id=events.first_id,
            last_event_id=events.last_id,
            files=files,
            event_files_sha256=events.files_sha256,
            verbatim=events.verbatim,
        )
        manifest_bytes = dump_document(manifest.model_dump(mode="json"))
        _write_file(os.path.join(staging, MANIFEST_FILE), manifest_bytes, folder.file_mode)
        fsync_directory(staging)
        final = os.path.join(folder.path, ARCHIVE_DIR) if install else staging
        if install:
            _install_folder(staging, final)
            fsync_directory(folder.path)
    except OSError as problem:
        shutil.rmtree(staging, ignore_errors=True)
        raise StorageError(f"could not consolidate run {run_id}: {problem.strerror or problem}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ArchiveBundle(
        run_id=str(run_id),
        directory=Path(final),
        manifest=manifest,
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        manifest_size=len(manifest_bytes),
    )


class _EventsWritten:
    def __init__(self) -> None:
        self.count = 0
        self.first_id: int | None = None
        self.last_id: int | None = None
        self.verbatim: list[VerbatimEventFile] = []
        self.files_sha256 = ""
        self.entry: BundleFile


def _iter_parsed(events_dir: str, names: list[str]) -> Iterator[dict[str, Any]]:
    for name in names:
        yield _orjson_loads(read_bytes(os.path.join(events_dir, name)))


def _write_events(folder: RunFolder, run_id: RunId, names: list[str], path: str) -> _EventsWritten:
    """Stream every event file into events.jsonl; the hot loop of consolidation."""
    result = _EventsWritten()
    files_digest = hashlib.sha256()
    jsonl_digest = hashlib.sha256()
    size = 0
    batch: list[bytes] = []
    events_fd = os.open(folder.events_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    out_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, folder.file_mode)
    out = os.fdopen(out_fd, "wb", _WRITE_BUFFER)
    try:
        for line_number, name in enumerate(names, 1):
            raw = read_bytes(name, events_fd)
            files_digest.update(b"%s\n%d\n%s" % (name.encode("utf-8"), len(raw), raw))
            try:
                event, line, standard = event_forms(raw)
            except ValueError as problem:
                raise StorageError(
                    f"event file {name} of run {run_id} is not a JSON object ({problem}); "
                    "run `faber runs verify` and `faber runs repair` on it first"
                ) from None
            if not standard or name != _standard_name(event):
                result.verbatim.append(
                    VerbatimEventFile(
                        line=line_number,
                        name=name,
                        content_base64=None if standard else base64.b64encode(raw).decode("ascii"),
                    )
                )
            batch.append(line)
            if len(batch) >= 1024:
                data = b"\n".join(batch) + b"\n"
                jsonl_digest.update(data)
                out.write(data)
                size += len(data)
                batch.clear()
        if batch:
            data = b"\n".join(batch) + b"\n"
            jsonl_digest.update(data)
            out.write(data)
            size += len(data)
        out.flush()
        os.fsync(out.fileno())
    finally:
        out.close()
        os.close(events_fd)
    result.count = len(names)
    if names:
        result.first_id, result.last_id = file_id(names[0]), file_id(names[-1])
    result.files_sha256 = files_digest.hexdigest()
    result.entry = BundleFile(name=EVENTS_FILE, size=size, sha256=jsonl_digest.hexdigest())
    return result


def _standard_name(event: dict[str, Any]) -> str | None:
    event_id, kind = event.get("event_id"), event.get("type")
    if not isinstance(event_id, int) or not isinstance(kind, str):
        return None
    return event_file_name(event_id, kind)


def _read_metadata(folder: RunFolder, run_id: RunId) -> dict[str, Any]:
    metadata = read_json(folder.metadata_file)
    if metadata is None:
        raise StorageError(f"metadata.json of run {run_id} is missing or not valid JSON; see `faber runs verify`")
    return metadata


def _write_file(path: str, data: bytes, mode: int) -> BundleFile:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, mode)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return BundleFile(name=os.path.basename(path), size=len(data), sha256=hashlib.sha256(data).hexdigest())


def _install_folder(new: str, final: str) -> None:
    """Make ``new`` appear at ``final`` in one step, replacing a previous bundle whole."""
    try:
        os.rename(new, final)  # no bundle yet (or an empty folder)
        return
    except OSError as problem:
        if problem.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    if exchange_paths(new, final):
        shutil.rmtree(new)  # now the previous bundle
        return
    old = f"{final}.old-{os.getpid()}"
    os.rename(final, old)
    os.rename(new, final)
    shutil.rmtree(old, ignore_errors=True)


def current_state(folder: RunFolder) -> dict[str, Any] | None:
    """state.json when this reducer wrote it (it is checked against the last event later), else None."""
    state = read_json(folder.state_file)
    if state is None or state.get("reducer_version") != REDUCER_VERSION:
        return None
    return state


def load_local_bundle(folder: RunFolder, run_id: RunId) -> ArchiveBundle | None:
    """The bundle in ``archive/`` as it stands, or None when there is none (or it is unreadable)."""
    folder.check_archive_folder()
    directory = os.path.join(folder.path, ARCHIVE_DIR)
    try:
        data = read_bytes(os.path.join(directory, MANIFEST_FILE))
        manifest = ArchiveManifest.model_validate_json(data)
    except (OSError, ValueError):
        return None
    if manifest.run_id != str(run_id):
        return None
    return ArchiveBundle(
        run_id=str(run_id),
        directory=Path(directory),
        manifest=manifest,
        manifest_sha256=hashlib.sha256(data).hexdigest(),
        manifest_size=len(data),
    )


def expand_events(bundle: ArchiveBundle, events_dir: str, file_mode: int) -> int:
    """Write the bundle's event files into the new folder ``events_dir``, exactly as they were.

    Checks events.jsonl's sha256, every count and id, and the digest of the files written against the
    manifest; raises IntegrityError on any difference (the caller removes the folder). Returns the
    number of files.
    """
    manifest = bundle.manifest
    verbatim = {entry.line: entry for entry in manifest.verbatim}
    files_digest = hashlib.sha256()
    count = 0
    last_name = None
    first_name = None
    jsonl = _HashingLines(str(bundle.path(EVENTS_FILE)))
    events_fd = os.open(events_dir, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW)
    try:
        for line_number, line in enumerate(jsonl, 1):
            name, data = _expand_line(line, verbatim.get(line_number), line_number)
            if not EVENT_FILE_RE.fullmatch(name) or "/" in name:
                raise IntegrityError(
                    f"events.jsonl line {line_number} names the file {name[:80]!r}, which is not an event file"
                )
            digest_entry(files_digest, name, data)
            try:
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, file_mode, dir_fd=events_fd)
            except FileExistsError:
                raise IntegrityError(f"events.jsonl holds the event file {name} twice") from None
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
            count += 1
            first_name = first_name or name
            last_name = name
    finally:
        os.close(events_fd)
    problems = []
    if jsonl.digest.hexdigest() != manifest.file(EVENTS_FILE).sha256:
        problems.append("events.jsonl does not match its sha256 in the manifest")
    if count != manifest.event_count:
        problems.append(f"{count} events instead of the manifest's {manifest.event_count}")
    if (first_name and file_id(first_name)) != manifest.first_event_id or (
        last_name and file_id(last_name)
    ) != manifest.last_event_id:
        problems.append("the first or last event id differs from the manifest")
    if files_digest.hexdigest() != manifest.event_files_sha256:
        problems.append("the event files would not be the same bytes as the archived ones")
    if problems:
        raise IntegrityError(f"the archive of run {manifest.run_id} is damaged and was refused: {'; '.join(problems)}")
    overwrite_counter(os.path.join(events_dir, ".next-id"), (manifest.last_event_id or 0) + 1, file_mode)
    os.close(os.open(os.path.join(events_dir, ".lock"), os.O_WRONLY | os.O_CREAT | _NOFOLLOW, file_mode))
    return count


def _expand_line(line: bytes, verbatim: VerbatimEventFile | None, line_number: int) -> tuple[str, bytes]:
    """The event file a line of events.jsonl stands for: its name and bytes."""
    if verbatim is not None and verbatim.content_base64 is not None:
        try:
            return verbatim.name, base64.b64decode(verbatim.content_base64, validate=True)
        except ValueError:
            raise IntegrityError(
                f"the manifest's copy of event file {verbatim.name[:80]!r} is not valid base64"
            ) from None
    try:
        event, data = expand_line(line)
    except (ValueError, UnicodeError):
        raise IntegrityError(f"events.jsonl line {line_number} is not a JSON object") from None
    name = verbatim.name if verbatim is not None else _standard_name(event)
    if name is None:
        raise IntegrityError(f"events.jsonl line {line_number} has no event_id and type to name its file by")
    return name, data


class _HashingLines:
    """The lines of a file without their newlines, read in large blocks, hashing every byte read."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.digest = hashlib.sha256()

    def __iter__(self) -> Iterator[bytes]:
        fd = os.open(self.path, os.O_RDONLY | _NOFOLLOW)
        with os.fdopen(fd, "rb", _WRITE_BUFFER) as handle:
            for line in handle:
                self.digest.update(line)
                if not line.endswith(b"\n"):
                    raise IntegrityError("events.jsonl does not end with a newline (it was cut short)")
                yield line[:-1]


def check_reproduces(folder: RunFolder, bundle: ArchiveBundle) -> tuple[int, int]:
    """Prove that expanding ``bundle`` gives back every file of events/ byte for byte, and that events/
    holds nothing else; call with the lock held. Returns (files, bytes); raises ArchiveError otherwise.
    """
    run_id = bundle.run_id
    names = event_names(folder.events_dir)
    with os.scandir(folder.events_dir) as entries:
        strangers = sorted(
            entry.name for entry in entries
            if entry.name not in BOOKKEEPING_FILES
            and not (EVENT_FILE_RE.fullmatch(entry.name) and entry.is_file(follow_symlinks=False))
        )
    if strangers:
        raise ArchiveError(
            f"events/ of run {run_id} holds {', '.join(strangers[:3])}, which the archive does not; "
            "move it out of the run folder, then clean up again (nothing was removed)"
        )
    if len(names) != bundle.manifest.event_count:
        raise ArchiveError(
            f"run {run_id} has {len(names)} event files but its archive {bundle.manifest.event_count}: "
            "events were added since it was archived; run `faber archive` again (nothing was removed)"
        )
    verbatim = {entry.line: entry for entry in bundle.manifest.verbatim}
    jsonl = _HashingLines(str(bundle.path(EVENTS_FILE)))
    total = 0
    events_fd = os.open(folder.events_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        lines = iter(jsonl)
        for line_number, name in enumerate(names, 1):
            line = next(lines, None)
            if line is None:
                raise ArchiveError(f"the local events.jsonl of run {run_id} is shorter than its manifest says")
            expected_name, expected = _expand_line(line, verbatim.get(line_number), line_number)
            actual = read_bytes(name, events_fd)
            if expected_name != name or expected != actual:
                raise ArchiveError(
                    f"event file {name} of run {run_id} differs from what its archive would restore; "
                    "run `faber archive` again (nothing was removed)"
                )
            total += len(actual)
        if next(lines, None) is not None:
            raise ArchiveError(f"the local events.jsonl of run {run_id} is longer than its manifest says")
    finally:
        os.close(events_fd)
    if jsonl.digest.hexdigest() != bundle.manifest.file(EVENTS_FILE).sha256:
        raise ArchiveError(f"the local events.jsonl of run {run_id} changed since it was archived; archive again")
    return len(names), total


def remove_events(folder: RunFolder, bundle: ArchiveBundle, *, dry_run: bool) -> RemovedEvents:
    """Remove events/ and the bundle's copies once ``check_reproduces`` passed; call with the lock held.

    events/ is renamed away in one step before it is deleted, so a crash never leaves a half-deleted
    log that looks like a real one; a leftover is removed by the next cleanup.
    """
    folder.check_archive_folder()
    files, size = check_reproduces(folder, bundle)
    if dry_run:
        return RemovedEvents(run_id=bundle.run_id, files=files, bytes=size, dry_run=True)
    trash = os.path.join(folder.path, f".events-removed-{os.getpid()}")
    with FileLock(folder.archive_lock_file):  # the run's lock from now on; see RunFolder.lock
        os.rename(folder.events_dir, trash)
        fsync_directory(folder.path)
    for name in REMOVED_AT_CLEANUP:
        try:
            os.unlink(os.path.join(str(bundle.directory), name))
        except FileNotFoundError:
            pass
    return RemovedEvents(run_id=bundle.run_id, files=files, bytes=size)


LEFTOVERS = (".events-restoring-", ".archive-new-", ".archive-scratch-", f"{ARCHIVE_DIR}.old-", ".events-removed-",
             ".metadata.json.tmp-", ".state.json.tmp-")
"""What a command killed midway leaves in a run's folder, named ``<prefix><pid>``: a restore's, a
consolidation's or a cleanup's staging folder, a temporary file of an atomic replace."""


def remove_leftovers(folder: RunFolder) -> list[str]:
    """Delete what killed commands left in the run's folder (``LEFTOVERS`` of processes that are gone),
    and event folders a cleanup renamed away (verified before the rename) but could not delete yet;
    call with the run's lock held. Returns the names of the leftovers."""
    removed = remove_dead_leftovers(folder.path, LEFTOVERS)
    try:
        names = os.listdir(folder.path)
    except FileNotFoundError:
        return removed
    for name in names:
        if name.startswith(".events-removed-"):
            shutil.rmtree(os.path.join(folder.path, name), ignore_errors=True)
    return removed

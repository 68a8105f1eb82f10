"""The record store's side of archiving (consolidate, remove archived events, import a bundle), each
under the run's lock so it never races an emit; ``bundle.py`` does the file work."""

from __future__ import annotations

import os
import shutil

from faber_hookspecs.archive import EVENTS_FILE, MANIFEST_FILE, METADATA_FILE, STATE_FILE, ArchiveBundle, RemovedEvents
from faber_hookspecs.errors import ArchiveError, StorageError
from faber_hookspecs.run_id import RunId

from .bundle import (
    ARCHIVE_DIR,
    consolidate,
    current_state,
    expand_events,
    load_local_bundle,
    remove_events,
    remove_leftovers,
)
from .files import fsync_directory, read_bytes, replace_atomically, sync_filesystem, write_new_file
from .run_folder import RunFolder
from .store import LocalRunStore, events_not_local


def consolidate_run(store: LocalRunStore, run_id: RunId) -> ArchiveBundle:
    """Write the run's bundle to ``archive/`` under the run's lock and return it."""
    folder = store.events_folder(run_id)
    with folder.lock():
        if not os.path.isdir(folder.events_dir):
            raise events_not_local(run_id)
        folder.recover()
        remove_leftovers(folder)  # a consolidation killed earlier
        return consolidate(folder, run_id, current_state(folder), store.dir_mode)


def cleanup_run(store: LocalRunStore, run_id: RunId, manifest_sha256: str, *, dry_run: bool) -> RemovedEvents:
    """Remove the run's event files if the bundle named ``manifest_sha256`` reproduces them exactly: the
    local bundle, else a fresh consolidation (a different manifest: the run changed since it was archived)."""
    folder = store.folder(run_id)
    with folder.lock():
        remove_leftovers(folder)
        if not os.path.isdir(folder.events_dir):
            return RemovedEvents(run_id=str(run_id), files=0, bytes=0, dry_run=dry_run)
        folder.recover()
        bundle = load_local_bundle(folder, run_id)
        if bundle is None or bundle.manifest_sha256 != manifest_sha256 or not bundle.path(EVENTS_FILE).is_file():
            if dry_run:
                return _dry_run_fresh(store, folder, run_id, manifest_sha256)
            bundle = consolidate(folder, run_id, current_state(folder), store.dir_mode)
            if bundle.manifest_sha256 != manifest_sha256:
                raise _changed(run_id)
        removed = remove_events(folder, bundle, dry_run=dry_run)
    remove_leftovers(folder)
    return removed


def _dry_run_fresh(store: LocalRunStore, folder: RunFolder, run_id: RunId, manifest_sha256: str) -> RemovedEvents:
    """A dry run without a matching local bundle: consolidate to a scratch folder, check, drop it."""
    bundle = consolidate(folder, run_id, current_state(folder), store.dir_mode, install=False)
    try:
        if bundle.manifest_sha256 != manifest_sha256:
            raise _changed(run_id)
        return remove_events(folder, bundle, dry_run=True)
    finally:
        shutil.rmtree(bundle.directory, ignore_errors=True)


def _changed(run_id: RunId) -> ArchiveError:
    return ArchiveError(
        f"run {run_id} changed since it was archived (its bundle is no longer the archived one); "
        f"run `faber archive {run_id}` again (nothing was removed)"
    )


def import_run(store: LocalRunStore, bundle: ArchiveBundle) -> RunId:
    """Expand a downloaded bundle into the store: into a run whose events were removed here, or as a new
    run. Everything is checked in a staging folder that appears in one rename, so a damaged bundle
    changes nothing."""
    run_id = RunId.parse(bundle.run_id)
    folder = store.folder(run_id, must_exist=False)
    if os.path.isdir(folder.events_dir):
        raise ArchiveError(f"run {run_id} already has its events on this machine; nothing was restored")
    try:
        if os.path.lexists(folder.path):
            _restore_events_into(store, folder, run_id, bundle)
        else:
            _restore_new_run(store, folder, run_id, bundle)
    except OSError as problem:
        raise StorageError(f"could not restore run {run_id}: {problem.strerror or problem}") from None
    return run_id


def _restore_events_into(store: LocalRunStore, folder: RunFolder, run_id: RunId, bundle: ArchiveBundle) -> None:
    folder.check_archive_folder()  # its lock is the run's lock now
    if not folder.events_removed():
        raise ArchiveError(
            f"{folder.path} exists but holds no run (no events/ and no archive/manifest.json); "
            "move it away, then restore again"
        )
    with folder.lock():
        if os.path.isdir(folder.events_dir):
            raise ArchiveError(f"run {run_id} was restored by another process meanwhile; nothing was restored")
        remove_leftovers(folder)
        staging = os.path.join(folder.path, f".events-restoring-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        os.mkdir(staging, store.dir_mode)
        try:
            expand_events(bundle, staging, store.file_mode)
            # The archived state and manifest; metadata.json stays: it may have gained links since.
            folder.write_state(read_bytes(str(bundle.path(STATE_FILE))), bundle.manifest.last_event_id or 0)
            replace_atomically(os.path.join(folder.path, ARCHIVE_DIR, MANIFEST_FILE),
                               read_bytes(str(bundle.path(MANIFEST_FILE))), store.file_mode, store.sync)
            if store.sync:
                sync_filesystem(staging)
            os.rename(staging, folder.events_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if store.sync:
            fsync_directory(folder.path)


def _restore_new_run(store: LocalRunStore, folder: RunFolder, run_id: RunId, bundle: ArchiveBundle) -> None:
    parent = os.path.dirname(folder.path)
    staging = os.path.join(store.staging_dir(parent), f"restore-{run_id.uuid}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    os.mkdir(staging, store.dir_mode)
    try:
        os.mkdir(os.path.join(staging, "events"), store.dir_mode)
        os.mkdir(os.path.join(staging, ARCHIVE_DIR), store.dir_mode)
        expand_events(bundle, os.path.join(staging, "events"), store.file_mode)
        for name, target in ((STATE_FILE, STATE_FILE), (METADATA_FILE, METADATA_FILE),
                             (MANIFEST_FILE, os.path.join(ARCHIVE_DIR, MANIFEST_FILE))):
            data = read_bytes(str(bundle.path(name)))
            write_new_file(os.path.join(staging, target), data, store.file_mode, sync=False)
        if store.sync:
            sync_filesystem(staging)
        try:
            os.rename(staging, folder.path)
        except OSError:
            if os.path.lexists(folder.path):
                raise ArchiveError(f"run {run_id} appeared on this machine meanwhile; nothing was restored") from None
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if store.sync:
        fsync_directory(parent)


"""Archiving runs: consolidate, archive with verification, clean up safely, restore.

The host only orchestrates, through hooks: the record store consolidates, cleans up and imports
(``consolidate``, ``cleanup``, ``import_bundle``); archive backends copy, verify,
list and fetch (``faber_archive_run``, ``faber_list_archived_runs``, ``faber_restore_run``). The rule that
matters is here: local event files are removed only after every archive backend verified its copy of
the very bundle that reproduces them.
"""

from .results import ArchiveIncomplete, ArchiveResult, CleanupEntry, CleanupResult, ConsolidateResult, RestoreResult

__all__ = [
    "ArchiveIncomplete",
    "ArchiveResult",
    "CleanupEntry",
    "CleanupResult",
    "ConsolidateResult",
    "RestoreResult",
]

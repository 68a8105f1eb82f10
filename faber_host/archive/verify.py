"""Check a downloaded bundle against its manifest before anything is expanded from it."""

from __future__ import annotations

import hashlib

from faber_hookspecs.archive import DATA_FILES, MANIFEST_FILE, ArchiveBundle
from faber_hookspecs.errors import IntegrityError

_BLOCK = 1 << 20


def file_sha256(path: str) -> tuple[str, int]:
    """The sha256 (hex) and size of a file, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def verify_bundle(bundle: ArchiveBundle, run_id: str, expected_manifest_sha256: str | None) -> None:
    """Raise IntegrityError unless every file of ``bundle`` has the size and sha256 its manifest gives,
    the manifest is the one expected (when known), and the bundle is the run asked for."""
    problems = []
    if bundle.run_id != run_id or bundle.manifest.run_id != run_id:
        problems.append(f"it holds run {bundle.manifest.run_id}, not {run_id}")
    sha, size = file_sha256(str(bundle.path(MANIFEST_FILE)))
    if (sha, size) != (bundle.manifest_sha256, bundle.manifest_size):
        problems.append("manifest.json is not the file the backend described")
    if expected_manifest_sha256 and sha != expected_manifest_sha256:
        problems.append(
            f"manifest.json has sha256 {sha[:12]}..., not the {expected_manifest_sha256[:12]}... recorded when the run "
            "was archived (if it was archived again elsewhere, restore with --trust-archive)"
        )
    for name in DATA_FILES:
        entry = bundle.manifest.file(name)
        sha, size = file_sha256(str(bundle.path(name)))
        if size != entry.size:
            problems.append(f"{name} has {size} bytes, the manifest says {entry.size}")
        elif sha != entry.sha256:
            problems.append(f"{name} does not match its sha256 in the manifest")
    if problems:
        where = f" from {bundle.source_url}" if bundle.source_url else ""
        raise IntegrityError(f"the archive of run {run_id}{where} was refused: {'; '.join(problems)}")

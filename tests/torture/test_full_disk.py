"""A full disk: the runs folder on a tiny filesystem the test mounts (a tmpfs limited in space, one
limited in inodes, a loop-mounted ext4 image), or, where mounting is not allowed, under a file-size
limit (RLIMIT_FSIZE, which the limit variant also uses everywhere). Emit fails with one clear line, no
partial event stays, earlier events are intact, and emitting works again once space is freed."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FABER, clean_environ
from faber_backend_local_files.files import UnnamedFiles
from faber_hookspecs.errors import StorageError

from faber_host.api import Faber

from .kit import check_log, check_settled, record

FILLER = 64 * 1024


def try_mount(arguments: list[str]) -> str | None:
    """Mount, or say why not (not root, no permission, no loop device...)."""
    if os.geteuid() != 0:
        return "not running as root"
    try:
        result = subprocess.run(["mount", *arguments], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as problem:
        return f"mount failed: {problem}"
    return None if result.returncode == 0 else f"mount failed: {result.stderr.strip()}"


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=60)


@pytest.fixture(params=["tmpfs-space", "tmpfs-inodes", "ext4-loop"])
def tiny_filesystem(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A small filesystem mounted for this test, with a filler file on it to delete later."""
    kind = request.param
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if kind == "tmpfs-space":
        problem = try_mount(["-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", str(mount_point)])
    elif kind == "tmpfs-inodes":
        problem = try_mount(["-t", "tmpfs", "-o", "size=8m,nr_inodes=40,mode=0700", "tmpfs", str(mount_point)])
    else:
        image = tmp_path / "tiny.ext4"
        with open(image, "wb") as handle:
            handle.truncate(4 * 1024 * 1024)
        made = subprocess.run(["mkfs.ext4", "-q", "-F", "-b", "1024", "-N", "512", "-m", "0", str(image)],
                              capture_output=True, text=True)
        problem = (f"mkfs.ext4 failed: {made.stderr.strip()}" if made.returncode
                   else try_mount(["-o", "loop", str(image), str(mount_point)]))
    if problem:
        pytest.skip(f"{kind}: {problem} (the file-size-limit test covers a full disk here)")
    try:
        (mount_point / "filler").write_bytes(b"\0" * FILLER)
        yield kind, mount_point
    finally:
        unmount(mount_point)


def test_emit_on_a_full_filesystem(project_dir: Path, tiny_filesystem: tuple[str, Path]) -> None:
    kind, mount_point = tiny_filesystem
    runs = mount_point / "runs"
    environ = clean_environ(FABER_RUNS_PATH=str(runs))
    faber = Faber.open(project_dir, environ)
    run_id = faber.new_run("full-disk").run_id
    run_dir = runs / run_id
    for _ in range(3):
        faber.emit(run_id, "checkpoint", message="before the disk fills")

    # Errors are kept in the state, so each of these events grows state.json too: the disk fills up
    # at every step of a commit in turn (the event file, its link, the counter, the state).
    stored: dict[int, bytes] = {}
    failure = None
    log = check_log(run_dir, run_id)
    for number in range(10_000):
        try:
            result = faber.emit(run_id, "step_error", phase="build", step=f"s{number}",
                                error={"code": "E_BIG", "message": "x" * 6000})
        except StorageError as problem:
            failure = str(problem)
            break
        event_id = result.event.event_id
        stored[event_id] = (run_dir / "events" / f"{event_id:03d}-step_error.json").read_bytes()
        log = check_log(run_dir, run_id, acknowledged=stored, known=log)
        assert not log.problems, (number, log.problems)
    assert failure is not None, "the filesystem never filled up"
    assert "disk is full" in failure, failure
    log = check_log(run_dir, run_id, acknowledged=stored)
    assert not log.problems, log.problems
    assert not log.pending, "a partial event stayed behind"
    for event_id, data in stored.items():
        assert (run_dir / "events" / f"{event_id:03d}-step_error.json").read_bytes() == data

    # The real program says it in one line, exit code 1.
    cli = subprocess.run([FABER, "event", "emit", run_id, "step_error", "--phase", "build", "--step", "cli",
                          "--data", '{"error": {"code": "E", "message": "' + "y" * 6000 + '"}}'],
                         cwd=project_dir, env=environ, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 1, cli.stderr
    assert cli.stderr.count("\n") == 1 and "disk is full" in cli.stderr and "Traceback" not in cli.stderr
    assert not check_log(run_dir, run_id, acknowledged=stored).problems

    (mount_point / "filler").unlink()  # free some space (and an inode)
    after = faber.emit(run_id, "checkpoint", message="space again")
    assert after.event.event_id == log.last_id + 1
    settled = check_log(run_dir, run_id, acknowledged=[*stored, after.event.event_id])
    assert not settled.problems and not check_settled(run_dir, run_id, settled), check_settled(run_dir, run_id, settled)
    record(f"test_emit_on_a_full_filesystem[{kind}]", events_written=settled.last_id, disk_full_errors=2)


def test_the_link_fails_when_the_folder_needs_a_new_block(project_dir: Path, tmp_path: Path) -> None:
    """On ext4 with inline data, a small event file needs no data block, but its name needs room in
    the events folder: with every block taken, the commit fails at the link itself, the one step
    after which the event would have been visible."""
    mount_point = tmp_path / "inline"
    mount_point.mkdir()
    image = tmp_path / "inline.ext4"
    with open(image, "wb") as handle:
        handle.truncate(4 * 1024 * 1024)
    made = subprocess.run(["mkfs.ext4", "-q", "-F", "-b", "1024", "-I", "1024", "-N", "2048", "-m", "0",
                           "-O", "inline_data,^has_journal", str(image)], capture_output=True, text=True)
    problem = f"mkfs.ext4 failed: {made.stderr.strip()}" if made.returncode else try_mount(
        ["-o", "loop", str(image), str(mount_point)])
    if problem:
        pytest.skip(f"ext4 with inline data: {problem}")
    watching = [False]
    try:
        faber = Faber.open(project_dir, clean_environ(FABER_RUNS_PATH=str(mount_point / "runs")))
        run_id = faber.new_run("full-folder").run_id
        run_dir = mount_point / "runs" / run_id
        for _ in range(3):
            faber.emit(run_id, "checkpoint")
        filler = os.open(mount_point / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:  # take every free block
            while os.write(filler, b"\0" * 1024):
                pass
        except OSError:
            pass
        finally:
            os.close(filler)
        operations: list[str] = []
        watching[0] = True  # an audit hook cannot be removed: it stops listening when the test ends

        def watch(event: str, args: tuple[object, ...]) -> None:
            if watching[0] and event in ("os.link", "os.remove"):
                operations.append(event)

        sys.addaudithook(watch)
        acknowledged = [1, 2, 3]
        log = check_log(run_dir, run_id)
        for _ in range(500):
            del operations[:]
            try:
                acknowledged.append(faber.emit(run_id, "checkpoint").event.event_id)
            except StorageError as problem:
                assert "disk is full" in str(problem)
                break
            log = check_log(run_dir, run_id, acknowledged=acknowledged, known=log)
            assert not log.problems
        else:
            pytest.fail("the events folder never ran out of room")
        # The link is the last file operation; a commit through .pending then removes it.
        expected = ["os.link"] if UnnamedFiles.supported else ["os.link", "os.remove"]
        assert operations[-len(expected):] == expected, f"the emit failed elsewhere than at the link: {operations}"
        log = check_log(run_dir, run_id, acknowledged=acknowledged)
        assert not log.problems and not log.pending and log.last_id == acknowledged[-1]
        (mount_point / "filler").unlink()
        after = faber.emit(run_id, "checkpoint").event.event_id
        assert after == acknowledged[-1] + 1
        settled = check_log(run_dir, run_id, acknowledged=[*acknowledged, after])
        assert not settled.problems and not check_settled(run_dir, run_id, settled)
        record("test_the_link_fails_when_the_folder_needs_a_new_block", events_written=after, disk_full_errors=1)
    finally:
        watching[0] = False
        unmount(mount_point)


def test_emit_under_a_file_size_limit(project_dir: Path) -> None:
    """RLIMIT_FSIZE makes any write past the limit fail with EFBIG: what a full disk does, without a
    mount, on any machine."""
    faber = Faber.open(project_dir, clean_environ())
    run_id = faber.new_run("fsize").run_id
    run_dir = project_dir / ".fractary/plugins/faber/runs" / run_id
    for _ in range(3):
        faber.emit(run_id, "checkpoint", message="before the limit")
    before = {path.name: path.read_bytes() for path in (run_dir / "events").glob("*.json")}
    limit = 16 * 1024

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    message = "z" * 40_000
    result = subprocess.run([FABER, "event", "emit", run_id, "checkpoint", "--message", message],
                            cwd=project_dir, env=clean_environ(), capture_output=True, text=True, timeout=120,
                            preexec_fn=limited)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "file size limit" in result.stderr, result.stderr
    log = check_log(run_dir, run_id)
    assert not log.problems and not log.pending and log.last_id == 3
    assert {path.name: path.read_bytes() for path in (run_dir / "events").glob("*.json")} == before

    again = subprocess.run([FABER, "event", "emit", run_id, "checkpoint", "--message", message],
                           cwd=project_dir, env=clean_environ(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout.strip() == "4", again.stderr
    settled = check_log(run_dir, run_id)
    assert not settled.problems and not check_settled(run_dir, run_id, settled)
    record("test_emit_under_a_file_size_limit", events_written=4, disk_full_errors=1)

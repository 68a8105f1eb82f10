"""Mutation testing of the modules that carry guarantees: ``make mutants`` (``MODULE=screening`` for one group).

Runs mutmut per group, each with only the tests that cover it, and prints the kill rate per group and
the surviving mutants. Not part of ``make test``: it takes minutes per group.

How mutmut 3 is driven (see docs/reliability.md, "Mutation testing"):
- it mutates code inside functions only; module-level tables are held by table-derived tests;
- it shadows a package by putting ``mutants/`` first on sys.path, which only works for the
  distribution it runs in: a group's parts run with cwd = their distribution (repo root, hookspecs/,
  backends/local-files/, backends/s3/);
- its configuration is read from ``setup.cfg`` in that cwd when pyproject.toml has no
  ``[tool.mutmut]``: this script writes one for the run and removes it after;
- tests that run the code in a subprocess (the CLI) do not see the mutants, so a group's tests must
  call the code in-process to count.

A survivor judged equivalent (no behaviour could tell it apart) goes in EQUIVALENT with the reason;
it is listed apart and left out of the rate. Mutant names follow the code, so re-check them after an edit.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_KILLED = ("survived", "no tests", "timeout", "suspicious", "not checked", "segfault")


@dataclass(frozen=True)
class Part:
    """One mutmut run: the distribution it runs in, the files it mutates there, the tests (repo paths)."""

    cwd: str
    mutate: tuple[str, ...]
    tests: tuple[str, ...]
    deselect: tuple[str, ...] = ()  # test names: those asserting a module's imports (mutmut's trampolines add some)


GROUPS: dict[str, tuple[Part, ...]] = {
    "screening": (Part(".", ("faber_host/safety/redaction.py", "faber_host/safety/limits.py",
                             "faber_host/safety/policy.py"),
                       ("tests/test_redaction.py",),
                       ("test_the_policy_modules_do_not_import_pydantic",)),),
    "placeholders": (Part(".", ("faber_host/workflows/placeholders.py",),
                          ("tests/test_placeholder_safety.py", "tests/test_workflow_definitions.py")),),
    "executor": (Part(".", ("faber_host/runner/shell.py",), ("tests/test_step_executor.py",)),),
    # test_mcp_http's `faber mcp` subprocess tests cover nothing in process: left out, they would only
    # add minutes to mutmut's two full runs (clean, stats).
    "mcp-auth": (Part(".", ("faber_host/mcp/listening.py", "faber_host/mcp/streamable_http.py"),
                      ("tests/test_mcp_http.py", "tests/test_mcp_http_serve.py"),
                      ("test_the_right_token_is_served", "test_agents_share_one_http_gateway",
                       "test_loopback_refuses_other_host", "test_other_spellings_of_loopback",
                       "test_ipv6_loopback_spellings", "test_a_non_loopback_address_without_a_token",
                       "test_weak_tokens_refuse_to_start", "test_a_busy_port_is_one_clear_error")),),
    # test_lifecycle's CLI tests check the reducer in a subprocess (no mutant there) but cover it in process
    # through their fixtures: 46 s a survivor for nothing.
    "reducer": (Part("hookspecs", ("faber_hookspecs/reducer.py",),
                     ("tests/test_state.py", "tests/test_lifecycle.py", "tests/test_reducer.py"),
                     ("test_two_processes_one_completing_one_emitting_never_store_after_completion",
                      "test_a_failed_run_takes_its_resume_then_continues_and_a_completed_one_is_rerun",
                      "test_after_completion_faber_event_emit_refuses_with_one_line",
                      "test_mcp_refuses_with_the_clis_message",
                      "test_the_docs_state_the_same_table")),),  # reads docs/ (not borrowed) against a table
    # resume-point selection is progress.plan (faber_hookspecs/resume.py only declares its models)
    "resume": (Part(".", ("faber_host/runner/progress.py",), ("tests/test_progress.py",)),),
    # (faber_hookspecs/integrity.py holds models only: no function for mutmut 3 to mutate.)
    "store": (Part("backends/local-files", ("faber_backend_local_files/store.py",
                                            "faber_backend_local_files/run_folder.py",
                                            "faber_backend_local_files/files.py",
                                            "faber_backend_local_files/repair.py",
                                            "faber_backend_local_files/inspection.py"),
                   ("backends/local-files/tests",),
                   ("test_reference_fixture_runs_round_trip",)),),  # finds its fixtures by its own path
    "archive": (Part(".", ("faber_host/archive/*",), ("tests/test_archive_host.py",)),
                Part("backends/local-files", ("faber_backend_local_files/bundle.py",),
                     ("backends/local-files/tests",), ("test_reference_fixture_runs_round_trip",)),
                # The S3 tests that drive transfer.py in process (the rest run the CLI, or the s3_store).
                Part("backends/s3", ("faber_backend_s3/transfer.py",),
                     ("backends/s3/tests/test_s3_verify.py", "backends/s3/tests/test_s3_faults.py",
                      "backends/s3/tests/test_s3_round_trip.py::test_multipart_upload_is_verified_by_its_composite_checksum"))),
}

# mutant name -> why it is equivalent (no behaviour tells it apart) or harmless.
EQUIVALENT: dict[str, str] = {
    "faber_host.archive.durations.x_parse_timestamp__mutmut_8":
        "Python 3.11's fromisoformat reads a final Z itself: the replace only matters before 3.11",
    "faber_host.archive.durations.x_parse_timestamp__mutmut_9": "as mutant 8 (z for Z)",
    # screening: the encoder's default for a value that is not JSON; check_size catches its TypeError and
    # raises check_shape's reason instead, so its wording is never seen.
    "faber_host.safety.limits.x__not_json__mutmut_1": "its message is replaced by check_shape's reason",
    "faber_host.safety.limits.x__not_json__mutmut_2": "its message is replaced by check_shape's reason",
    # executor: what tells these apart is time alone, a kernel that ignores an argument, or a member
    # with other credentials than faber's.
    "faber_host.runner.shell.x__describe_exit__mutmut_1": "exit code 0 is never described (completed or timed out)",
    "faber_host.runner.shell.x__describe_exit__mutmut_2": "as mutant 1 (code < 1)",
    "faber_host.runner.shell.x__stop__mutmut_7": "the last instant of the grace period (<= for <)",
    "faber_host.runner.shell.x__stop__mutmut_9": "waits out the grace period, then SIGKILLs an empty group: time only",
    "faber_host.runner.shell.x__stop__mutmut_17": "polls the group less often within the same grace period: time only",
    "faber_host.runner.shell.x__stop__mutmut_22": "after SIGKILL the shell ends at once: time only",
    "faber_host.runner.shell.x__stop__mutmut_23": "as mutant 22 (6 s for 5 s)",
    "faber_host.runner.shell.x__signal_group__mutmut_5": "an empty group counts as live: waits out the grace period",
    "faber_host.runner.shell.x__signal_group__mutmut_6": "a member faber may not signal cannot be SIGKILLed either",
    "faber_host.runner.shell.x__child_setup__mutmut_1": "on Linux prctl is looked up again before any use",
    "faber_host.runner.shell.x__child_setup__mutmut_6": "errno is never read (use_errno)",
    "faber_host.runner.shell.x__child_setup__mutmut_8": "errno is never read (use_errno)",
    "faber_host.runner.shell.x__child_setup__mutmut_9": "errno is never read (use_errno)",
    **{f"faber_host.runner.shell.x__child_setup__mutmut_{n}": "ctypes passes None as 0: the same prctl call"
       for n in (19, 20, 21)},
    **{f"faber_host.runner.shell.x__child_setup__mutmut_{n}": "PR_SET_PDEATHSIG reads its second argument only"
       for n in (24, 25, 26, 28, 29, 30)},
}


def setup_cfg(part: Part) -> str:
    """mutmut's configuration for one part (its setup.cfg reader takes one value a line)."""
    lines = ["[mutmut]", "source_paths = " + part.mutate[0].split("/")[0], "only_mutate ="]
    lines += [f"    {path}" for path in part.mutate]
    lines += ["pytest_add_cli_args_test_selection ="] + [f"    {_test_path(part, test)}" for test in part.tests]
    lines += ["pytest_add_cli_args =", "    -p", "    no:cacheprovider", "    -p", "    mutants_plugin", "    -q"]
    if part.deselect:
        lines += ["    -k", "    " + " and ".join(f"not {name}" for name in part.deselect)]
    return "\n".join(lines) + "\n"


def _test_path(part: Part, test: str) -> str:
    """A test as mutmut must be given it: relative to the part's folder. mutmut runs pytest in ``mutants/``
    (where it copies ``tests/``) with ``--rootdir=.``: a test given outside that folder gets a node id
    without its path (``::test_x``), which pytest refuses when mutmut selects the tests of a mutant
    (exit 4), and mutmut then counts the mutant as killed whatever the code does. A part whose tests lie
    in the repo's ``tests/`` borrows them (see _borrowed_tests)."""
    path = ROOT / test.split("::")[0]
    cwd = ROOT / part.cwd
    if not path.is_relative_to(cwd):
        path = cwd / path.relative_to(ROOT)
    return str(path.relative_to(cwd)) + test[len(test.split("::")[0]):]


def _borrowed_tests(part: Part) -> list[Path]:
    """The links to make in the part's folder to the repo's test folders its tests lie in: mutmut copies
    ``tests/`` of its cwd (following the link) into ``mutants/``, so they run beside the mutated copy.
    Running from the repo root instead would name the mutants ``hookspecs.faber_hookspecs...``, which the
    code, imported as ``faber_hookspecs``, never reports."""
    cwd = ROOT / part.cwd
    tops = {(ROOT / test).relative_to(ROOT).parts[0] for test in part.tests if not (ROOT / test).is_relative_to(cwd)}
    return [cwd / top for top in sorted(tops)]


def run_part(part: Part, max_children: int, diffs: bool) -> dict[str, str]:
    """Run mutmut for one part from scratch; its mutants' statuses by name."""
    cwd = ROOT / part.cwd
    config = cwd / "setup.cfg"
    links = _borrowed_tests(part)
    for path in [config, *links]:
        if path.exists() or path.is_symlink():
            sys.exit(f"{path} exists: this script makes its own and would clobber it")
    shutil.rmtree(cwd / "mutants", ignore_errors=True)  # a stale run of another group would be reused
    refused = cwd / "mutants" / "refused.txt"  # mutmut keeps the folder it finds
    refused.parent.mkdir()
    config.write_text(setup_cfg(part))
    for link in links:
        link.symlink_to(ROOT / link.name, target_is_directory=True)
    mutmut = [sys.executable, "-m", "mutmut"]
    # mutants_plugin as a top-level module: mutmut takes the repo root off sys.path (so that only the
    # mutated copy of a package can be imported), and the package ``bench`` with it.
    environ = {**os.environ, "PYTHONPATH": str(ROOT / "bench"), "FABER_MUTANTS_REFUSED": str(refused)}
    try:
        subprocess.run([*mutmut, "run", "--max-children", str(max_children)], cwd=cwd, env=environ, check=True)
        listing = subprocess.run([*mutmut, "results", "--all", "true"], cwd=cwd, check=True,
                                 capture_output=True, text=True).stdout
        statuses = dict(re.findall(r"^\s+(\S+): (.+)$", listing, re.MULTILINE))
        for name in [name for name, status in statuses.items() if diffs and status in NOT_KILLED]:
            subprocess.run([*mutmut, "show", name], cwd=cwd, check=True)
    finally:
        config.unlink()
        for link in links:
            link.unlink()
    _check_honest(part, statuses, refused)
    return statuses


def _check_honest(part: Part, statuses: dict[str, str], refused: Path) -> None:
    """Fail loudly when a verdict cannot be trusted: pytest refused a mutant's test selection (mutmut
    counts that as a kill), or a mutant known to be equivalent (a planted survivor) was counted killed."""
    lies = refused.read_text().splitlines() if refused.exists() else []
    lies += [f"{name} is equivalent, yet counted {status}" for name, status in statuses.items()
             if name in EQUIVALENT and status != "survived"]
    if not statuses:
        lies.append("no mutants at all")
    if lies:
        where = f"{part.cwd} {', '.join(part.mutate)}"
        sys.exit(f"mutmut's verdicts for {where} cannot be trusted:\n  " + "\n  ".join(lies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", metavar="GROUP", help=f"groups to run (default all): {', '.join(GROUPS)}")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--diffs", action="store_true", help="print each mutant not killed as a diff")
    args = parser.parse_args()
    if unknown := set(args.groups) - set(GROUPS):
        parser.error(f"no group {', '.join(sorted(unknown))}; the groups are {', '.join(GROUPS)}")
    rows, survivors, equivalents = [], [], []
    for group in args.groups or list(GROUPS):
        statuses: dict[str, str] = {}
        for part in GROUPS[group]:
            statuses |= run_part(part, args.max_children, args.diffs)
        counted = {name: status for name, status in statuses.items() if name not in EQUIVALENT}
        killed = sum(status in ("killed", "caught by type check") for status in counted.values())
        left = sorted((name, status) for name, status in counted.items() if status in NOT_KILLED)
        survivors += [f"{group}: {name} ({status})" for name, status in left]
        equivalents += [f"{group}: {name}: {EQUIVALENT[name]}" for name in statuses if name in EQUIVALENT]
        rate = f"{100 * killed / (killed + len(left)):.0f}%" if killed + len(left) else "-"
        rows.append((group, len(statuses), killed, len(left), len(statuses) - len(counted), rate))
    print("\n| group | mutants | killed | not killed | equivalent | kill rate |\n|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(map(str, row)) + " |")
    print("\nNot killed (--diffs shows them):", *survivors or ["none"], sep="\n  ")
    print("\nEquivalent, left out of the rate:", *equivalents or ["none"], sep="\n  ")


if __name__ == "__main__":
    main()

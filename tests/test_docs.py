"""Every command example in the docs runs, and says what the docs say it says.

Each document's fenced blocks run in order, in one bash session, in an empty temporary folder, with
the project's ``faber`` first on PATH:

* ```` ```sh ```` blocks run as they are; any failing command fails the test;
* ```` ```console ```` blocks hold ``$ command`` lines, each followed by its expected output (stdout
  and stderr as a terminal shows them). ``<...>`` in an expected line stands for any text and a line
  ``...`` for any number of lines. A command may fail only if its expected output shows the error;
* a block marked ``norun`` (```` ```sh norun ````) is not run: the few that exist are listed below,
  each with the reason and what is checked instead.

The archive examples talk to a real S3-compatible server: moto, started on 127.0.0.1 in its own
process, its address in ``S3_ENDPOINT_URL`` and made-up credentials in the AWS variables, with the
bucket ``acme-faber-runs`` created. The MCP examples talk to a real ``faber mcp`` on a free port of
127.0.0.1, started in the background by the document itself: such a server writes to files, not to the
session's output (which the test reads to its end), and the document stops it. A meta-test keeps
docs/run-id-system.md in step with the CLI: every command has an example there.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FABER, REPO, clean_environ
from markdown_it import MarkdownIt

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELLS = {"sh", "bash", "shell"}
BUCKET = "acme-faber-runs"
NOT_RUN = {
    # (document, first line of the block): why it is not run here, and what the test checks instead
    ("README.md", "make demo    # sets up .venv, then runs a real workflow run on local files"):
        "`make test` is this test suite; `make demo` is checked by running its script (below)",
    ("README.md", "faber consolidate RUN              # archive/events.jsonl (numeric id order) + manifest.json with sha256s"):
        "it needs a bucket; docs/run-id-system.md runs each of these commands against a local S3 server",
    ("reliability.md", ".venv/bin/python -m pytest -m torture            # the torture suite alone (make test runs it too)"):
        "these run the torture suite itself, which `make test` runs (its figures are the document's)",
    ("backends.md", "pip install -e ./contrib/backend-jsonl-mirror     # your folder"):
        "it would change the test environment; the example is installed by `make setup`, and from its "
        "folder by tox's `contrib` environment",
}


@dataclass(frozen=True)
class Block:
    kind: str  # "sh" or "console"
    text: str
    line: int  # where it starts in the document (1-based)
    run: bool


def blocks(path: Path) -> list[Block]:
    """The document's shell and console blocks, in order."""
    found = []
    for token in MarkdownIt().parse(path.read_text(encoding="utf-8")):
        if token.type != "fence":
            continue
        words = token.info.split()
        language = words[0] if words else ""
        if language in SHELLS or language == "console":
            found.append(Block("console" if language == "console" else "sh", token.content,
                               (token.map[0] + 1) if token.map else 0, "norun" not in words[1:]))
    return found


def console_commands(block: Block) -> list[tuple[str, list[str]]]:
    """``$ command`` lines and the output lines that follow each."""
    commands: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        elif commands:
            commands[-1][1].append(line.rstrip())
        elif line.strip():
            raise AssertionError(f"line {block.line}: a console block must start with '$ command'")
    return commands


def expected_pattern(lines: list[str]) -> re.Pattern[str]:
    """A regular expression for the expected output: ``<...>`` any text, ``...`` any lines."""
    parts = []
    for line in lines:
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            pieces = re.split(r"<[^<>\n]+>", line)
            parts.append(".+?".join(re.escape(piece) for piece in pieces) + r"[ \t]*\n")
    return re.compile("".join(parts), re.S)


def script_for(document: list[Block]) -> str:
    """One bash script running the document's blocks, with markers to find each output."""
    trap = "trap 'echo \"@@FAILED line $LINENO\"' ERR"
    lines = ["set -euo pipefail", trap]
    for number, block in enumerate(document):
        if not block.run:
            continue
        if block.kind == "sh":
            lines += [f"echo '@@SH {number}'", block.text]
            continue
        for index, (command, _) in enumerate(console_commands(block)):
            lines += [f"echo '@@CMD {number}.{index}'", "set +e", "trap - ERR", "{", command, "} 2>&1",
                      f"echo \"@@RC {number}.{index} $?\"", "set -e", trap]
    return "\n".join(lines) + "\n"


def run_document(
    path: Path, folder: Path, extra: dict[str, str] | None = None
) -> tuple[list[Block], dict[str, tuple[str, int]], str]:
    """Run the document; return its blocks, each console command's (output, exit code), and the
    whole output."""
    document = blocks(path)
    environ = {k: v for k, v in clean_environ(HOME=str(folder), TZ="UTC", COLUMNS="100").items()
               if not k.startswith("AWS_")}
    environ.update(extra or {})
    environ["PATH"] = f"{Path(FABER).parent}:{environ.get('PATH', '')}"
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):
        environ.pop(name, None)
    work = folder / "work"
    work.mkdir()
    result = subprocess.run(["bash", "-c", script_for(document)], cwd=work, env=environ, capture_output=True,
                            text=True, timeout=600)
    output = result.stdout
    assert result.returncode == 0 and "@@FAILED" not in output, (
        f"{path.name}: a command failed (exit {result.returncode})\n{output[-3000:]}\n{result.stderr[-3000:]}"
    )
    outputs: dict[str, tuple[str, int]] = {}
    for match in re.finditer(r"^@@CMD (\S+)\n(.*?)^@@RC \1 (\d+)\n", output, re.M | re.S):
        outputs[match[1]] = (match[2], int(match[3]))
    return document, outputs, output


@pytest.fixture(scope="module")
def s3_environment() -> Iterator[dict[str, str]]:
    """moto's S3 server on a free port of 127.0.0.1, with the docs' bucket; the variables to reach it."""
    port = _free_port()
    server = subprocess.Popen([str(Path(FABER).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.1)
        environ = {"S3_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "docs",
                   "AWS_SECRET_ACCESS_KEY": "docs-secret", "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                   "AWS_EC2_METADATA_DISABLED": "true"}
        import boto3

        boto3.client("s3", endpoint_url=environ["S3_ENDPOINT_URL"], aws_access_key_id="docs",
                     aws_secret_access_key="docs-secret", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield environ
    finally:
        server.terminate()
        server.wait(10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_every_example_runs_and_shows_what_the_docs_say(
    path: Path, tmp_path: Path, s3_environment: dict[str, str]
) -> None:
    document, outputs, _ = run_document(path, tmp_path, s3_environment)
    for number, block in enumerate(document):
        if not block.run:
            assert (path.name, block.text.splitlines()[0]) in NOT_RUN, (
                f"{path.name} line {block.line}: a block marked norun must be listed in NOT_RUN with its reason"
            )
            continue
        if block.kind != "console":
            continue
        for index, (command, expected) in enumerate(console_commands(block)):
            actual, code = outputs[f"{number}.{index}"]
            where = f"{path.name} line {block.line}: $ {command}"
            shows_error = any("faber: error:" in line for line in expected)
            assert (code != 0) == shows_error, f"{where}\nexit {code}, output:\n{actual}"
            assert expected_pattern(expected).fullmatch(actual), f"{where}\nexpected:\n" + "\n".join(
                expected) + f"\nactual:\n{actual}"


def test_the_blocks_that_are_not_run_are_the_listed_ones() -> None:
    listed = {(path.name, block.text.splitlines()[0]) for path in DOCS for block in blocks(path) if not block.run}
    assert listed == set(NOT_RUN)


def test_make_demo_and_make_test_exist_and_the_demo_runs(tmp_path: Path) -> None:
    for target in ("demo", "test"):
        dry = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert dry.returncode == 0, dry.stderr
    environ = clean_environ(TMPDIR=str(tmp_path))
    environ["PATH"] = f"{Path(FABER).parent}:{environ.get('PATH', '')}"
    demo = subprocess.run(["bash", str(REPO / "contrib" / "demo" / "demo.sh")], cwd=tmp_path, env=environ,
                          capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]


def test_every_command_has_an_example_in_the_run_id_system_doc() -> None:
    from faber_host.cli.app import build_command

    def names(command: object, prefix: str) -> list[str]:
        sub = getattr(command, "commands", None)
        if not sub:
            return [prefix]
        found = []
        for name, child in sorted(sub.items()):
            if not getattr(child, "hidden", False):
                found += names(child, f"{prefix} {name}")
        return found

    commands = names(build_command(), "faber")
    doc = REPO / "docs" / "run-id-system.md"
    examples = "\n".join(block.text for block in blocks(doc) if block.run)
    missing = [c for c in commands if not re.search(re.escape(c) + r"(?![\w-])", examples)]
    assert len(commands) >= 10 and not missing, f"commands with no example in {doc.name}: {missing}"


def test_the_pattern_matcher() -> None:
    pattern = expected_pattern(["run <id> done", "...", "end"])
    assert pattern.fullmatch("run acme/x/1 done\na\nb\nend\n")
    assert pattern.fullmatch("run 1 done\nend\n")
    assert not pattern.fullmatch("run 1 done\nend\nmore\n")
    assert not pattern.fullmatch("walk 1 done\nend\n")

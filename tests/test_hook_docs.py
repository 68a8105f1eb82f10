"""Specs, docs and tests kept in step, datasette style: every hook specification has a
``test_hook_<name>`` test somewhere in the repository and a section in docs/backends.md with its exact
signature and its kind (firstresult or broadcast); the docs name no hook that does not exist."""

from __future__ import annotations

import ast
import functools
import inspect
import re
from pathlib import Path

import pytest
from faber_hookspecs.specs import FaberSpec
from faber_hookspecs.store import RecordStore

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "backends.md"
TEST_FOLDERS = [REPO / "tests", *REPO.glob("backends/*/tests"), *REPO.glob("contrib/*/tests")]

HOOKS = sorted(name for name, _ in inspect.getmembers(FaberSpec, inspect.isfunction) if name.startswith("faber_"))


def signature_line(name: str) -> str:
    """The hook's signature as the spec writes it: ``faber_x(a: A, b: B) -> R``."""
    signature = inspect.signature(getattr(FaberSpec, name))
    params = [p for p in signature.parameters.values() if p.name != "self"]
    return f"{name}({', '.join(f'{p.name}: {p.annotation}' for p in params)}) -> {signature.return_annotation}"


@functools.cache
def doc_sections() -> dict[str, str]:
    """docs/backends.md's ``### faber_...`` sections, by hook name."""
    text = DOCS.read_text(encoding="utf-8")
    parts = re.split(r"^### (faber_\w+)\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1].split("\n### ")[0] for i in range(1, len(parts), 2)}


@functools.cache  # parsed once for all the parametrized cases
def hook_tests() -> frozenset[str]:
    """The names of every ``test_hook_*`` function in the repository's test folders."""
    names = set()
    for folder in TEST_FOLDERS:
        for path in folder.rglob("test_*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names |= {node.name for node in ast.walk(tree)
                      if isinstance(node, ast.FunctionDef) and node.name.startswith(("test_hook_", "test_store_"))}
    return frozenset(names)


STORE_METHODS = sorted(name for name, _ in inspect.getmembers(RecordStore, inspect.isfunction) if not name.startswith("_"))


def test_there_are_hooks_to_check() -> None:
    assert "faber_emit_event" in HOOKS and "faber_record_store" in HOOKS and len(HOOKS) == 11
    assert "append" in STORE_METHODS and len(STORE_METHODS) == 15


@pytest.mark.parametrize("method", STORE_METHODS)
def test_every_store_method_is_documented_and_tested(method: str) -> None:
    signature = inspect.signature(getattr(RecordStore, method))
    params = [p for p in signature.parameters.values() if p.name != "self"]
    shown = ", ".join(
        f"{p.name}: {p.annotation}" + (f" = {p.default!r}" if p.default is not inspect.Parameter.empty else "")
        for p in params
    )
    text = DOCS.read_text(encoding="utf-8")
    assert f"### RecordStore.{method}\n\n```python\n{method}({shown}) -> {signature.return_annotation}\n```" in text
    assert f"test_store_{method}" in hook_tests(), f"no test named test_store_{method}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature_and_kind(hook: str) -> None:
    sections = doc_sections()
    assert hook in sections, f"docs/backends.md has no '### {hook}' section"
    section = sections[hook]
    assert f"```python\n{signature_line(hook)}\n```" in section, (
        f"the section of {hook} must show its signature exactly:\n{signature_line(hook)}"
    )
    kind = "firstresult" if getattr(FaberSpec, hook).faber_spec["firstresult"] else "broadcast"
    assert f"**{kind}.**" in section, f"the section of {hook} must say **{kind}.**"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    tests = hook_tests()
    assert any(name == f"test_hook_{hook}" or name.startswith(f"test_hook_{hook}__") for name in tests), (
        f"no test named test_hook_{hook} in {', '.join(str(f.relative_to(REPO)) for f in TEST_FOLDERS)}"
    )


def test_the_docs_name_no_hook_that_does_not_exist() -> None:
    documented = set(doc_sections())
    assert documented - set(HOOKS) == set(), "docs/backends.md documents hooks the specs do not have"
    fixtures = {"faber_project", "faber_gateway", "faber_events", "faber_receiver"}  # the kit's, not hooks
    mentioned = set(re.findall(r"\bfaber_[a-z_]+(?=\()", DOCS.read_text(encoding="utf-8"))) - fixtures
    assert mentioned - set(HOOKS) == set(), "a hook called like one in the docs does not exist"

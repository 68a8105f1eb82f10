"""Workflow definitions: the FABER format, extends, skip_steps, placeholders, fingerprints, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, assert_one_line_error, clean_environ, write_workflow
from faber_hookspecs.errors import ConfigError, InvalidInput
from faber_hookspecs.validation import load_schema
from jsonschema import Draft202012Validator

from faber_host.project import Project
from faber_host.workflows import (
    WorkflowLibrary,
    describe_changes,
    fill_placeholders,
    fingerprint,
    placeholder_values,
    resolve_workflow,
)

REFERENCE = FIXTURES / "reference-config"


@pytest.fixture
def library(project_dir: Path) -> WorkflowLibrary:
    return WorkflowLibrary(Project(project_dir, clean_environ()))


def keys(workflow: Any, phase: str) -> list[str]:
    return [step.id for step in workflow.phase(phase).steps]


def test_the_reference_default_workflow_extends_core(project_dir: Path, library: WorkflowLibrary) -> None:
    workflows = project_dir / ".fractary/plugins/faber/workflows"
    shutil.copy(REFERENCE / "config__workflows__default.json", workflows / "default.json")
    shutil.copy(REFERENCE / "config__workflows__core.json", workflows / "core.json")
    workflow = resolve_workflow(library, "default")
    assert workflow.inheritance_chain == ["default", "core"]
    assert keys(workflow, "frame") == ["core-fetch-or-create-issue", "core-switch-or-create-branch"]
    assert keys(workflow, "build") == ["implement", "core-commit-and-push-build"]  # child's steps, then parent's post
    assert keys(workflow, "evaluate")[0] == "core-issue-review"
    assert workflow.phase("release").require_approval and workflow.autonomy.require_approval_for == ["release"]
    implement = workflow.find_step("build:implement")
    assert implement is not None and implement.source == "default" and implement.kind == "command"
    assert implement.json_path == "$.phases.build.steps[0]" and implement.file.endswith("default.json")
    filled = fill_placeholders(workflow, placeholder_values("123", "acme/w/x", {}))
    assert filled.find_step("frame:core-fetch-or-create-issue").arguments == {"issue_number": "123"}  # type: ignore[union-attr]
    assert filled.find_step("evaluate:core-review-pr-checks").arguments == {"wait_for_ci": True}  # type: ignore[union-attr]


def test_three_levels_merge_in_the_reference_order(project_dir: Path, library: WorkflowLibrary) -> None:
    def phase(tag: str, *, main: bool = False) -> dict[str, Any]:
        body = {"pre_steps": [{"id": f"{tag}-pre", "run": "true"}],
                "post_steps": [{"id": f"{tag}-post", "run": "true"}]}
        return {**body, "steps": [{"id": f"{tag}-main", "run": "true"}]} if main else body

    write_workflow(project_dir, {"id": "root", "phases": {"build": phase("root", main=True)}})
    write_workflow(project_dir, {"id": "mid", "extends": "root", "phases": {"build": phase("mid", main=True)}})
    write_workflow(project_dir, {"id": "leaf", "extends": "project:mid", "phases": {"build": phase("leaf", main=True)}})
    workflow = resolve_workflow(library, "leaf")
    assert keys(workflow, "build") == [
        "root-pre", "mid-pre", "leaf-pre", "leaf-main", "leaf-post", "mid-post", "root-post"
    ]
    assert [s.position for s in workflow.phase("build").steps][:4] == ["pre_step"] * 3 + ["step"]


def test_a_child_that_leaves_steps_out_keeps_its_parents(project_dir: Path, library: WorkflowLibrary) -> None:
    write_workflow(project_dir, {"id": "base", "phases": {
        "build": {"steps": [{"id": "implement", "prompt": "do it"}]},
        "evaluate": {"steps": [{"id": "review", "prompt": "check"}]},
    }})
    write_workflow(project_dir, {"id": "child", "extends": "base", "phases": {
        "build": {"pre_steps": [{"id": "lint", "run": "ruff ."}]},  # no "steps": the parent's stay
        "evaluate": {"steps": []},  # "steps": [] replaces the parent's with none
    }})
    workflow = resolve_workflow(library, "child")
    assert keys(workflow, "build") == ["lint", "implement"]
    assert keys(workflow, "evaluate") == []


def test_nearest_settings_win_and_skip_steps_drop_inherited_steps(project_dir: Path, library: WorkflowLibrary) -> None:
    write_workflow(project_dir, {
        "id": "base", "autonomy": {"level": "guarded", "require_approval_for": ["release"]},
        "phases": {"evaluate": {"enabled": True, "pre_steps": [{"id": "lint", "run": "true"},
                                                              {"id": "review", "prompt": "p"}]}},
    })
    write_workflow(project_dir, {"id": "child", "extends": "base", "skip_steps": ["review"],
                                 "phases": {"evaluate": {"enabled": False}}})
    workflow = resolve_workflow(library, "child")
    assert keys(workflow, "evaluate") == ["lint"] and workflow.skipped_steps == ["review"]
    assert workflow.phase("evaluate").enabled is False and workflow.phase("build").enabled is True
    assert workflow.autonomy.level == "guarded"  # inherited


def test_fractary_faber_namespace_finds_the_project_copy_then_the_bundled_one(
    project_dir: Path, library: WorkflowLibrary
) -> None:
    write_workflow(project_dir, {"id": "mine", "extends": "fractary-faber:core"})
    assert resolve_workflow(library, "mine").inheritance_chain == ["mine", "core"]
    (project_dir / ".fractary/plugins/faber/workflows/core.json").unlink()
    workflow = resolve_workflow(library, "mine")
    assert workflow.files[1].endswith("templates/workflows/core.json")  # the bundled copy


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        ([{"id": "a", "extends": "b"}, {"id": "b", "extends": "a"}],
         "b.json: $.extends: workflows extend each other in a circle (a → b → a)"),
        ([{"id": "a", "extends": "nope"}],
         "a.json: $.extends: unknown workflow 'nope': the project's workflows are a, core, default"),
        ([{"id": "a", "extends": "acme:core"}], "a.json: $.extends: unknown workflow 'acme:core'"),
        ([{"id": "a", "extends": "b", "skip_steps": ["merge-pr"]},
          {"id": "b", "phases": {"build": {"steps": [{"id": "x", "run": "true"}]}}}],
         "a.json: $.skip_steps[0]: no step 'merge-pr' in the workflow (its steps: x)"),
        ([{"id": "a", "extends": "b", "phases": {"release": {"pre_steps": [{"id": "x", "run": "true"}]}}},
          {"id": "b", "phases": {"build": {"steps": [{"id": "x", "run": "true"}]}}}],
         "a.json: $.phases.release.pre_steps[0].id: step id 'x' is already used at "
         ".fractary/plugins/faber/workflows/b.json: $.phases.build.steps[0]"),
    ],
)
def test_chain_errors_name_the_file_and_json_path(
    project_dir: Path, library: WorkflowLibrary, documents: list[dict[str, Any]], expected: str
) -> None:
    for document in documents:
        write_workflow(project_dir, document)
    with pytest.raises(ConfigError) as caught:
        resolve_workflow(library, "a")
    assert expected in str(caught.value)


BAD_DEFINITIONS = [
    ({"id": "bad", "phases": {"build": {"steps": [{"id": "x", "retires": 2, "run": "true"}]}}},
     "$.phases.build.steps[0].retires: unknown key"),
    ({"id": "bad", "phases": {"build": {"steps": [{"id": "x", "name": "nothing to do"}]}}},
     "$.phases.build.steps[0]: step 'x' needs one of 'run' (a shell command), 'command' or 'prompt'"),
    ({"id": "bad", "phases": {"deploy": {}}}, "$.phases.deploy: unknown key"),
    ({"id": "bad", "autonomy": {"level": "guarded", "require_approval_for": ["release", "merge"]}},
     "$.autonomy.require_approval_for[1]:"),
    ({"id": "bad", "phases": {"build": {"steps": [{"id": "x", "run": "true", "retries": -1}]}}},
     "$.phases.build.steps[0].retries: Input should be greater than or equal to 0"),
    ({"id": "Bad Id"}, "$.id:"),
    ({"id": "bad", "phases": {"build": {"steps": [{"id": "a b", "run": "true"}]}}}, "$.phases.build.steps[0].id:"),
]


@pytest.mark.parametrize(("document", "where"), BAD_DEFINITIONS)
def test_bad_definitions_are_refused_by_the_model_and_the_schema(
    project_dir: Path, library: WorkflowLibrary, document: dict[str, Any], where: str
) -> None:
    (project_dir / ".fractary/plugins/faber/workflows/bad.json").write_text(json.dumps(document))
    with pytest.raises(ConfigError) as caught:
        resolve_workflow(library, "bad")
    assert str(caught.value).startswith(".fractary/plugins/faber/workflows/bad.json: ") and where in str(caught.value)
    assert not Draft202012Validator(load_schema("workflow")).is_valid(document)


def test_the_schema_accepts_the_reference_files_and_is_2020_12() -> None:
    schema = load_schema("workflow")
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for name in ("config__workflows__default.json", "config__workflows__core.json"):
        Draft202012Validator(schema).validate(json.loads((REFERENCE / name).read_text()))


def test_invalid_json_names_the_line(project_dir: Path, library: WorkflowLibrary) -> None:
    (project_dir / ".fractary/plugins/faber/workflows/broken.json").write_text('{"id": "x",\n  "phases": }')
    with pytest.raises(ConfigError, match=r"broken.json: not valid JSON: Expecting value at line 2, column 13"):
        resolve_workflow(library, "broken")


def test_a_bad_workflow_is_one_clear_line_from_the_cli_and_creates_no_run(cli: Any, project_dir: Path) -> None:
    write_workflow(project_dir, BAD_DEFINITIONS[0][0])
    line = assert_one_line_error(cli("run", "bad", "--work-id", "1"), 2)
    assert ".fractary/plugins/faber/workflows/bad.json: $.phases.build.steps[0].retires: unknown key" in line
    line = assert_one_line_error(cli("run", "nope", "--work-id", "1"), 2)
    assert line.endswith("unknown workflow 'nope': the project's workflows are bad, core, default")
    write_workflow(project_dir, {"id": "needs", "phases": {"build": {"steps": [{"id": "x", "run": "echo {target}"}]}}})
    line = assert_one_line_error(cli("run", "needs", "--work-id", "1"), 2)
    assert "$.phases.build.steps[0].run: uses {target}" in line and "--param target=VALUE" in line
    assert cli.json("runs", "list", "--json") == []


def test_placeholders_refer_to_the_environment_in_the_shell_and_are_filled_elsewhere(
    project_dir: Path, library: WorkflowLibrary
) -> None:
    write_workflow(project_dir, {"id": "p", "phases": {"build": {"steps": [
        {"id": "sh", "run": "echo {msg} ${HOME} {{msg}} $(echo {work_id})"},
        {"id": "agent", "prompt": "Fix {work_id} in {branch}",
         "arguments": {"list": ["{msg}", 3], "deep": {"k": "{run_id}"}}},
    ]}}})
    workflow = resolve_workflow(library, "p")
    filled = fill_placeholders(workflow, placeholder_values("42", "acme/w/r", {"msg": "hi; touch pwned"}))
    assert filled.find_step("build:sh").run == (  # type: ignore[union-attr]
        'echo "${FABER_PARAM_MSG}" ${HOME} {msg} $(echo "${FABER_WORK_ID}")'
    )
    agent = filled.find_step("build:agent")
    assert agent is not None and agent.prompt == "Fix 42 in {branch}"  # {branch} is for the agent
    assert agent.arguments == {"list": ["hi; touch pwned", 3], "deep": {"k": "acme/w/r"}}
    with pytest.raises(InvalidInput, match=r"\$\.phases\.build\.steps\[0\]\.run: uses \{msg\}"):
        fill_placeholders(workflow, placeholder_values("42", "acme/w/r", {}))


def test_fingerprints_ignore_documentation_and_explain_changes(project_dir: Path, library: WorkflowLibrary) -> None:
    document: dict[str, Any] = {"id": "f", "phases": {"build": {"steps": [
        {"id": "compile", "name": "Compile", "run": "make"}, {"id": "test", "run": "make test"}]}}}
    write_workflow(project_dir, document)
    before = fingerprint(resolve_workflow(WorkflowLibrary(library.project), "f"))
    document["phases"]["build"]["steps"][0]["description"] = "Compiles everything"
    write_workflow(project_dir, document)
    assert fingerprint(resolve_workflow(WorkflowLibrary(library.project), "f")).hash == before.hash
    document["phases"]["build"]["steps"][0]["run"] = "make -j4"
    document["phases"]["build"]["steps"].append({"id": "lint", "run": "ruff"})
    document["phases"]["build"]["steps"].pop(1)
    document["autonomy"] = {"level": "autonomous"}
    write_workflow(project_dir, document)
    after = fingerprint(resolve_workflow(WorkflowLibrary(library.project), "f"))
    assert after.hash != before.hash
    assert describe_changes(before, after) == [
        "the autonomy settings changed",
        "phase build changed (enabled, approval, or its list or order of steps)",
        "step build:compile changed",
        "step build:lint was added",
        "step build:test was removed",
    ]

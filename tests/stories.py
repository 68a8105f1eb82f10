"""Runs with a story, written through the real API: retries, a failure, a resume, an approval,
artifacts, and text that must be escaped. Shared by the view tests."""

from __future__ import annotations

from faber_hookspecs.metadata import Relationships, RunMetadata

from faber_host.api import Faber

HOSTILE_TEXT = '<script>alert("x")</script> & <b>bold</b>'
PR_URL = "https://github.com/acme/widget-service/pull/7"


def tell_story(faber: Faber, *, work_id: str = "123") -> str:
    """A run that fails in build, is resumed, waits for an approval and completes; returns its id."""
    run = faber.new_run(work_id, params={"ticket": "WIDGET-123", "model": "fast"}).run_id

    def emit(kind: str, **fields: object) -> None:
        faber.emit(run, kind, **fields)  # type: ignore[arg-type]

    emit("workflow_start", message="Starting")
    emit("phase_start", phase="frame")
    emit("step_start", phase="frame", step="fetch-work")
    emit("step_complete", phase="frame", step="fetch-work", duration_ms=40,
         artifacts=[{"type": "branch", "name": "feat/123-pagination"}])
    emit("phase_complete", phase="frame")
    emit("phase_start", phase="architect")
    emit("step_start", phase="architect", step="generate-spec")
    emit("artifact_create", phase="architect", step="generate-spec", message=HOSTILE_TEXT,
         artifacts=[{"type": "spec", "name": "WORK-00123.md", "path": "specs/WORK-00123.md"},
                    {"type": "link", "name": "sneaky", "url": "javascript:alert(1)"}])
    emit("step_complete", phase="architect", step="generate-spec", duration_ms=25)
    emit("phase_complete", phase="architect")
    emit("phase_start", phase="build")
    emit("step_start", phase="build", step="implement")
    emit("step_error", phase="build", step="implement", error={"code": "BUILD_FAILED", "message": "tsc: 3 errors"})
    emit("step_retry", phase="build", step="implement")
    emit("step_start", phase="build", step="implement", retry_attempt=1)
    emit("step_error", phase="build", step="implement", error={"code": "BUILD_FAILED", "message": "tsc: 1 error"})
    emit("workflow_error", phase="build", error={"code": "STEP_FAILED", "message": "build:implement failed"})
    emit("workflow_resumed", metadata={"resume_from": {"phase": "build", "step": "implement"}})
    emit("phase_start", phase="build")
    emit("step_start", phase="build", step="implement")
    emit("step_complete", phase="build", step="implement", duration_ms=30)
    emit("phase_complete", phase="build")
    emit("approval_request", phase="release", message="merge the pull request?")
    emit("workflow_paused", message="waiting for approval")
    emit("approval_granted", phase="release", user="ana", message="ship it")
    emit("workflow_resumed", phase="release")
    emit("phase_start", phase="release")
    emit("step_start", phase="release", step="create-pr")
    emit("pr_create", phase="release", step="create-pr", artifacts=[{"type": "pr", "name": "PR #7", "url": PR_URL}])
    emit("step_complete", phase="release", step="create-pr", duration_ms=15)
    emit("phase_complete", phase="release")
    emit("workflow_complete", message="Done")
    return run


def rerun_of(faber: Faber, original: str) -> str:
    """A second run linked to ``original`` both ways, as a re-run does it."""
    child = faber.new_run("123", relationships=Relationships(rerun_of=original), root_run_id=original).run_id

    def link(metadata: RunMetadata) -> RunMetadata:
        metadata.relationships.child_runs.append(child)
        return metadata

    faber.gateway.store.update_metadata(original, link)
    faber.emit(child, "workflow_rerun", metadata={
        "rerun_of": original, "parent_run_id": original, "root_run_id": original,
        "parameter_changes": {"model": {"from": "fast", "to": "slow"}}, "workflow_changes": ["build: step added"]})
    return child

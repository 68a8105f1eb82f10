"""How the record store reports ``faber runs verify`` and ``faber runs repair``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ProblemCode = Literal[
    "event_unreadable",  # not JSON, not an object, or cannot be read
    "event_invalid",  # JSON, but not a valid event (schema, run id, type or id differ from its name)
    "event_incomplete",  # valid, but lacking a field faber requires of its type (another writer's event)
    "event_duplicate_id",  # two files claim the same id
    "event_overwritten",  # an event faber stored (events/.faber-ledger) no longer holds what it wrote
    "event_gap",  # ids missing between 1 and the highest
    "next_id_wrong",  # events/.next-id is missing, unreadable or not one past the highest id
    "state_missing",  # state.json is missing or unreadable
    "state_mismatch",  # state.json differs from the state rebuilt from the events
    "metadata_invalid",  # metadata.json is missing, unreadable or invalid
    "pending_write",  # a writer was killed in the middle of a commit (events/.pending)
    "leftover",  # a staging folder or temporary file of a killed command (restore, archive, creation)
]


class IntegrityProblem(BaseModel):
    """One thing wrong with a run's files."""

    code: ProblemCode
    message: str
    file: str | None = Field(None, description="The file concerned, relative to the run's folder.")


class VerifyReport(BaseModel):
    """The result of checking a run: ``ok`` only when no problem was found."""

    run_id: str
    ok: bool
    events: int = Field(0, description="Event files found.")
    last_event_id: int = Field(0, description="The highest event id found.")
    problems: list[IntegrityProblem] = Field(default_factory=list)


class RepairReport(BaseModel):
    """What a repair did. Nothing is deleted: unreadable files are moved to ``events/.quarantine/``."""

    run_id: str
    actions: list[str] = Field(default_factory=list)
    quarantined: list[str] = Field(default_factory=list, description="Files moved, relative to the run's folder.")
    before: VerifyReport
    after: VerifyReport

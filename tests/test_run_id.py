"""Run ids: generated and validated strictly; runs named by full id, uuid or unique prefix."""

from __future__ import annotations

import uuid

import pytest
from faber_hookspecs.errors import AmbiguousRun, InvalidRunId, RunNotFound
from faber_hookspecs.run_id import RunId, slugify
from hypothesis import given
from hypothesis import strategies as st

from faber_host.api import Faber

GOOD = "acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63"


def test_parse_round_trips() -> None:
    run_id = RunId.parse(GOOD)
    assert (run_id.org, run_id.project, run_id.uuid) == ("acme", "widget-service", "ee04a6d4-8111-4fde-8172-e0639c154b63")
    assert str(run_id) == GOOD


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "acme/widget-service",
        "acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63/extra",
        "Acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63",  # upper case
        "-acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63",  # leading dash
        "acme_/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63",  # trailing underscore
        "../widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63",
        "acme/../ee04a6d4-8111-4fde-8172-e0639c154b63",
        "acme/widget-service/..",
        "acme/widget-service/EE04A6D4-8111-4FDE-8172-E0639C154B63",  # upper-case uuid
        "acme/widget-service/ee04a6d48111-4fde-8172-e0639c154b63",  # not canonical
        "acme/widget-service/ee04a6d4-8111-1fde-8172-e0639c154b63",  # uuid1, not uuid4
        "a" * 65 + "/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63",  # org too long
        "acme/widget service/ee04a6d4-8111-4fde-8172-e0639c154b63",
        "acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63\n",
    ],
)
def test_invalid_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidRunId):
        RunId.parse(bad)


def test_slug_of_64_characters_is_allowed() -> None:
    RunId.parse("a" * 64 + "/b/ee04a6d4-8111-4fde-8172-e0639c154b63")


def test_generated_ids_are_valid_and_distinct() -> None:
    ids = {str(RunId.generate("acme", "widget")) for _ in range(200)}
    assert len(ids) == 200
    for text in ids:
        parsed = RunId.parse(text)
        assert uuid.UUID(parsed.uuid).version == 4


@given(st.text(max_size=120))
def test_parse_never_accepts_a_path_escape(text: str) -> None:
    try:
        run_id = RunId.parse(text)
    except InvalidRunId:
        return
    assert ".." not in str(run_id).split("/") and "\\" not in str(run_id) and "\x00" not in str(run_id)
    assert str(run_id) == text


@pytest.mark.parametrize(
    ("raw", "slug"),
    [("Widget Service", "widget-service"), ("--My_Repo--", "my_repo"), ("a..b", "a-b"), ("ÄÖ", "")],
)
def test_slugify(raw: str, slug: str) -> None:
    assert slugify(raw) == slug


def test_resolve_by_full_id_uuid_and_prefix(faber: Faber) -> None:
    run = faber.new_run("1").run_id
    parsed = RunId.parse(run)
    assert str(faber.resolve(run)) == run
    assert str(faber.resolve(parsed.uuid)) == run
    assert str(faber.resolve(parsed.uuid[:8])) == run
    assert str(faber.resolve(parsed.uuid[:8].upper().lower())) == run
    assert str(faber.resolve(f"acme/widget-service/{parsed.uuid[:10]}")) == run


def test_prefix_shorter_than_8_is_refused(faber: Faber) -> None:
    run = RunId.parse(faber.new_run("1").run_id)
    with pytest.raises(InvalidRunId, match="at least the first 8"):
        faber.resolve(run.uuid[:7])


def test_ambiguous_prefix_lists_the_candidates(faber: Faber) -> None:
    store = faber.gateway.store.files
    first = RunId.parse(faber.new_run("1").run_id)
    # Make a second run whose uuid shares the first 8 characters.
    twin = RunId("acme", "widget-service", first.uuid[:9] + ("a" if first.uuid[9] != "a" else "b") + first.uuid[10:])
    metadata = store.load_metadata(first) | {"run_id": str(twin)}
    store.create_run(metadata)
    with pytest.raises(AmbiguousRun) as problem:
        faber.resolve(first.uuid[:8])
    assert str(first) in str(problem.value) and str(twin) in str(problem.value)
    assert str(faber.resolve(first.uuid[:12])) == str(first)


def test_unknown_run(faber: Faber) -> None:
    with pytest.raises(RunNotFound):
        faber.resolve("deadbeef")
    with pytest.raises(RunNotFound):
        faber.run("acme/widget-service/ee04a6d4-8111-4fde-8172-e0639c154b63")


def test_a_text_parsed_before_gives_the_same_run_id_and_bad_ones_still_fail() -> None:
    first = RunId.parse(GOOD)
    assert RunId.parse(GOOD) is first and RunId.known(GOOD) is first
    assert RunId.known(GOOD.upper()) is None and RunId.known(123) is None  # type: ignore[arg-type]
    for bad in (GOOD.upper(), GOOD + "/", " " + GOOD, GOOD.replace("acme", "../x")):
        with pytest.raises(InvalidRunId):
            RunId.parse(bad)
        assert RunId.known(bad) is None

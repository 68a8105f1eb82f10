"""`faber runs report`: one self-contained HTML page whose timeline matches the run's events."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, assert_one_line_error
from stories import HOSTILE_TEXT, PR_URL, rerun_of, tell_story

from faber_host.api import Faber
from faber_host.views.timeline import epoch_ms

VOID = {"meta", "br", "input", "link", "img", "hr", "source", "wbr", "area", "base", "col", "embed", "track"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def all(self, tag: str | None = None) -> list[Node]:
        found = []
        for child in self.children:
            if tag is None or child.tag == tag:
                found.append(child)
            found += child.all(tag)
        return found

    def find(self, tag: str, **attrs: str) -> Node:
        matches = [n for n in self.all(tag) if all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]
        assert len(matches) == 1, (tag, attrs, len(matches))
        return matches[0]

    def content(self) -> str:
        return self.text + "".join(child.content() for child in self.children)


class Dom(HTMLParser):
    """A strict little tree builder: every element must be closed, in order."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]
        self.feed(page)
        self.close()
        assert self.stack == [self.root], f"unclosed: {[n.tag for n in self.stack[1:]]}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].text += data


def assert_self_contained(dom: Node, page: str) -> None:
    """Nothing in the page is fetched from anywhere: no stylesheet, image, script, frame or font."""
    assert not dom.all("link") and not dom.all("img") and not dom.all("iframe") and not dom.all("object")
    assert not dom.all("embed") and not dom.all("base")
    for element in dom.all():
        for name in ("src", "srcset", "data", "poster", "background"):
            assert name not in element.attrs, (element.tag, name)
        if "href" in element.attrs:
            assert element.tag == "a", element.tag  # only links a person may follow
        assert "url(" not in element.attrs.get("style", "")
    for style in dom.all("style"):
        assert "@import" not in style.content() and "url(" not in style.content()
    assert "@font-face" not in page


@pytest.fixture
def story(faber: Faber) -> str:
    return tell_story(faber)


def test_the_report_is_self_contained_and_its_timeline_matches_the_events(
    faber: Faber, cli: Cli, story: str, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    assert cli.ok("runs", "report", story[-36:][:8], "-o", str(target)).strip() == str(target)
    page = target.read_text(encoding="utf-8")
    dom = Dom(page).root
    assert_self_contained(dom, page)

    events = [event.model_dump(mode="json", exclude_none=True) for event in faber.events(story)]
    origin = epoch_ms(events[0]["timestamp"])

    def offset(event_id: int) -> int:
        return epoch_ms(events[event_id - 1]["timestamp"]) - origin

    svg = dom.find("svg")
    left, right = float(svg.attrs["data-chart-left"]), float(svg.attrs["data-chart-right"])
    end_ms = int(svg.attrs["data-end-ms"])
    assert end_ms == offset(len(events))

    # Each step's rectangles are exactly its start/end event pairs, in order, placed on the axis.
    expected: dict[tuple[str, str], list[tuple[int, int, str, int, int]]] = {}
    opened: dict[tuple[str, str], int] = {}
    for event in events:
        key = (event.get("phase"), event.get("step"))
        if event["type"] == "step_start":
            opened[key] = event["event_id"]  # type: ignore[index]
        elif event["type"] in ("step_complete", "step_error"):
            start = opened.pop(key)  # type: ignore[arg-type]
            outcome = "completed" if event["type"] == "step_complete" else "failed"
            expected.setdefault(key, []).append(  # type: ignore[arg-type]
                (offset(start), offset(event["event_id"]), outcome, start, event["event_id"])
            )
    drawn: dict[tuple[str, str], list[tuple[int, int, str, int, int]]] = {}
    for row in svg.all("g"):
        if row.attrs.get("data-kind") != "step":
            continue
        for rect in row.all("rect"):
            start_ms, stop_ms = int(rect.attrs["data-start-ms"]), int(rect.attrs["data-end-ms"])
            x, width = float(rect.attrs["x"]), float(rect.attrs["width"])
            assert x == pytest.approx(left + start_ms / end_ms * (right - left), abs=0.01)
            assert width == pytest.approx(max(2.0, (stop_ms - start_ms) / end_ms * (right - left)), abs=0.02)
            drawn.setdefault((row.attrs["data-phase"], row.attrs["data-step"]), []).append(
                (start_ms, stop_ms, rect.attrs["data-outcome"], int(rect.attrs["data-start-event"]),
                 int(rect.attrs["data-end-event"]))
            )
    assert drawn == expected
    assert [outcome for _, _, outcome, _, _ in drawn[("build", "implement")]] == ["failed", "failed", "completed"]
    implement_row = next(g for g in svg.all("g") if g.attrs.get("data-step") == "implement")
    assert implement_row.attrs["data-retries"] == "1" and implement_row.attrs["data-status"] == "completed"

    # Resumes and the approval wait are marked where their events are.
    markers = [(g.attrs["data-kind"], int(g.attrs["data-at-ms"]), int(g.attrs["data-event"]))
               for g in svg.all("g") if "data-at-ms" in g.attrs]
    resumed = [e["event_id"] for e in events if e["type"] == "workflow_resumed"]
    assert [(k, e) for k, _, e in markers if k == "resume"] == [("resume", i) for i in resumed]
    assert all(at == offset(event_id) for _, at, event_id in markers)
    approval = next(g for g in svg.all("g") if g.attrs.get("data-kind") == "approval")
    (wait,) = approval.all("rect")
    assert wait.attrs["data-outcome"] == "granted"
    requested = next(e["event_id"] for e in events if e["type"] == "approval_request")
    granted = next(e["event_id"] for e in events if e["type"] == "approval_granted")
    assert (int(wait.attrs["data-start-ms"]), int(wait.attrs["data-end-ms"])) == (offset(requested), offset(granted))

    # The embedded timeline data says the same.
    embedded = json.loads(dom.find("script", id="faber-timeline").content())
    assert embedded["event_count"] == len(events) and embedded["sessions"] == 3 and embedded["status"] == "completed"

    # Metadata, parameters, lineage and artifacts with their links.
    assert dom.find("span", id="run-status").content() == "completed"
    params = dom.find("section", id="parameters").content()
    assert "WIDGET-123" in params and "model" in params
    links = {a.attrs["href"]: a.content() for a in dom.find("section", id="artifacts").all("a")}
    assert links[PR_URL] == PR_URL
    assert not any(href.startswith("javascript:") for href in links)
    artifacts_text = dom.find("section", id="artifacts").content()
    assert "javascript:alert(1)" in artifacts_text and "specs/WORK-00123.md" in artifacts_text

    # The event table lists every event, with a filter offering each type present.
    rows = dom.find("table", id="events").all("tr")
    listed = [int(r.attrs["data-event-id"]) for r in rows if "data-event-id" in r.attrs]
    assert listed == [e["event_id"] for e in events]
    assert [r.attrs["data-type"] for r in rows if "data-type" in r.attrs] == [e["type"] for e in events]
    options = {o.attrs["value"]: o.content() for o in dom.find("select", id="type-filter").all("option")}
    assert set(options) - {""} == {e["type"] for e in events}
    assert options["step_start"] == f"step_start ({sum(e['type'] == 'step_start' for e in events)})"

    # Text from events is escaped, never markup.
    assert HOSTILE_TEXT in dom.find("table", id="events").content()
    assert not [s for s in dom.all("script") if "alert" in s.content()]
    assert len(dom.all("script")) == 2 and not dom.all("b")


def test_the_lineage_of_a_run_and_of_its_rerun(faber: Faber, story: str) -> None:
    child = rerun_of(faber, story)
    lost = "acme/widget-service/0b0e1c9a-5a7e-4c1d-9f0e-2b7d3c4e5f60"  # a re-run that is not here (any more)
    faber.gateway.store.update_metadata(story, lambda metadata: metadata.model_copy(
        update={"relationships": metadata.relationships.model_copy(
            update={"child_runs": [*metadata.relationships.child_runs, lost]})}))

    def lineage(run: str) -> tuple[list[list[str]], Node]:
        section = Dom(faber.report(run)).root.find("section", id="lineage")
        rows = [[cell.content() for cell in row.all("td")] for row in section.all("tr")]
        return [row for row in rows if row], section

    rows, section = lineage(story)
    assert rows == [["re-run", child, "pending"], ["re-run", lost, "not found here"]]
    assert not section.all("ul")  # the original changed nothing
    rows, section = lineage(child)
    assert rows == [["re-run of", story, "completed"]]
    changes = [item.content() for item in section.find("ul", id="rerun-changes").all("li")]
    assert changes == ['model: "fast" → "slow"', 'workflow_changes: ["build: step added"]']
    alone = Dom(faber.report(faber.new_run("9").run_id)).root.find("section", id="lineage")
    assert "not a re-run, and has not been re-run" in alone.content() and not alone.all("table")


def test_a_long_run_lists_its_first_and_last_events(faber: Faber, cli: Cli, run_id: str, tmp_path: Path) -> None:
    for _ in range(30):
        faber.emit(run_id, "checkpoint")
    page = cli.ok("runs", "report", run_id, "--max-events", "10", "-o", "-")
    dom = Dom(page).root
    listed = [int(r.attrs["data-event-id"]) for r in dom.find("table", id="events").all("tr") if "data-event-id" in r.attrs]
    assert listed == [1, 2, 3, 4, 5, 26, 27, 28, 29, 30]
    assert "20 left out" in dom.find("section", id="event-log").content()
    assert json.loads(dom.find("script", id="faber-timeline").content())["event_count"] == 30
    # the default name, in the current folder
    written = cli.ok("runs", "report", run_id).strip()
    assert written == f"report-{run_id[-36:][:8]}.html" and (cli.cwd / written).is_file()


def test_report_errors_are_one_line(cli: Cli, run_id: str, tmp_path: Path) -> None:
    assert "does not exist" in assert_one_line_error(
        cli("runs", "report", run_id, "-o", str(tmp_path / "missing" / "r.html")), 1)
    assert "is a folder" in assert_one_line_error(cli("runs", "report", run_id, "-o", str(tmp_path)), 1)
    assert_one_line_error(cli("runs", "report", "nope"), 2)
    assert_one_line_error(cli("runs", "report", run_id, "--max-events", "-1", "-o", "-"), 2)
    assert list(tmp_path.iterdir()) == [tmp_path / "widget-service"]  # nothing half-written anywhere


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page's script")
def test_the_type_filter_script_hides_other_rows(faber: Faber, story: str, tmp_path: Path) -> None:
    page = faber.report(story)
    script = next(s.content() for s in Dom(page).root.all("script") if "type" not in s.attrs)
    types = [e.type for e in faber.events(story)]
    # A minimal document: the filter's controls and one row per event, enough to run the real script.
    harness = """
    const types = TYPES;
    const rows = types.map((t, i) => ({hidden: false, textContent: "row " + i + " " + t,
                                        getAttribute: (name) => name === "data-type" ? t : null}));
    const handlers = {};
    const control = (id) => ({id, value: "", textContent: "",
                              addEventListener: (event, fn) => { handlers[id] = fn; }});
    const controls = {"type-filter": control("type-filter"), "text-filter": control("text-filter"),
                      "shown-count": control("shown-count")};
    globalThis.document = {getElementById: (id) => controls[id], querySelectorAll: () => rows};
    SCRIPT
    controls["type-filter"].value = "step_error"; handlers["type-filter"]();
    const afterType = rows.filter((r) => !r.hidden).length + "," + controls["shown-count"].textContent;
    controls["type-filter"].value = ""; controls["text-filter"].value = "ROW 3 "; handlers["text-filter"]();
    console.log(afterType + ";" + rows.filter((r) => !r.hidden).length);
    """.replace("TYPES", json.dumps(types)).replace("SCRIPT", script)
    result = subprocess.run(["node", "-e", harness], capture_output=True, text=True, timeout=60, check=True)
    errors = types.count("step_error")
    assert result.stdout.strip() == f"{errors},{errors};1"


def test_report_through_the_api_and_an_empty_run(faber: Faber, run_id: str) -> None:
    page = faber.report(run_id)
    dom = Dom(page).root
    assert_self_contained(dom, page)
    assert "No events yet." in dom.find("section", id="timeline").content()
    assert re.search(r"<title>FABER run acme/widget-service/[0-9a-f-]{36} · pending</title>", page)
    rects = [n for n in dom.all("rect")]
    assert rects == []
    embedded: dict[str, Any] = json.loads(dom.find("script", id="faber-timeline").content())
    assert embedded["event_count"] == 0 and embedded["origin"] is None


def test_a_reference_run_reports_its_defects(cli: Cli, project_dir: Path) -> None:
    runs = project_dir / ".fractary" / "plugins" / "faber" / "runs"
    shutil.copytree(Path(__file__).resolve().parent / "fixtures" / "reference-runs" / "runs", runs, dirs_exist_ok=True)
    page = cli.ok("runs", "report", "ee04a6d4", "-o", "-")
    dom = Dom(page).root
    warnings = dom.find("section", id="warnings").content()
    assert "state.json does not reflect the events" in warnings and "missing from its child_runs" in warnings
    assert dom.find("span", id="run-status").content() == "failed"
    assert len([r for r in dom.all("rect") if r.attrs.get("data-outcome") == "failed"]) == 3  # run, build, implement

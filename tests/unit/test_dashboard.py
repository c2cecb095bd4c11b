"""The dashboard's pure parts: the ASL graph layout, progress from a history, the self-contained page."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from perflab.dashboard.graph import layout, render_svg, transitions
from perflab.dashboard.page import dashboard_html
from perflab.dashboard.progress import execution_progress, map_states

ASL = Path(__file__).resolve().parents[2] / "state_machines" / "download_fanout.asl.json"
SVG = "{http://www.w3.org/2000/svg}"


def all_states(definition: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for name, state in definition["States"].items():
        names.add(name)
        for sub in [state.get("ItemProcessor") or state.get("Iterator"), *(state.get("Branches") or [])]:
            if sub:
                names |= all_states(sub)
    return names


def test_every_state_of_the_real_definition_is_drawn_once_with_its_edges() -> None:
    definition = json.loads(ASL.read_text())
    root = ElementTree.fromstring(render_svg(definition))
    drawn = [g.get("data-state") for g in root.iter(f"{SVG}g") if g.get("class", "").startswith("state")]
    assert sorted(drawn) == sorted(all_states(definition))
    nested = {g.get("data-state") for g in root.iter(f"{SVG}g") if g.get("data-parent") == "Fanout"}
    assert nested == set(definition["States"]["Fanout"]["ItemProcessor"]["States"])
    edges = {(p.get("data-from"), p.get("data-to")) for p in root.iter(f"{SVG}path") if p.get("data-from")}
    assert ("Fanout", "Aggregate") in edges and ("Fanout", "RecordFailure") in edges
    assert ("Route", "RunDownloadTask") in edges  # a Choice's branches
    catch = [p for p in root.iter(f"{SVG}path") if "edge-catch" in (p.get("class") or "")]
    assert catch and all(p.get("stroke-dasharray") for p in catch)
    assert root.find(f".//{SVG}text[@data-map='Fanout']") is not None


def test_layout_ranks_follow_the_longest_path_and_nest_map_boxes() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Choice", "Choices": [{"Next": "C"}], "Default": "B"},
            "B": {"Type": "Pass", "Next": "C"},
            "C": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": True}}},
                "Next": "D",
            },
            "D": {"Type": "Pass", "Next": "A"},  # a loop back to the start
        },
    }
    block = layout(definition)
    ys = {name: node.y for name, node in block.nodes.items()}
    assert ys["A"] < ys["B"] < ys["C"] < ys["D"]  # C is below B although A also jumps to it
    assert [n.rank for n in block.nodes.values()] == [0, 1, 2, 3]
    inner = block.nodes["C"].inner[0]
    assert list(inner.nodes) == ["X"] and block.nodes["C"].width > inner.width
    assert {(e.source, e.target) for e in block.edges} == {
        ("A", "C"),
        ("A", "B"),
        ("B", "C"),
        ("C", "D"),
        ("D", "A"),
    }


def test_transitions_deduplicate_and_mark_catchers() -> None:
    state = {"Type": "Task", "Next": "N", "Catch": [{"Next": "F"}, {"Next": "F"}]}
    assert [(e.target, e.kind) for e in transitions(state)] == [("N", "next"), ("F", "catch")]


def test_state_names_are_escaped() -> None:
    svg = render_svg({"StartAt": "<b>&", "States": {"<b>&": {"Type": "Pass", "End": True}}})
    root = ElementTree.fromstring(svg)  # parses: nothing unescaped
    assert [g.get("data-state") for g in root.iter(f"{SVG}g")] == ["<b>&"]


T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def event(kind: str, seconds: float, **details: Any) -> dict[str, Any]:
    return {"type": kind, "timestamp": T0 + timedelta(seconds=seconds), **details}


def entered(kind: str, name: str, at: float) -> dict[str, Any]:
    return event(f"{kind}StateEntered", at, stateEnteredEventDetails={"name": name})


def exited(kind: str, name: str, at: float) -> dict[str, Any]:
    return event(f"{kind}StateExited", at, stateExitedEventDetails={"name": name})


class History:
    """Answers the four read calls the progress view makes, from a fixed history (pure logic test)."""

    def __init__(self, events: list[dict[str, Any]], counts: dict[str, int], status: str) -> None:
        self.events, self.counts, self.status = events, counts, status

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"status": self.status, "startDate": T0}

    def get_execution_history(self, **_: Any) -> dict[str, Any]:
        return {"events": self.events}

    def list_map_runs(self, executionArn: str, **_: Any) -> dict[str, Any]:
        return {"mapRuns": [{"mapRunArn": "arn:aws:states:r:1:mapRun:sm/label-123:uuid"}]}

    def describe_map_run(self, mapRunArn: str) -> dict[str, Any]:
        return {"status": "RUNNING", "itemCounts": self.counts}


def test_progress_names_current_done_and_failed_states_and_the_map_run() -> None:
    events = [
        event("ExecutionStarted", 0),
        entered("Pass", "Plan", 0.1),
        exited("Pass", "Plan", 0.3),
        entered("Map", "Fanout", 0.3),
        event(
            "MapRunStarted",
            0.4,
            mapRunStartedEventDetails={"mapRunArn": "arn:aws:states:r:1:mapRun:sm/label-123:uuid"},
        ),
    ]
    counts = {"total": 10, "succeeded": 4, "failed": 1, "running": 5, "pending": 0}
    progress = execution_progress(History(events, counts, "RUNNING"), "arn:exec")
    assert progress["current"] == ["Fanout"]
    assert [s["name"] for s in progress["states"]] == ["Plan", "Fanout"]
    assert (
        abs(progress["states"][0]["duration_s"] - 0.2) < 1e-6 and progress["states"][1]["duration_s"] is None
    )
    assert progress["map_runs"][0]["state"] == "Fanout"
    assert progress["map_runs"][0]["item_counts"] == counts
    assert progress["failed"] == []

    failing = [*events, event("TaskFailed", 0.9), entered("Task", "RecordFailure", 1.0)]
    assert execution_progress(History(failing, counts, "RUNNING"), "arn:exec")["failed"] == ["Fanout"]


def test_map_states_ignores_runs_without_a_map_state() -> None:
    stray = event("MapRunStarted", 0, mapRunStartedEventDetails={"mapRunArn": "arn:x"})
    assert map_states([stray]) == {}


def test_page_is_one_document_with_nothing_fetched_from_elsewhere() -> None:
    page = dashboard_html()
    assert page.count("<script>") == 1 and "<script src" not in page and "<link" not in page
    external = re.findall(r"""(?:src|href)\s*=\s*["']?(https?:)?//""", page)
    assert not external
    assert "/*DASHBOARD_CSS*/" not in page and "//DASHBOARD_JS" not in page
    assert "/health/performance" in page and "/progress" in page  # the script polls the progress route

"""The state machine graph as SVG, laid out from the ASL definition (no browser library, no CDN).

:func:`render_svg` draws every state of a definition as a box, nested states (a Map's
``ItemProcessor``/``Iterator``, a Parallel's ``Branches``) inside their parent's box, and an arrow for
every transition (``Next``, ``Default``, each ``Choices[].Next``; ``Catch[].Next`` dashed). The layout
is layered: a state's row is the longest path to it from ``StartAt`` (back edges, found by a depth-first
walk, are ignored for ranking and drawn on the side), rows are centred, and a state's order in its
row follows discovery order.

Every state is a ``<g class="state" data-state="NAME" data-type="TYPE">`` (nested ones also carry
``data-parent``), so the dashboard highlights the current state by adding a class; a Map's box has a
``<text class="map-counts" data-map="NAME">`` the page fills with the Map run's item counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any

NODE_HEIGHT = 34
MIN_NODE_WIDTH = 110
CHAR_WIDTH = 7.2
ROW_GAP = 34
COLUMN_GAP = 22
PAD = 14
HEADER = 40  # room for a container's title and its counts line


@dataclass
class Node:
    name: str
    type: str
    width: float
    height: float
    inner: list[Layout] = field(default_factory=list)
    rank: int = 0
    x: float = 0.0
    y: float = 0.0


@dataclass
class Edge:
    source: str
    target: str
    kind: str  # "next" | "catch"


@dataclass
class Layout:
    """Positioned nodes and edges of one state list, in its own coordinates (origin top-left)."""

    nodes: dict[str, Node]
    edges: list[Edge]
    width: float
    height: float
    parent: str | None


def transitions(state: Mapping[str, Any]) -> list[Edge]:
    """The outgoing edges of one state (targets only; the source is filled in by the caller)."""
    targets: list[Edge] = []
    for key in ("Next", "Default"):
        if isinstance(state.get(key), str):
            targets.append(Edge("", state[key], "next"))
    for choice in state.get("Choices") or []:
        if isinstance(choice, Mapping) and isinstance(choice.get("Next"), str):
            targets.append(Edge("", choice["Next"], "next"))
    for catcher in state.get("Catch") or []:
        if isinstance(catcher, Mapping) and isinstance(catcher.get("Next"), str):
            targets.append(Edge("", catcher["Next"], "catch"))
    unique: dict[tuple[str, str], Edge] = {}
    for edge in targets:
        unique.setdefault((edge.target, edge.kind), edge)
    return list(unique.values())


def _sub_machines(state: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    processor = state.get("ItemProcessor") or state.get("Iterator")
    if isinstance(processor, Mapping):
        return [processor]
    branches = state.get("Branches")
    if isinstance(branches, list):
        return [b for b in branches if isinstance(b, Mapping)]
    return []


def _ranks(states: Mapping[str, Any], start: str) -> tuple[dict[str, int], list[str], set[tuple[str, str]]]:
    """Longest-path rank of each state from ``start``, discovery order, and the back edges."""
    order: list[str] = []
    back: set[tuple[str, str]] = set()
    on_stack: set[str] = set()
    seen: set[str] = set()

    def visit(name: str) -> None:
        seen.add(name)
        on_stack.add(name)
        order.append(name)
        for edge in transitions(states[name]):
            if edge.target not in states:
                continue
            if edge.target in on_stack:
                back.add((name, edge.target))
            elif edge.target not in seen:
                visit(edge.target)
        on_stack.discard(name)

    if start in states:
        visit(start)
    for name in states:  # unreachable states still appear, after the reachable ones
        if name not in seen:
            visit(name)
    rank = dict.fromkeys(order, 0)
    # Relax in topological order (the DFS order with back edges removed is not one; iterate to a fixpoint).
    for _ in range(len(order)):
        changed = False
        for name in order:
            for edge in transitions(states[name]):
                forward = edge.target in states and (name, edge.target) not in back
                if forward and rank[edge.target] < rank[name] + 1:
                    rank[edge.target] = rank[name] + 1
                    changed = True
        if not changed:
            break
    return rank, order, back


def layout(definition: Mapping[str, Any], parent: str | None = None) -> Layout:
    """Lay out one state list (a whole definition, a Map's processor or a Parallel branch)."""
    states: Mapping[str, Any] = definition.get("States") or {}
    start = str(definition.get("StartAt", ""))
    rank, order, _back = _ranks(states, start)
    nodes: dict[str, Node] = {}
    for name in order:
        state = states[name]
        inner = [layout(sub, parent=name) for sub in _sub_machines(state)]
        label_width = max(MIN_NODE_WIDTH, CHAR_WIDTH * (len(name) + len(str(state.get("Type", ""))) + 3) + 20)
        if inner:
            width = max(label_width, sum(i.width for i in inner) + COLUMN_GAP * (len(inner) - 1) + 2 * PAD)
            height = HEADER + max(i.height for i in inner) + PAD
        else:
            width, height = label_width, NODE_HEIGHT
        nodes[name] = Node(name, str(state.get("Type", "")), width, height, inner, rank[name])
    rows: dict[int, list[Node]] = {}
    for name in order:
        rows.setdefault(rank[name], []).append(nodes[name])
    row_widths = {r: sum(n.width for n in ns) + COLUMN_GAP * (len(ns) - 1) for r, ns in rows.items()}
    total_width = max(row_widths.values(), default=0.0)
    y = 0.0
    for r in sorted(rows):
        x = (total_width - row_widths[r]) / 2
        row_height = max(n.height for n in rows[r])
        for node in rows[r]:
            node.x, node.y = x, y + (row_height - node.height) / 2
            x += node.width + COLUMN_GAP
        y += row_height + ROW_GAP
    edges = [
        Edge(name, edge.target, edge.kind)
        for name in order
        for edge in transitions(states[name])
        if edge.target in states
    ]
    return Layout(nodes, edges, total_width, max(0.0, y - ROW_GAP), parent)


def _edge_path(source: Node, target: Node, dx: float, dy: float) -> str:
    sx, sy = dx + source.x + source.width / 2, dy + source.y + source.height
    tx, ty = dx + target.x + target.width / 2, dy + target.y
    if target.rank == source.rank + 1:
        mid = (sy + ty) / 2
        return f"M{sx:.1f},{sy:.1f} C{sx:.1f},{mid:.1f} {tx:.1f},{mid:.1f} {tx:.1f},{ty:.1f}"
    # Skipping rows, same row or upwards (a loop): leave from the right side, enter from the right,
    # so the arrow never runs through the states in between.
    sx, sy = dx + source.x + source.width, dy + source.y + source.height / 2
    tx, ty = dx + target.x + target.width, dy + target.y + target.height / 2
    bulge = max(sx, tx) + 40
    return f"M{sx:.1f},{sy:.1f} C{bulge:.1f},{sy:.1f} {bulge:.1f},{ty:.1f} {tx:.1f},{ty:.1f}"


def _draw(block: Layout, dx: float, dy: float, out: list[str]) -> None:
    for edge in block.edges:
        source, target = block.nodes[edge.source], block.nodes[edge.target]
        dash = ' stroke-dasharray="5 4"' if edge.kind == "catch" else ""
        out.append(
            f'<path class="edge edge-{edge.kind}" data-from="{escape(edge.source)}" '
            f'data-to="{escape(edge.target)}" d="{_edge_path(source, target, dx, dy)}" fill="none" '
            f'stroke="#8a94a6" stroke-width="1.4"{dash} marker-end="url(#arrow)"/>'
        )
    for node in block.nodes.values():
        x, y = dx + node.x, dy + node.y
        parent = f' data-parent="{escape(block.parent)}"' if block.parent else ""
        out.append(
            f'<g class="state state-{escape(node.type.lower())}" data-state="{escape(node.name)}" '
            f'data-type="{escape(node.type)}"{parent}>'
        )
        out.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{node.width:.1f}" height="{node.height:.1f}" rx="6"/>'
        )
        if node.inner:
            out.append(
                f'<text class="state-name" x="{x + PAD:.1f}" y="{y + 17:.1f}">{escape(node.name)} '
                f'<tspan class="state-type">{escape(node.type)}</tspan></text>'
            )
            out.append(
                f'<text class="map-counts" data-map="{escape(node.name)}" x="{x + PAD:.1f}" '
                f'y="{y + 33:.1f}"></text>'
            )
            ix = x + PAD
            for inner in node.inner:
                _draw(inner, ix, y + HEADER, out)
                ix += inner.width + COLUMN_GAP
        else:
            cx, cy = x + node.width / 2, y + node.height / 2 + 4
            out.append(
                f'<text class="state-name" x="{cx:.1f}" y="{cy:.1f}" text-anchor="middle">'
                f'{escape(node.name)} <tspan class="state-type">{escape(node.type)}</tspan></text>'
            )
        out.append("</g>")


def render_svg(definition: Mapping[str, Any]) -> str:
    """The whole definition as one standalone ``<svg>`` element."""
    block = layout(definition)
    margin = 60  # room on the right for side edges
    width, height = block.width + 2 * PAD + margin, block.height + 2 * PAD
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="asl-graph" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="state machine graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a94a6"/></marker></defs>',
    ]
    _draw(block, PAD, PAD, out)
    out.append("</svg>")
    return "\n".join(out)

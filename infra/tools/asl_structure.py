"""Structural checks of an Amazon States Language definition (stdlib only).

What a grammar-only parser misses and AWS's ``ValidateStateMachineDefinition`` reports: ``StartAt`` and
every ``Next`` / ``Default`` / ``Catch`` target name a state of the same scope (a Map's ``ItemProcessor``
and each ``Parallel`` branch are scopes of their own), every state is reachable, every state that is
not terminal has exactly one of ``Next`` and ``End: true``, a Distributed Map names its children's
execution type, and no ``${...}`` placeholder is left unrendered.

``problems(definition_text)`` returns ``(location, message)`` pairs; an empty list means valid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

STATE_TYPES = frozenset({"Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"})
TERMINAL_TYPES = frozenset({"Choice", "Succeed", "Fail"})  # no Next / End of their own
UNRENDERED = re.compile(r"\$\{[^}]*\}")

Problem = tuple[str, str]


def problems(definition_text: str) -> list[Problem]:
    """Every structural problem of ``definition_text`` (empty when it is valid)."""
    try:
        definition = json.loads(definition_text)
    except json.JSONDecodeError as error:
        return [("/", f"not valid JSON: {error}")]
    found = [("/", f"unrendered placeholder {m.group(0)}") for m in UNRENDERED.finditer(definition_text)]
    if not isinstance(definition, dict):
        return [*found, ("/", "the definition must be a JSON object")]
    found.extend(_scope(definition, ""))
    return found


def _scope(scope: dict[str, Any], where: str) -> Iterator[Problem]:
    states = scope.get("States")
    start = scope.get("StartAt")
    if not isinstance(states, dict) or not states:
        yield (where or "/", "States must be a non-empty object")
        return
    if not isinstance(start, str):
        yield (where or "/", "StartAt must be a string")
    elif start not in states:
        yield (where or "/", f"StartAt names no state of this scope: {start!r}")
    edges: dict[str, set[str]] = {}
    for name, state in states.items():
        at = f"{where}/States/{name}"
        if not isinstance(state, dict):
            yield (at, "a state must be a JSON object")
            continue
        targets = set(_targets(state))
        edges[name] = targets
        for target in sorted(targets - states.keys()):
            yield (at, f"transition to a state that does not exist in this scope: {target!r}")
        yield from _state(state, at)
    if isinstance(start, str) and start in states:
        reached = _reachable(start, edges)
        for name in states:
            if name not in reached:
                yield (f"{where}/States/{name}", "state is not reachable from StartAt")


def _targets(state: dict[str, Any]) -> Iterator[str]:
    for key in ("Next", "Default"):
        if isinstance(state.get(key), str):
            yield state[key]
    for rule in state.get("Choices") or []:
        if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
            yield rule["Next"]
    for catcher in state.get("Catch") or []:
        if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
            yield catcher["Next"]


def _reachable(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen = {start}
    pending = [start]
    while pending:
        for target in edges.get(pending.pop(), set()):
            if target not in seen:
                seen.add(target)
                pending.append(target)
    return seen


def _state(state: dict[str, Any], at: str) -> Iterator[Problem]:
    kind = state.get("Type")
    if kind not in STATE_TYPES:
        yield (at, f"Type must be one of {', '.join(sorted(STATE_TYPES))} (got {kind!r})")
        return
    has_next = "Next" in state
    ends = state.get("End") is True
    if kind in TERMINAL_TYPES:
        if has_next or "End" in state:
            yield (at, f"a {kind} state has neither Next nor End")
    elif has_next == ends:
        yield (at, "exactly one of Next and End: true is required")
    if kind == "Choice":
        choices = state.get("Choices")
        if not isinstance(choices, list) or not choices:
            yield (at, "a Choice state needs a non-empty Choices list")
        elif any(not isinstance(rule, dict) or not isinstance(rule.get("Next"), str) for rule in choices):
            yield (at, "every top-level choice rule needs a Next")
    if kind == "Task" and not isinstance(state.get("Resource"), str):
        yield (at, "a Task state needs a Resource")
    for index, catcher in enumerate(state.get("Catch") or []):
        if not isinstance(catcher, dict) or not catcher.get("ErrorEquals"):
            yield (f"{at}/Catch/{index}", "a catcher needs ErrorEquals and Next")
    for index, retrier in enumerate(state.get("Retry") or []):
        if not isinstance(retrier, dict) or not retrier.get("ErrorEquals"):
            yield (f"{at}/Retry/{index}", "a retrier needs ErrorEquals")
    if kind == "Map":
        yield from _map(state, at)
    if kind == "Parallel":
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            yield (at, "a Parallel state needs a non-empty Branches list")
        else:
            for index, branch in enumerate(branches):
                if isinstance(branch, dict):
                    yield from _scope(branch, f"{at}/Branches/{index}")
                else:
                    yield (f"{at}/Branches/{index}", "a branch must be a JSON object")


def _map(state: dict[str, Any], at: str) -> Iterator[Problem]:
    key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
    processor = state.get(key)
    if not isinstance(processor, dict):
        yield (at, "a Map state needs an ItemProcessor")
        return
    config = processor.get("ProcessorConfig") or {}
    if config.get("Mode") == "DISTRIBUTED":
        if config.get("ExecutionType") not in ("STANDARD", "EXPRESS"):
            yield (f"{at}/{key}/ProcessorConfig", "a Distributed Map needs ExecutionType STANDARD or EXPRESS")
        if key == "Iterator":
            yield (at, "a Distributed Map needs ItemProcessor (Iterator is the deprecated inline form)")
    yield from _scope(processor, f"{at}/{key}")

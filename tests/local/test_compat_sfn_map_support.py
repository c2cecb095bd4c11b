"""The plumbing the ``sfn_map_*`` patches share, and their gap probes against the pinned moto.

Nothing here patches moto in this process: the patches are applied in the stack's process only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from perflab.local.compat import CompatPatch, discover, moto_is_patched_version
from perflab.local.compat.sfn_map_express_processor import PATCH as EXPRESS
from perflab.local.compat.sfn_map_run_executions import PATCH as RUN_EXECUTIONS
from perflab.local.compat.sfn_map_states_errors import PATCH as STATES_ERRORS
from perflab.local.compat.sfn_map_support import bottom, layers, replace_method, wrap_method
from perflab.local.compat.sfn_map_tolerated_failure import PATCH as TOLERATED_FAILURE

PATCHES = (EXPRESS, RUN_EXECUTIONS, STATES_ERRORS, TOLERATED_FAILURE)


def _tracing(log: list[str], name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def make(inner: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, value: int) -> int:
            log.append(name)
            result: int = inner(self, value)
            return result + 1

        return wrapper

    return make


def _fresh_class() -> type:
    class Target:
        def compute(self, value: int) -> int:
            return value

    return Target


@pytest.mark.parametrize("replace_first", [True, False], ids=["replace-then-wrap", "wrap-then-replace"])
def test_a_replacement_runs_beneath_wrappers_in_either_order(replace_first: bool) -> None:
    target = _fresh_class()
    log: list[str] = []

    def replacement(self: Any, value: int) -> int:
        log.append("replacement")
        return value * 10

    steps: list[Callable[[], None]] = [
        lambda: replace_method(target, "compute", "replace", replacement),
        lambda: wrap_method(target, "compute", "wrap", _tracing(log, "wrap")),
    ]
    for step in steps if replace_first else reversed(steps):
        step()
        step()  # idempotent

    assert target().compute(2) == 21
    assert log == ["wrap", "replacement"]
    assert sorted(layers(target, "compute")) == ["replace", "wrap"]
    assert bottom(target, "compute") is replacement


def test_wrappers_stack() -> None:
    target = _fresh_class()
    log: list[str] = []
    wrap_method(target, "compute", "a", _tracing(log, "a"))
    wrap_method(target, "compute", "b", _tracing(log, "b"))

    assert target().compute(1) == 3
    assert log == ["b", "a"]
    assert layers(target, "compute") == ["b", "a"]


def test_patches_are_discovered() -> None:
    names = {patch.name for patch in discover()}
    assert {patch.name for patch in PATCHES} <= names


@pytest.mark.skipif(not moto_is_patched_version(), reason="gap probes are written for the pinned moto")
@pytest.mark.parametrize("patch", PATCHES, ids=lambda patch: patch.name)
def test_pinned_moto_has_every_gap(patch: CompatPatch) -> None:
    assert patch.needed()
    assert patch.touches
    assert patch.name.startswith("sfn_map_")

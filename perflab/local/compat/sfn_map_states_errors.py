"""A ``States.*`` error raised inside an inline Map or a Parallel reaches the state's Catch.

The gap: when an iteration of an inline Map (or a branch of a Parallel) fails, moto re-raises the
failure on the Map/Parallel state with its error name wrapped in ``CustomErrorName``, which refuses
names that begin with ``States.`` (the ASL rule that *user* error names must not use the prefix).
That ``ValueError`` escapes as an unhandled exception and becomes ``States.Runtime``, which no
``Catch`` (except ``States.ALL``, and then with the wrong error) can handle. A ``Fail`` state whose
``Error`` is ``States.Something`` hits the same check and fails with ``States.Runtime`` as well.
On AWS the original error (``States.TaskFailed``, ``States.Timeout``, ...) propagates and is caught.

The fix: in the three places that build an error name from an error raised at run time (the Map
iteration worker, the Parallel branches and the Fail state), a known ``States.*`` name becomes a
``StatesErrorName`` (so Catch/Retry match it exactly as when the state raised it itself), any other
``States.*`` name an unchecked custom name, and every other name the ``CustomErrorName`` it was.
Definition parsing keeps moto's check (an unknown ``States.*`` name in ``ErrorEquals`` is still
rejected).
"""

from __future__ import annotations

from typing import Any

from perflab.local.compat import CompatPatch

_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iteration_worker",
    "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branches_decl",
    "moto.stepfunctions.parser.asl.component.state.fail.state_fail",
)
_CUSTOM_ERROR_NAME = (
    "moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name.CustomErrorName"
)
_MARK = "__perflab_runtime_error_name__"


def _modules() -> list[Any]:
    import importlib

    return [importlib.import_module(name) for name in _MODULES]


def needed() -> bool:
    try:
        from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
            CustomErrorName,
        )

        modules = _modules()
    except ImportError:
        return False
    if not all(getattr(module, "CustomErrorName", None) is CustomErrorName for module in modules):
        return False
    try:
        CustomErrorName("States.TaskFailed")
    except ValueError:
        return True
    return False


def runtime_error_name_factory() -> Any:
    """A drop-in for ``CustomErrorName(error_name)`` that accepts ``States.*`` names."""
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        ILLEGAL_CUSTOM_ERROR_PREFIX,
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )

    class UncheckedErrorName(CustomErrorName):  # type: ignore[misc]
        """A custom error name that skips the ``States.`` prefix check (run-time errors only)."""

        def __init__(self, error_name: str | None) -> None:
            ErrorName.__init__(self, error_name=error_name)

    def runtime_error_name(error_name: str | None) -> Any:
        if error_name is None or not error_name.startswith(ILLEGAL_CUSTOM_ERROR_PREFIX):
            return CustomErrorName(error_name)
        try:
            return StatesErrorName.from_name(error_name)
        except ValueError:
            return UncheckedErrorName(error_name)

    setattr(runtime_error_name, _MARK, True)
    return runtime_error_name


def apply() -> None:
    factory = None
    for module in _modules():
        if getattr(module.CustomErrorName, _MARK, False):
            continue
        factory = factory or runtime_error_name_factory()
        module.CustomErrorName = factory


PATCH = CompatPatch(
    name="sfn_map_states_errors",
    gap="a States.* error inside an inline Map or Parallel (or raised by a Fail state) becomes an "
    "uncatchable States.Runtime",
    touches=(
        _CUSTOM_ERROR_NAME,
        *(f"{module}.CustomErrorName" for module in _MODULES),
        "moto.stepfunctions.parser.asl.component.common.error_name.states_error_name.StatesErrorName",
    ),
    needed=needed,
    apply=apply,
)

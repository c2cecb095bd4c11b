"""Step Functions: compile each JSONPath once.

moto's interpreter calls ``jsonpath_ng``'s ``parse(path)`` for every path it evaluates (``InputPath``,
``Parameters`` ``.$`` fields, ``ItemSelector``, Choice variables, ``ResultSelector``, ``ResultPath``),
and ``parse`` builds a new lexer and parser each time: about 1 ms per call, ten or more per Map item.
Compiled expressions are immutable (``find``/``update`` take the data as an argument), so a bounded
cache per path string is equivalent.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.sfn_support import is_marked, mark

NAME = "sfn_jsonpath_cache"
_MODULES = (
    "moto.stepfunctions.parser.asl.utils.json_path",
    "moto.stepfunctions.parser.asl.component.common.path.result_path",
)


def _cached(original: Any) -> Any:
    cached = functools.lru_cache(maxsize=4096)(original)

    @functools.wraps(original)
    def parse(path: str) -> Any:
        return cached(path)

    return mark(parse, NAME)


def _needed() -> bool:
    for name in _MODULES:
        module = importlib.import_module(name)
        parse = getattr(module, "parse", None)
        if (
            parse is None
            or is_marked(parse)
            or not getattr(parse, "__module__", "").startswith("jsonpath_ng")
        ):
            return False
    return True


def _apply() -> None:
    for name in _MODULES:
        module: Any = importlib.import_module(name)
        if not is_marked(module.parse):
            module.parse = _cached(module.parse)


PATCH = CompatPatch(
    name=NAME,
    gap="every JSONPath evaluation built a new jsonpath_ng parser (~1 ms, ten or more per Map item)",
    touches=tuple(f"{m}.parse" for m in _MODULES),
    needed=_needed,
    apply=_apply,
)

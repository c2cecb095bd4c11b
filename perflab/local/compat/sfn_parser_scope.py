"""Step Functions: each definition parse gets its own query-language scope stack.

moto's ASL ``Preprocessor`` keeps its query-language scope stack in a class attribute
(``_query_language_per_scope = []``), shared by every parse in the process. A parse that raises (a
JSONata definition, a bad definition) leaves its scopes on the stack, so every later definition inherits
a stale scope and is rejected; concurrent ``CreateStateMachine`` calls push and pop the same list. This
patch gives every ``Preprocessor`` instance (one per parse) its own list.
"""

from __future__ import annotations

from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.sfn_support import import_attr, is_marked, mark

NAME = "sfn_parser_scope"
_TARGET = "moto.stepfunctions.parser.asl.parse.preprocessor.Preprocessor"
_ATTRIBUTE = "_query_language_per_scope"


def _wrap_init(original: Any) -> Any:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        setattr(self, _ATTRIBUTE, [])

    return mark(__init__, NAME)


def needed() -> bool:
    cls = import_attr(_TARGET)
    if cls is None or is_marked(cls.__dict__.get("__init__")):
        return False
    # The gap: the stack is a list on the class, not on the instance.
    return isinstance(cls.__dict__.get(_ATTRIBUTE), list)


def apply() -> None:
    cls = import_attr(_TARGET)
    if cls is None or is_marked(cls.__dict__.get("__init__")):
        return
    # The inherited __init__ (antlr's visitor) when the class defines none.
    cls.__init__ = _wrap_init(cls.__init__)


PATCH = CompatPatch(
    name=NAME,
    gap=(
        "the ASL parser's query-language scope stack is a class-level list: one failed parse breaks "
        "every later definition, and concurrent CreateStateMachine calls race on it"
    ),
    touches=(f"{_TARGET}.{_ATTRIBUTE}", f"{_TARGET}.__init__"),
    needed=needed,
    apply=apply,
)

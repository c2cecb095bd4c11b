"""Small helpers shared by the Step Functions compat patches (this module defines no patch)."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

#: Attribute set on every function a compat patch installs, so a patch can tell it already ran.
MARKER = "__perflab_compat__"


def mark(fn: Callable[..., Any], patch_name: str) -> Callable[..., Any]:
    setattr(fn, MARKER, patch_name)
    return fn


def is_marked(obj: object) -> bool:
    return getattr(obj, MARKER, None) is not None


def import_attr(dotted: str) -> Any | None:
    """``module.Class.attr`` → the object, or None when any part is gone."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        return obj
    return None


def source_of(obj: object) -> str | None:
    """The source of a function, or None when it cannot be read."""
    try:
        return inspect.getsource(obj)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return None


def body_is_pass(fn: object) -> bool:
    """True when ``fn`` is a function whose body is only ``pass`` (a stub)."""
    code = getattr(fn, "__code__", None)
    source = source_of(fn)
    if code is None or source is None:
        return False
    lines = [line.strip() for line in source.splitlines()]
    # The last statement of a stub is `pass`, and the body has nothing else after the signature.
    signature_end = next((i for i, line in enumerate(lines) if line.endswith(":")), None)
    if signature_end is None:
        return False
    body = [line for line in lines[signature_end + 1 :] if line and not line.startswith("#")]
    return body == ["pass"]

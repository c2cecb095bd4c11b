"""Small helpers shared by the ECS compat patches (this module defines no patch)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


def ecs_model(name: str) -> Any:
    """``moto.ecs.models.<name>``, or None when moto no longer has it."""
    from moto.ecs import models

    return getattr(models, name, None)


def wrap_init(
    cls: Any,
    patch_name: str,
    *,
    before: Callable[[dict[str, Any]], None] | None = None,
    after: Callable[[Any], None] | None = None,
) -> None:
    """Wrap ``cls.__init__``: ``before(kwargs)`` may rewrite the keyword arguments before the original
    runs, ``after(self)`` runs once it has.

    Idempotent per patch: the wrapper carries a marker named after ``patch_name``, and
    ``functools.wraps`` copies it onto any wrapper another patch puts around this one.
    """
    marker = f"__perflab_{patch_name}__"
    original = cls.__init__
    if getattr(original, marker, False):
        return

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if before is not None:
            before(kwargs)
        original(self, *args, **kwargs)
        if after is not None:
            after(self)

    setattr(__init__, marker, True)
    cls.__init__ = __init__

"""Small, guarded patches that close gaps in the pinned moto.

Each module in this package closes one gap and exposes ``PATCH``, a :class:`CompatPatch`. A patch
applies only while moto still has the gap: it checks the moto version it was written against and that
the symbol it replaces still exists (and still looks like the gapped one). Every patch has a test under
``tests/`` that fails without it.

Modules are discovered, not listed, so adding a gap fix is adding a file.
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version

LOG = logging.getLogger(__name__)

#: The moto release these patches were written against (pinned in pyproject.toml).
PATCHED_MOTO_VERSION = "5.2.5"


@dataclass(frozen=True)
class CompatPatch:
    """One moto gap and its fix.

    ``needed`` answers whether the running moto still has the gap (it must return False once moto
    fixes it, or when the symbol it replaces is gone); ``apply`` installs the fix and must be
    idempotent. ``touches`` lists every moto internal the patch replaces or reads, for the record.
    """

    name: str
    gap: str
    touches: tuple[str, ...]
    needed: Callable[[], bool]
    apply: Callable[[], None]
    applied: list[bool] = field(default_factory=list, compare=False, repr=False)


def moto_version() -> str:
    return version("moto")


def moto_is_patched_version() -> bool:
    """True when the installed moto is the one the patches were written against."""
    return moto_version() == PATCHED_MOTO_VERSION


def discover() -> list[CompatPatch]:
    """Every ``PATCH`` defined by a module of this package, in module-name order."""
    patches: list[CompatPatch] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        patch = getattr(module, "PATCH", None)
        if isinstance(patch, CompatPatch):
            patches.append(patch)
    return patches


#: Comma-separated patch names to leave out (tests use it to show a gap is real).
DISABLE_ENV = "PERFLAB_COMPAT_DISABLE"


def disabled_names() -> set[str]:
    return {name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()}


def apply_all() -> list[CompatPatch]:
    """Apply every patch whose gap is still present; return the ones applied."""
    applied: list[CompatPatch] = []
    disabled = disabled_names()
    for patch in discover():
        if patch.name in disabled:
            LOG.warning("compat patch %s disabled by %s", patch.name, DISABLE_ENV)
            continue
        if patch.applied:
            applied.append(patch)
            continue
        if not moto_is_patched_version():
            LOG.warning(
                "moto %s is not %s: compat patch %s not applied; check whether the gap is closed",
                moto_version(),
                PATCHED_MOTO_VERSION,
                patch.name,
            )
            continue
        if not patch.needed():
            LOG.info("compat patch %s not needed", patch.name)
            continue
        patch.apply()
        patch.applied.append(True)
        applied.append(patch)
    return applied

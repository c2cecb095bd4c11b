"""Local-cloud smoke benchmark (being built)."""

from __future__ import annotations

from pathlib import Path


def run_smoke(invocations: int, compute: str, out: Path | None) -> int:
    raise NotImplementedError("the smoke benchmark is not built yet")

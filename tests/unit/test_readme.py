"""The README documents every compat patch (its table is `perflab local patches --markdown`)."""

from __future__ import annotations

from pathlib import Path

from perflab.local import compat

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_compat_patch_is_in_the_readme() -> None:
    text = README.read_text()
    missing = [p.name for p in compat.discover() if f"`{p.name}`" not in text]
    assert not missing, f"add to README (perflab local patches --markdown): {missing}"

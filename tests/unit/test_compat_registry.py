"""The compat registry: patches are discovered, guarded on the moto version, and can be disabled."""

from __future__ import annotations

import pytest

from perflab.local import compat


def test_every_patch_names_what_it_touches() -> None:
    patches = compat.discover()
    names = [p.name for p in patches]
    assert len(names) == len(set(names)), "patch names must be unique"
    for patch in patches:
        assert patch.gap, patch.name
        assert patch.touches and all(t.startswith("moto.") for t in patch.touches), patch.name


def test_patches_are_skipped_on_another_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat, "moto_version", lambda: "99.0.0")
    assert compat.apply_all() == []


def test_disabled_names_parse_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(compat.DISABLE_ENV, " a, b ,,c")
    assert compat.disabled_names() == {"a", "b", "c"}

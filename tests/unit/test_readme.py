"""The README's generated tables are current: the compat patches (`perflab local patches --markdown`)
and the settings (`settings_table_markdown()`)."""

from __future__ import annotations

from pathlib import Path

from perflab.config import settings_table_markdown
from perflab.local import compat

README = Path(__file__).resolve().parents[2] / "README.md"
SETTINGS_START = "<!-- settings-table -->"
SETTINGS_END = "<!-- /settings-table -->"


def test_every_compat_patch_is_in_the_readme() -> None:
    text = README.read_text()
    missing = [p.name for p in compat.discover() if f"`{p.name}`" not in text]
    assert not missing, f"add to README (perflab local patches --markdown): {missing}"


def test_settings_table_is_current() -> None:
    text = README.read_text()
    assert text.count(SETTINGS_START) == 1, f"README needs exactly one {SETTINGS_START} marker"
    assert text.count(SETTINGS_END) == 1, f"README needs exactly one {SETTINGS_END} marker"
    start = text.index(SETTINGS_START) + len(SETTINGS_START)
    end = text.index(SETTINGS_END)
    assert start <= end, f"{SETTINGS_START} must come before {SETTINGS_END}"
    assert text[start:end].strip() == settings_table_markdown().strip(), (
        "README settings table is stale: paste the output of "
        '`python -c "from perflab.config import settings_table_markdown as t; print(t())"`'
    )

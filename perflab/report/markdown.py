"""Markdown formatting shared by the reports: numbers, tables, the 2x2 grid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def fmt(value: Any, digits: int = 1) -> str:
    """A number for a table: thousands separators, ``digits`` decimals for floats, ``—`` for none."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table (header, separator, one line per row; cells as given), then a blank line."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def grid(title: str, by_config: Mapping[str, Any], digits: int = 1) -> list[str]:
    """A 2x2 table: compute down, storage across."""
    lines = [f"**{title}**", "", "| | S3 | RDS |", "|---|---|---|"]
    for compute in ("lambda", "ecs"):
        cells = [fmt(by_config.get(f"{compute}-{storage}"), digits) for storage in ("s3", "rds")]
        lines.append(f"| {'Lambda' if compute == 'lambda' else 'ECS'} | {cells[0]} | {cells[1]} |")
    return [*lines, ""]

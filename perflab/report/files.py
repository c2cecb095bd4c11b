"""The result files a benchmark writes and reads back: ``summary.json`` and ``invocations.csv``
(``report.md`` and the plots are written by :mod:`perflab.report.build`).

``summary.json`` and ``invocations.csv`` follow the output contract in DESIGN.md; scripts rely on them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

SUMMARY_SCHEMA = "perflab.summary/1"

#: Contract columns first (DESIGN.md), then everything else a report needs.
CSV_COLUMNS: tuple[str, ...] = (
    "run_id",
    "index",
    "compute",
    "storage",
    "latency_ms",
    "bytes",
    "sha256_ok",
    "cold_start",
    "error",
    "error_message",
    "attempt",
    "ttfb_ms",
    "scheduling_delay_ms",
    "init_ms",
    "started_at",
    "finished_at",
    "dispatched_at",
    "environment_id",
    "cached",
)


def write_summary(out: Path, runs: Sequence[Mapping[str, Any]], setup: Mapping[str, Any]) -> Path:
    path = out / "summary.json"
    payload = {"schema": SUMMARY_SCHEMA, "setup": dict(setup), "runs": [dict(r) for r in runs]}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def write_invocations(out: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    path = out / "invocations.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in CSV_COLUMNS})
    return path


#: How ``load_invocations`` types each column (anything else stays a string); an empty cell is ``None``.
_INT_COLUMNS = frozenset({"index", "bytes", "attempt"})
_FLOAT_COLUMNS = frozenset(
    {
        "latency_ms",
        "ttfb_ms",
        "scheduling_delay_ms",
        "init_ms",
        "started_at",
        "finished_at",
        "dispatched_at",
    }
)
_BOOL_COLUMNS = frozenset({"sha256_ok", "cold_start", "cached"})


def load_invocations(csv_path: Path | str) -> list[dict[str, Any]]:
    """``invocations.csv`` back as typed rows: ints, floats, booleans; an empty cell becomes ``None``."""
    with Path(csv_path).open(newline="") as f:
        return [{k: _parse_cell(k, v) for k, v in row.items() if k is not None} for row in csv.DictReader(f)]


def load_summary(path: Path | str) -> dict[str, Any]:
    """``summary.json`` (a result directory or the file itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / "summary.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _parse_cell(column: str, value: str | None) -> Any:
    if value is None or value == "":
        return None
    if column in _INT_COLUMNS:
        return int(value)
    if column in _FLOAT_COLUMNS:
        return float(value)
    if column in _BOOL_COLUMNS:
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ValueError(f"{column}: not a boolean: {value!r}")
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return value

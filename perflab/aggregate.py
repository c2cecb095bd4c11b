"""The Aggregate step: read a run's invocation records, summarise them, store and return the summary.

``lambdas/aggregate`` calls :func:`run` with the state's payload
``{"request": <execution input>, "execution_started_at": "<ISO 8601>"}``; the wall time is measured
from the execution's start to now. The return value is the summary (``RunSummary.to_json()``): small,
never per-invocation data (256 KiB state limit).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from perflab.config import InvalidRequest, RunRequest, Settings, get_settings
from perflab.results import ResultsStore, RunSummary, summarize


def aggregate(results_store: ResultsStore, request: RunRequest, wall_s: float | None = None) -> RunSummary:
    """Summarise the run's records, write the summary item, return it.

    Without ``wall_s``, the wall time runs from the run item's ``started_at`` (written when the run was
    started) to now; without that either, :func:`perflab.results.summarize` uses the records' span.
    """
    records = results_store.invocations(request.run_id)
    if wall_s is None:
        run = results_store.get_run(request.run_id) or {}
        started_at = run.get("started_at")
        if isinstance(started_at, int | float) and not isinstance(started_at, bool) and started_at > 0:
            wall_s = max(0.0, time.time() - float(started_at))
    summary = summarize(request, records, wall_s)
    results_store.put_summary(summary)
    return summary


def _parse_time(value: Any) -> float | None:
    """Epoch seconds from a number or an ISO 8601 text (Step Functions' ``$$.Execution.StartTime``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            raise InvalidRequest(
                "execution_started_at", f"must be an ISO 8601 time (got {value!r})"
            ) from None
    return None


def run(
    event: Mapping[str, Any],
    settings: Settings | None = None,
    results_store: ResultsStore | None = None,
) -> dict[str, Any]:
    """The Aggregate Lambda's work: parse the payload, aggregate, return the summary JSON.

    ``event`` is ``{"request": {...}, "execution_started_at"?: ISO time | epoch s, "wall_s"?: s}`` or the
    request itself. ``results_store`` defaults to one on a DynamoDB client for ``settings.region``.
    """
    settings = settings if settings is not None else get_settings()
    raw_request = event.get("request", event)
    if not isinstance(raw_request, Mapping):
        raise InvalidRequest("request", "must be a JSON object")
    fields = dict(raw_request)
    if raw_request is event:
        for key in ("execution_started_at", "wall_s"):
            fields.pop(key, None)
    request = RunRequest.from_input(fields, settings)
    wall_s = event.get("wall_s")
    if not (isinstance(wall_s, int | float) and not isinstance(wall_s, bool)):
        started = _parse_time(event.get("execution_started_at"))
        wall_s = max(0.0, time.time() - started) if started is not None else None
    if results_store is None:
        import boto3

        client = boto3.client("dynamodb", region_name=settings.region)
        results_store = ResultsStore(client, settings.invocations_table, settings.runs_table)
    return aggregate(results_store, request, float(wall_s) if wall_s is not None else None).to_json()

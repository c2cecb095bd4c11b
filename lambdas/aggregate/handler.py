"""Aggregate function: after the Map, summarise the run's records and write the run summary.

Thin: the payload is ``{"request": <execution input>, "execution_started_at": "<ISO 8601>"}``
(see the ASL's ``Aggregate`` state); :func:`perflab.aggregate.run` reads the records, writes the
summary item and returns it, and that small summary is the execution's output.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from perflab import aggregate
from perflab.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = aggregate.run(event)
    metrics.add_metric(name="RunsAggregated", unit=MetricUnit.Count, value=1)
    logger.info(
        "run summarised",
        extra={
            "run_id": summary.get("run_id"),
            "status": summary.get("status"),
            "invocations": summary.get("invocations"),
        },
    )
    return summary

"""Download function: one invocation of the workload (a Distributed Map item).

Thin: parse the payload, call :func:`perflab.invocation.run`, return its small outcome. A failed
download is recorded first, then raised as ``DownloadFailed`` so the Map run counts the item as
failed (the state machine's own failure record for it is then a no-op: first write wins).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from perflab import invocation
from perflab.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    item = invocation.DownloadEvent.model_validate(event)
    environment_id = invocation.lambda_environment_id(context.log_stream_name, context.aws_request_id)
    outcome = invocation.run(item, environment_id)
    outcome.raise_for_failure()
    return outcome.to_json()

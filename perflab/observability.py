"""Powertools Logger, Metrics and Tracer: created once, here, and imported by every entry point.

Service ``perflab`` and metrics namespace ``perflab`` unless ``POWERTOOLS_SERVICE_NAME`` /
``POWERTOOLS_METRICS_NAMESPACE`` say otherwise. Tracing is on inside Lambda (Powertools disables it
elsewhere); the local deployer sets ``POWERTOOLS_TRACE_DISABLED=true`` because no X-Ray daemon runs
locally. Logs are JSON lines on stdout (CloudWatch Logs on AWS and on the local cloud).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "perflab"
NAMESPACE = "perflab"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

__all__ = ["NAMESPACE", "SERVICE", "logger", "metrics", "tracer"]

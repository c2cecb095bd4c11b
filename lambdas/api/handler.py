"""The ``api`` Lambda function: the trigger and results API (:mod:`perflab.api`) behind API Gateway."""

from __future__ import annotations

from typing import Any

from perflab.api import app


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)

"""What an AWS error was: the error code botocore's ``ClientError`` carries."""

from __future__ import annotations

from collections.abc import Mapping


def error_code(exc: BaseException) -> str:
    """The AWS error code of ``exc`` (``"NoSuchKey"``, ``"404"``...); ``""`` for an exception that
    carries none (a ``BotoCoreError``, anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping):
        return ""
    error = response.get("Error") or {}
    return str(error.get("Code") or "")

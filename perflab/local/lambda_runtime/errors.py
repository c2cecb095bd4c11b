"""Lambda API errors the runtime raises from inside moto's request handling (moto turns an
``HTTPException`` into the status, ``X-Amzn-ErrorType`` header and JSON body)."""

from __future__ import annotations

import json

from moto.core.exceptions import JsonRESTError


class TooManyRequestsException(JsonRESTError):  # type: ignore[misc]
    """HTTP 429, as Lambda answers an invocation beyond the function's reserved concurrency; Step
    Functions reports it as ``Lambda.TooManyRequestsException``."""

    code = 429

    def __init__(self, reason: str = "ReservedFunctionConcurrentInvocationLimitExceeded") -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")
        self.description = json.dumps({"Type": "User", "message": "Rate Exceeded.", "Reason": reason})


class ServiceException(JsonRESTError):  # type: ignore[misc]
    """HTTP 500: the local runtime could not start an environment (``Lambda.ServiceException``)."""

    code = 500

    def __init__(self, message: str) -> None:
        super().__init__("ServiceException", message)


class InvalidParameterValueException(JsonRESTError):  # type: ignore[misc]
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterValueException", message)

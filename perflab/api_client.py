"""A client of perflab's trigger and results API (:mod:`perflab.api`), over plain HTTP.

``perflab bench --api-url URL`` runs the benchmark through it against a deployed stack: API Gateway in
front of the ``api`` function on AWS (``make bench-aws``), or the local stand-in of ``perflab local
up``. Per run it POSTs the validated request to ``/health/performance/workload`` and polls
``GET /health/performance/results/{run_id}?invocations=1`` until the run's status is final; the
records it returns are the same ``InvocationResult`` fields the local path reads from DynamoDB, so the
result directory and the report are the same.

Authorization (``PERFLAB_API_AUTH``, as the API's): ``token`` sends ``Authorization: Bearer <token>`` on
POST; ``iam`` signs every request with SigV4 for ``execute-api`` (the HTTP API's IAM authorizer on AWS)
with the caller's AWS credentials (:func:`sigv4_signer`).

Requests are retried on connection errors, 429 and 5xx (backoff 1, 2, 4… s, :data:`ATTEMPTS` tries).
The POST carries ``Idempotency-Key: <run_id>``, so a retried POST that had reached the API answers as
a replay instead of starting a second execution.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from perflab.config import RunRequest
from perflab.download import InvocationResult
from perflab.routes import RESULTS_PATH, WORKLOAD_PATH
from perflab.runs import RUN_TERMINAL_STATUSES

ATTEMPTS = 5
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})

#: ``send(request, timeout_s) -> (status, body)``; raises ``OSError`` (``URLError``) when unreachable.
Transport = Callable[[urllib.request.Request, float], tuple[int, bytes]]
#: ``sign(method, url, body, headers) -> headers`` with the authorization added.
Signer = Callable[[str, str, bytes | None, Mapping[str, str]], dict[str, str]]


#: ``PERFLAB_API_AUTH`` on the client side: the bearer token, or SigV4 with AWS credentials.
CLIENT_AUTH_MODES = ("token", "iam")


def api_auth() -> str:
    """``PERFLAB_API_AUTH`` for the client (``token`` by default); raises ``ValueError`` naming the
    allowed values."""
    mode = os.environ.get("PERFLAB_API_AUTH", "token").strip().lower() or "token"
    if mode not in CLIENT_AUTH_MODES:
        raise ValueError(f"PERFLAB_API_AUTH: must be one of {', '.join(CLIENT_AUTH_MODES)} (got {mode!r})")
    return mode


def sigv4_signer(region: str) -> Signer:
    """SigV4 for API Gateway (``execute-api``) with the default AWS credential chain."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise ValueError("PERFLAB_API_AUTH=iam needs AWS credentials (profile, SSO or AWS_ACCESS_KEY_ID)")

    def sign(method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
        return dict(request.headers.items())

    return sign


class ApiCallError(Exception):
    """The API answered with an error (the status and its ``{error, field}`` body)."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url}: HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


def urllib_transport(request: urllib.request.Request, timeout_s: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())


@dataclass
class ApiClient:
    """Calls one deployed API at ``base_url`` with the bearer ``token`` POST needs."""

    base_url: str
    token: str | None
    timeout_s: float = 30.0
    #: Signs every request instead of sending the bearer token (``PERFLAB_API_AUTH=iam``).
    signer: Signer | None = None
    transport: Transport = urllib_transport
    sleep: Callable[[float], None] = time.sleep

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None, **headers: str) -> Any:
        url = self.base_url.rstrip("/") + path
        data = None if body is None else json.dumps(body).encode()
        all_headers = {"Accept": "application/json", **headers}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
            if self.signer is None:
                all_headers["Authorization"] = f"Bearer {self.token}"
        for attempt in range(1, ATTEMPTS + 1):
            if self.signer is not None:  # signed per attempt: a signature's date must be current
                all_headers = self.signer(method, url, data, all_headers)
            request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
            try:
                status, payload = self.transport(request, self.timeout_s)
            except OSError:
                if attempt == ATTEMPTS:
                    raise
                self.sleep(2.0 ** (attempt - 1))
                continue
            if status in RETRIED_STATUSES and attempt < ATTEMPTS:
                self.sleep(2.0 ** (attempt - 1))
                continue
            if not 200 <= status < 300:
                raise ApiCallError(method, url, status, payload.decode(errors="replace"))
            return json.loads(payload) if payload else {}
        raise AssertionError("unreachable")  # pragma: no cover

    def start(self, request: RunRequest) -> dict[str, Any]:
        """Start the run; ``{run_id, execution_arn, status_url}`` (202, or 200 when replayed)."""
        answer = self._call("POST", WORKLOAD_PATH, request.to_input(), **{"Idempotency-Key": request.run_id})
        return dict(answer)

    def results(self, run_id: str, invocations: bool = True) -> dict[str, Any]:
        """``{run_id, status, summary}`` and, with ``invocations``, every record so far."""
        flag = "1" if invocations else "0"
        return dict(self._call("GET", f"{RESULTS_PATH}/{run_id}?invocations={flag}"))


def to_result(record: Mapping[str, Any]) -> InvocationResult:
    """An API record (``InvocationResult`` fields as JSON) back as the dataclass; extra keys ignored."""
    names = {f.name for f in dataclasses.fields(InvocationResult)}
    return InvocationResult(**{key: value for key, value in record.items() if key in names})


def follow_run(
    client: ApiClient,
    request: RunRequest,
    on_progress: Callable[[int, int, float], None] | None = None,
    poll_s: float = 2.0,
    timeout_s: float = 3600.0,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[dict[str, Any], list[InvocationResult]]:
    """Poll the run until its status is final; return (summary, records).

    Without a stored summary (the execution failed before Aggregate, or ``timeout_s`` passed), the
    summary is computed from the records, as :func:`perflab.runs.wait_for_run` does.
    """
    from perflab.runs import fallback_summary

    started = clock()
    while True:
        body = client.results(request.run_id, invocations=True)
        records = [to_result(r) for r in body.get("invocations") or []]
        status = str(body.get("status", ""))
        if on_progress is not None:
            on_progress(len(records), request.invocations, clock() - started)
        if status in RUN_TERMINAL_STATUSES:
            break
        if clock() - started > timeout_s:
            status = "CLIENT_TIMEOUT"
            break
        client.sleep(poll_s)
    summary = body.get("summary")
    if isinstance(summary, dict) and summary and status != "CLIENT_TIMEOUT":
        return summary, records
    error = f"no final status after {timeout_s:g} s" if status == "CLIENT_TIMEOUT" else None
    return fallback_summary(request, records, None, status, error), records

"""The trigger and results API: one Powertools ``APIGatewayHttpResolver`` app.

Runs as the ``api`` Lambda function (``lambdas/api``) behind API Gateway (HTTP API, payload format
2.0) on AWS and behind the local API-Gateway stand-in (:mod:`perflab.local.apigateway`) locally.

Routes:

- ``POST /health/performance/workload``: validate the run request (:meth:`RunRequest.from_input`),
  write the run item, start the state machine execution named after the run id → 202
  ``{run_id, execution_arn, status_url}``.
- ``GET /health/performance/results/{run_id}`` → ``{run_id, status, summary}`` (and the per-invocation
  records with ``?invocations=1``).
- ``GET /health/performance/runs[?limit=N]`` → ``{runs: [...]}``.
- ``GET /health/performance/runs/{run_id}/progress[?graph=1]`` → the execution's live progress
  (:func:`perflab.dashboard.progress.execution_progress`: status, states with durations, current states,
  Map run item counts), the run's configuration, and with ``graph=1`` the state machine graph as SVG.
- ``GET /`` → the dashboard (:mod:`perflab.dashboard`): one self-contained HTML page using the routes above.

Who may POST (``PERFLAB_API_AUTH``): ``token`` (the default, and locally) wants ``Authorization: Bearer
<PERFLAB_API_TOKEN>``. ``iam`` and ``jwt`` are for AWS, where the HTTP API's authorizer guards POST
and owns the ``Authorization`` header: a request is accepted only when API Gateway's request context
carries that authorizer's verdict (``requestContext.authorizer.iam`` / ``.jwt``); any other is refused.

Checks on POST, in this order, each answered before anything is written or started:
401 not authorized (token mode: constant-time comparison, and no token configured refuses every POST),
413 body over 64 KiB, 415 content type other than ``application/json``, 400 ``{error, field}`` for
malformed JSON (field ``body``) or an invalid request (the field and what is allowed), 400 for a
model or version the registry does not hold (:mod:`perflab.catalog`: the ``metadata.json`` objects
``perflab seed`` writes to S3), 409 for a ``run_id`` that already exists.

Idempotency: with an ``Idempotency-Key`` header and no ``run_id`` in the body, the run id is derived
from the key (``run-idem-<sha256 prefix>``), so a repeated request names the same run. When that run
(or an explicit ``run_id`` sent with a key) already exists with the same request, the answer is 200 with
the existing run and header ``Idempotent-Replayed: true``; nothing new starts. The same key with a
different request is 409 (field ``Idempotency-Key``). A race between two identical requests is settled
by Step Functions itself: the execution name is the run id, so the loser's ``StartExecution`` fails with
``ExecutionAlreadyExists`` and it answers as a replay.

Dependencies (settings, the Step Functions client, the results store, the state machine ARN) are
created lazily on first use and injectable through :func:`create_app`; nothing reads the environment or
creates a client at import time.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from perflab.aws_errors import error_code
from perflab.catalog import Catalog, CatalogUnavailable
from perflab.config import InvalidRequest, RunRequest, Settings, get_settings
from perflab.routes import RESULTS_PATH, RUNS_PATH, WORKLOAD_PATH
from perflab.runs import RUN_TERMINAL_STATUSES

MAX_BODY_BYTES = 64 * 1024
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255
#: The dashboard loads nothing from elsewhere: inline script and style, requests to its own origin only.
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: ``PERFLAB_API_AUTH`` values: our bearer token, or API Gateway's IAM or JWT authorizer (on AWS).
AUTH_MODES = ("token", "iam", "jwt")
RUNS_DEFAULT_LIMIT = 20
RUNS_MAX_LIMIT = 100
#: Request fields compared to decide whether a repeated idempotency key carries the same request.
COMPARED_FIELDS = ("compute", "storage", "invocations", "model_id", "version", "artifact_bytes", "label")


class ApiSettings(BaseSettings):
    """What the API function needs beyond :class:`perflab.config.Settings`: set by the deployer."""

    model_config = SettingsConfigDict(env_prefix="PERFLAB_")

    state_machine_arn: str


class RunStore(Protocol):
    """The part of :class:`perflab.results.ResultsStore` the API uses."""

    def put_run(
        self,
        run_id: str,
        request: RunRequest,
        status: str = ...,
        started_at: float | None = None,
        execution_arn: str | None = None,
    ) -> None: ...

    def set_status(self, run_id: str, status: str, error: str | None = None) -> None: ...

    def get_run(self, run_id: str) -> dict[str, Any] | None: ...

    def list_runs(self, limit: int) -> list[dict[str, Any]]: ...

    def invocations(self, run_id: str) -> list[Any]: ...


def auth_mode() -> str:
    """``PERFLAB_API_AUTH``: ``token`` (default), ``iam`` or ``jwt`` (module docstring)."""
    mode = os.environ.get("PERFLAB_API_AUTH", "token").strip().lower() or "token"
    if mode not in AUTH_MODES:
        raise ApiError(500, f"PERFLAB_API_AUTH must be one of {', '.join(AUTH_MODES)} (got {mode!r})")
    return mode


@dataclass
class Dependencies:
    """Factories the app calls on first use (tests inject fakes)."""

    settings: Callable[[], Settings]
    stepfunctions: Callable[[], Any]
    results: Callable[[], RunStore]
    state_machine_arn: Callable[[], str]
    auth_mode: Callable[[], str] = auth_mode
    #: The model registry a request is checked against (None: not checked, e.g. tests of other routes).
    catalog: Callable[[], Catalog] | None = None


class ApiError(Exception):
    """An answer other than success: status code, message and (for 4xx about input) the field."""

    def __init__(self, status: int, error: str, field: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.field = field


@functools.cache
def _api_settings() -> ApiSettings:
    try:
        return ApiSettings()  # type: ignore[call-arg]  # read from the environment
    except ValidationError:
        raise ApiError(500, "PERFLAB_STATE_MACHINE_ARN is not set: the deployer sets it") from None


@functools.cache
def _stepfunctions_client() -> Any:
    import boto3

    return boto3.client("stepfunctions", region_name=get_settings().region)


@functools.cache
def _results_store() -> RunStore:
    import boto3

    from perflab.results import ResultsStore

    settings = get_settings()
    client = boto3.client("dynamodb", region_name=settings.region)
    return ResultsStore(client, settings.invocations_table, settings.runs_table)


@functools.cache
def _catalog() -> Catalog:
    import boto3

    from perflab.catalog import S3Catalog

    settings = get_settings()
    return S3Catalog(boto3.client("s3", region_name=settings.region), settings.bucket)


def default_dependencies() -> Dependencies:
    return Dependencies(
        settings=get_settings,
        stepfunctions=_stepfunctions_client,
        results=_results_store,
        state_machine_arn=lambda: _api_settings().state_machine_arn,
        catalog=_catalog,
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=_json_default)


def _json(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=dict(body), headers=headers)


def execution_arn_for(state_machine_arn: str, name: str) -> str:
    """``arn:…:stateMachine:<sm>`` + execution name → ``arn:…:execution:<sm>:<name>``."""
    prefix, sep, machine = state_machine_arn.rpartition(":stateMachine:")
    if not sep:
        raise ApiError(500, f"not a state machine ARN: {state_machine_arn}")
    return f"{prefix}:execution:{machine}:{name}"


def idempotent_run_id(key: str) -> str:
    return "run-idem-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _stored_request(item: Mapping[str, Any]) -> Mapping[str, Any]:
    nested = item.get("request")
    if isinstance(nested, Mapping):
        return nested
    if isinstance(nested, str):
        try:
            parsed = json.loads(nested)
        except ValueError:
            return item
        if isinstance(parsed, Mapping):
            return parsed
    return item


def _same_request(item: Mapping[str, Any], request: RunRequest) -> bool:
    """Whether a stored run was made from the same request (the fields the store kept)."""
    stored = _stored_request(item)
    wanted = request.model_dump(mode="json")
    for name in COMPARED_FIELDS:
        if name in stored and name in wanted:
            value = stored[name]
            if isinstance(value, Decimal):
                value = _json_default(value)
            if value != wanted[name]:
                return False
    return True


def create_app(deps: Dependencies | None = None) -> APIGatewayHttpResolver:
    """The resolver with its routes; ``deps`` defaults to lazily created AWS clients."""
    deps = deps or default_dependencies()
    app = APIGatewayHttpResolver(serializer=_dumps)

    def base_url() -> str:
        event = app.current_event
        host = event.headers.get("host") or event.request_context.domain_name
        proto = event.headers.get("x-forwarded-proto", "https")
        return f"{proto}://{host}" if host else ""

    def status_url(run_id: str) -> str:
        return f"{base_url()}{RESULTS_PATH}/{run_id}"

    def require_token() -> None:
        mode = deps.auth_mode()
        if mode != "token":
            context = app.current_event.raw_event.get("requestContext") or {}
            if not (context.get("authorizer") or {}).get(mode):
                raise ApiError(
                    401, f"this API expects API Gateway's {mode.upper()} authorizer on POST", "authorization"
                )
            return
        configured = deps.settings().api_token
        header = app.current_event.headers.get("authorization") or ""
        scheme, _, presented = header.partition(" ")
        if configured is None:
            raise ApiError(401, "the API has no token configured (PERFLAB_API_TOKEN); POST is refused")
        expected = configured.get_secret_value().encode()
        ok = scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), expected)
        if not ok:
            raise ApiError(401, "missing or wrong bearer token", "authorization")

    def raw_body() -> bytes:
        event = app.current_event
        body = event.body or ""
        if event.is_base64_encoded:
            try:
                return base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                raise ApiError(400, "the body is not valid base64", "body") from None
        return body.encode()

    def parse_body() -> dict[str, Any]:
        data = raw_body()
        if len(data) > MAX_BODY_BYTES:
            raise ApiError(
                413, f"the body is {len(data)} bytes; at most {MAX_BODY_BYTES} are allowed", "body"
            )
        content_type = app.current_event.headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            got = f"got {content_type!r}" if content_type else "none given"
            raise ApiError(415, f"Content-Type must be application/json ({got})", "content-type")
        try:
            parsed = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, f"the body is not valid JSON: {exc}", "body") from None
        if not isinstance(parsed, dict):
            raise ApiError(400, "the body must be a JSON object", "body")
        return parsed

    def idempotency_key() -> str | None:
        key = app.current_event.headers.get(IDEMPOTENCY_HEADER.lower())
        if key is None:
            return None
        if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable():
            raise ApiError(
                400,
                f"{IDEMPOTENCY_HEADER} must be 1-{MAX_IDEMPOTENCY_KEY} printable characters",
                IDEMPOTENCY_HEADER,
            )
        return key

    def replay(item: Mapping[str, Any], run_id: str, machine_arn: str) -> Response[Any]:
        body = {
            "run_id": run_id,
            "execution_arn": item.get("execution_arn") or execution_arn_for(machine_arn, run_id),
            "status_url": status_url(run_id),
            "status": item.get("status"),
        }
        return _json(200, body, {"Idempotent-Replayed": "true"})

    def conflict(run_id: str, key: str | None) -> ApiError:
        if key is not None:
            return ApiError(
                409,
                f"{IDEMPOTENCY_HEADER} was already used for run {run_id} with a different request",
                IDEMPOTENCY_HEADER,
            )
        return ApiError(409, f"run {run_id} already exists: choose another run_id", "run_id")

    @app.post(WORKLOAD_PATH)
    def start_workload() -> Response[Any]:
        require_token()
        data = parse_body()
        key = idempotency_key()
        if key is not None and "run_id" not in data:
            data["run_id"] = idempotent_run_id(key)
        settings = deps.settings()
        request = RunRequest.from_input(data, settings)
        if deps.catalog is not None:
            try:
                deps.catalog().check(request.model_id, request.version)
            except CatalogUnavailable as exc:
                raise ApiError(502, str(exc)) from None
        run_id = request.run_id
        machine_arn = deps.state_machine_arn()
        store = deps.results()
        existing = store.get_run(run_id)
        if existing is not None:
            if key is not None and _same_request(existing, request):
                return replay(existing, run_id, machine_arn)
            raise conflict(run_id, key)
        execution_arn = execution_arn_for(machine_arn, run_id)
        store.put_run(run_id, request, "RUNNING", time.time(), execution_arn)
        sfn = deps.stepfunctions()
        try:
            started = sfn.start_execution(
                stateMachineArn=machine_arn, name=run_id, input=json.dumps(request.to_input())
            )
        except (ClientError, BotoCoreError) as exc:
            code = error_code(exc)
            if code == "ExecutionAlreadyExists":
                # A concurrent identical request won the race for this run id.
                if key is not None:
                    return replay({"status": "RUNNING"}, run_id, machine_arn)
                raise conflict(run_id, key) from None
            reason = f"could not start the execution: {code or type(exc).__name__}"
            store.set_status(run_id, "FAILED", reason)
            raise ApiError(502, reason) from None
        body = {
            "run_id": run_id,
            "execution_arn": started["executionArn"],
            "status_url": status_url(run_id),
        }
        return _json(202, body, {"Location": status_url(run_id)})

    @app.get(f"{RESULTS_PATH}/<run_id>")
    def get_results(run_id: str) -> Response[Any]:
        item = deps.results().get_run(run_id)
        if item is None:
            raise ApiError(404, f"no run {run_id}", "run_id")
        status = str(item.get("status", "UNKNOWN"))
        if status not in RUN_TERMINAL_STATUSES:
            status = _execution_status(deps, run_id) or status
        body: dict[str, Any] = {"run_id": run_id, "status": status, "summary": item.get("summary")}
        flag = app.current_event.get_query_string_value("invocations", "0") or "0"
        if flag.lower() not in ("0", "1", "true", "false"):
            raise ApiError(400, "invocations must be 0, 1, true or false", "invocations")
        if flag.lower() in ("1", "true"):
            records = deps.results().invocations(run_id)
            body["invocations"] = [_record(r) for r in records]
        return _json(200, body)

    @app.get(f"{RUNS_PATH}/<run_id>/progress")
    def get_progress(run_id: str) -> Response[Any]:
        from perflab.dashboard.progress import execution_progress

        item = deps.results().get_run(run_id)
        if item is None:
            raise ApiError(404, f"no run {run_id}", "run_id")
        flag = (app.current_event.get_query_string_value("graph", "0") or "0").lower()
        if flag not in ("0", "1", "true", "false"):
            raise ApiError(400, "graph must be 0, 1, true or false", "graph")
        machine_arn = deps.state_machine_arn()
        execution_arn = str(item.get("execution_arn") or execution_arn_for(machine_arn, run_id))
        sfn = deps.stepfunctions()
        try:
            body = execution_progress(sfn, execution_arn)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) != "ExecutionDoesNotExist":
                raise ApiError(502, f"could not read the execution: {error_code(exc) or exc}") from None
            body = {"execution_arn": execution_arn, "status": item.get("status"), "states": [], "current": []}
        body["run_id"] = run_id
        body["run"] = {
            k: item.get(k) for k in ("compute", "storage", "invocations_requested", "label", "status")
        }
        if flag in ("1", "true"):
            from perflab.dashboard.graph import render_svg

            definition = sfn.describe_state_machine(stateMachineArn=machine_arn)["definition"]
            body["graph_svg"] = render_svg(json.loads(definition))
        return _json(200, body, {"Cache-Control": "no-store"})

    @app.get("/")
    def dashboard() -> Response[Any]:
        from perflab.dashboard.page import dashboard_html

        return Response(
            status_code=200,
            content_type="text/html; charset=utf-8",
            body=dashboard_html(),
            headers={"Cache-Control": "no-store", "Content-Security-Policy": DASHBOARD_CSP},
        )

    @app.get(RUNS_PATH)
    def list_runs() -> Response[Any]:
        text = app.current_event.get_query_string_value("limit", str(RUNS_DEFAULT_LIMIT))
        try:
            limit = int(text or "")
        except ValueError:
            limit = 0
        if not 1 <= limit <= RUNS_MAX_LIMIT:
            raise ApiError(400, f"limit must be an integer 1-{RUNS_MAX_LIMIT}, got {text!r}", "limit")
        return _json(200, {"runs": deps.results().list_runs(limit)})

    def on_api_error(exc: ApiError) -> Response[Any]:
        body: dict[str, Any] = {"error": exc.error}
        if exc.field is not None:
            body["field"] = exc.field
        headers = {"WWW-Authenticate": 'Bearer realm="perflab"'} if exc.status == 401 else None
        return _json(exc.status, body, headers)

    def on_invalid_request(exc: InvalidRequest) -> Response[Any]:
        return _json(400, {"error": exc.message, "field": exc.field})

    def on_not_found(_exc: Exception) -> Response[Any]:
        event = app.current_event
        return _json(404, {"error": f"no route {event.http_method} {event.path}"})

    # Registered by call: Powertools' decorators are untyped.
    app.exception_handler(ApiError)(on_api_error)
    app.exception_handler(InvalidRequest)(on_invalid_request)
    app.not_found(on_not_found)

    return app


def _execution_status(deps: Dependencies, run_id: str) -> str | None:
    """The execution's status when it has ended (a run item may lag behind a failed execution)."""
    try:
        arn = execution_arn_for(deps.state_machine_arn(), run_id)
        described = deps.stepfunctions().describe_execution(executionArn=arn)
    except (ClientError, BotoCoreError):  # the stored status stands when it cannot be described
        return None
    status = str(described.get("status", ""))
    return status if status in RUN_TERMINAL_STATUSES - {"SUCCEEDED"} else None


def _record(record: Any) -> Any:
    to_item = getattr(record, "to_json", None)
    if callable(to_item):
        return to_item()
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return dataclasses.asdict(record)
    return record


#: The app the ``api`` Lambda function serves (dependencies created on first request).
app = create_app()

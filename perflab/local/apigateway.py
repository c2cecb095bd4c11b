"""A local stand-in for API Gateway HTTP APIs: HTTP in, payload-format-2.0 Lambda proxy events out.

It serves the HTTP APIs defined in the endpoint's ``apigatewayv2`` control plane (moto): the API, its
routes and their ``AWS_PROXY`` Lambda integrations, i.e. the resources an ``aws_apigatewayv2_*``
Terraform module creates. Every request reads the current definitions through the public API
(``GetApis``/``GetRoutes``/``GetIntegration``), so an API created or changed a moment ago is served at
once. The integration's function is invoked through the endpoint's ``lambda:Invoke`` (the local Lambda
runtime), exactly as API Gateway invokes it.

Behaviour, following API Gateway HTTP APIs:

- **Which API:** a ``Host`` of ``<api-id>.<anything>`` (as in ``<api-id>.execute-api.<region>...``)
  selects that API. Any other host searches every HTTP API: the most specific matching route wins,
  and between equally specific routes of different APIs the newest API wins. Only the ``$default``
  stage is served (no stage prefix in paths).
- **Route selection:** an exact ``METHOD /path`` beats ``ANY``; literal segments beat ``{param}``;
  ``{proxy+}`` (greedy, one or more segments) comes after them; the ``$default`` route last. No match
  → 404 ``{"message":"Not Found"}``.
- **Event (2.0):** ``version``, ``routeKey``, ``rawPath``, ``rawQueryString``, ``cookies``, ``headers``
  (lower-cased, repeated headers joined by commas, ``cookie`` moved to ``cookies``, ``x-forwarded-*``
  added), ``queryStringParameters`` (repeated keys joined by commas), ``pathParameters``,
  ``requestContext`` (``accountId``, ``apiId``, ``domainName``, ``domainPrefix``,
  ``http{method,path,protocol,sourceIp,userAgent}``, ``requestId``, ``routeKey``, ``stage`` ``$default``,
  ``time``, ``timeEpoch``), ``body`` (base64 with ``isBase64Encoded`` unless textual UTF-8).
- **Response (2.0):** a dict with ``statusCode`` is mapped (``headers``, ``multiValueHeaders``,
  ``cookies`` → ``Set-Cookie``, ``body``, ``isBase64Encoded``); any other JSON value is a 200
  ``application/json`` body. A function error or an unusable response → 502
  ``{"message":"Internal Server Error"}``; the invoke itself failing (no such function, throttled) → 500;
  the integration's timeout (``TimeoutInMillis``, at most 30 s) → 503. Payload format 1.0 is not
  supported (500, logged).
- Requests above API Gateway's 10 MB payload limit → 413.

Generic local AWS: no perflab domain imports.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from perflab.local.context import DEFAULT_ACCOUNT_ID, StackContext

LOG = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
MAX_INTEGRATION_TIMEOUT_S = 30.0
INVOKE_WORKERS = 64
_LAMBDA_ARN = re.compile(r"arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:[\w-]+(?::[\w$-]+)?")
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|.*\+json|xml|.*\+xml|javascript|x-www-form-urlencoded|graphql))$"
)
_NOT_FOUND = {"message": "Not Found"}
_INTERNAL = {"message": "Internal Server Error"}
_UNAVAILABLE = {"message": "Service Unavailable"}
# Hop-by-hop / framing headers aiohttp sets itself.
_SKIP_RESPONSE_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


@dataclass(frozen=True)
class Route:
    """One compiled route of one API."""

    api_id: str
    api_created: float
    route_key: str
    target: str | None
    method: str  # "ANY" for any method and for $default
    segments: tuple[str, ...]  # literal, "{name}" or "{name+}"

    @classmethod
    def parse(cls, api_id: str, api_created: float, route_key: str, target: str | None) -> Route:
        if route_key == "$default":
            return cls(api_id, api_created, route_key, target, "ANY", ())
        method, _, path = route_key.partition(" ")
        segments = tuple(s for s in path.split("/") if s)
        return cls(api_id, api_created, route_key, target, method.upper(), segments)

    @property
    def is_default(self) -> bool:
        return self.route_key == "$default"

    @property
    def greedy(self) -> bool:
        return bool(self.segments) and self.segments[-1].endswith("+}")

    def specificity(self) -> tuple[int, int, int, int, float]:
        literal = sum(1 for s in self.segments if not s.startswith("{"))
        return (
            0 if self.is_default else 1,
            0 if self.greedy else 1,
            literal,
            1 if self.method != "ANY" else 0,
            self.api_created,
        )

    def match(self, method: str, path_segments: list[str]) -> dict[str, str] | None:
        """Path parameters when this route takes the request, else None."""
        if self.method != "ANY" and self.method != method:
            return None
        if self.is_default:
            return {}
        params: dict[str, str] = {}
        for i, segment in enumerate(self.segments):
            if segment.startswith("{") and segment.endswith("+}"):
                rest = path_segments[i:]
                if not rest:
                    return None
                params[segment[1:-2]] = "/".join(rest)
                return params
            if i >= len(path_segments):
                return None
            if segment.startswith("{") and segment.endswith("}"):
                params[segment[1:-1]] = path_segments[i]
            elif segment != path_segments[i]:
                return None
        return params if len(path_segments) == len(self.segments) else None


def function_from_integration_uri(uri: str) -> str:
    """A Lambda function ARN from an integration URI: the ARN itself or API Gateway's
    ``arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<arn>/invocations`` form."""
    found = _LAMBDA_ARN.search(uri)
    return found.group(0) if found else uri


class ApiGateway:
    """The stand-in: an aiohttp server in its own thread and event loop. Port 0 picks a free port."""

    def __init__(
        self,
        ctx: StackContext,
        host: str = "127.0.0.1",
        port: int = 0,
        account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> None:
        self.ctx = ctx
        self.host = host
        self.port = port
        self.account_id = account_id
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> str:
        self._pool = concurrent.futures.ThreadPoolExecutor(INVOKE_WORKERS, thread_name_prefix="apigw-invoke")
        self._loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="perflab-apigateway", daemon=True
        )
        self._thread.start()
        try:
            ready.result(timeout=30)
        except BaseException:
            self.stop()
            raise
        LOG.info("API Gateway stand-in listening on %s", self.url)
        return self.url

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(None)
        self._loop.run_forever()

    async def _serve(self) -> None:
        app = web.Application(client_max_size=MAX_PAYLOAD_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            if self._runner is not None:
                runner = self._runner
                future = asyncio.run_coroutine_threadsafe(runner.cleanup(), loop)
                try:
                    future.result(timeout=10)
                except Exception:
                    LOG.exception("stopping the API Gateway stand-in")
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        if loop is not None and not loop.is_running():
            loop.close()
        self._loop = self._thread = self._runner = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # --- control plane --------------------------------------------------------------------------

    def _client(self, service: str) -> Any:
        with self._clients_lock:
            if service not in self._clients:
                import boto3
                from botocore.config import Config

                env = self.ctx.worker_env()
                self._clients[service] = boto3.session.Session().client(
                    service,
                    endpoint_url=self.ctx.endpoint_url,
                    region_name=self.ctx.region,
                    aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                    config=Config(
                        # One attempt: a retried Invoke would run the function twice.
                        retries={"total_max_attempts": 1},
                        read_timeout=MAX_INTEGRATION_TIMEOUT_S + 5,
                        max_pool_connections=INVOKE_WORKERS,
                    ),
                )
            return self._clients[service]

    def _routes(self, host: str) -> list[Route]:
        apigw = self._client("apigatewayv2")
        apis: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = apigw.get_apis(**({"NextToken": token} if token else {}))
            apis.extend(a for a in page.get("Items", []) if a.get("ProtocolType") == "HTTP")
            token = page.get("NextToken")
            if not token:
                break
        prefix = host.split(".", 1)[0] if "." in host else None
        chosen = [a for a in apis if a["ApiId"] == prefix] or apis
        routes: list[Route] = []
        for api in chosen:
            created = api.get("CreatedDate")
            stamp = created.timestamp() if isinstance(created, datetime) else 0.0
            for item in apigw.get_routes(ApiId=api["ApiId"]).get("Items", []):
                routes.append(Route.parse(api["ApiId"], stamp, item["RouteKey"], item.get("Target")))
        return routes

    def _select(self, host: str, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        segments = [s for s in path.split("/") if s]
        best: tuple[Route, dict[str, str]] | None = None
        for route in self._routes(host):
            params = route.match(method, segments)
            if params is not None and (best is None or route.specificity() > best[0].specificity()):
                best = (route, params)
        return best

    def _integration(self, route: Route) -> dict[str, Any] | None:
        if not route.target or not route.target.startswith("integrations/"):
            return None
        integration_id = route.target.split("/", 1)[1]
        found: dict[str, Any] = self._client("apigatewayv2").get_integration(
            ApiId=route.api_id, IntegrationId=integration_id
        )
        return found

    def _invoke(self, function: str, event: Mapping[str, Any]) -> dict[str, Any]:
        response = self._client("lambda").invoke(FunctionName=function, Payload=json.dumps(event).encode())
        return {"FunctionError": response.get("FunctionError"), "Payload": response["Payload"].read()}

    # --- data plane -----------------------------------------------------------------------------

    async def _blocking(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn, *args)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        request_id = base64.b64encode(secrets.token_bytes(12)).decode().rstrip("=")
        headers = {"apigw-requestid": request_id}
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"message": "Request Entity Too Large"}, status=413, headers=headers)
        host = request.headers.get("Host", f"{self.host}:{self.port}")
        selected = await self._blocking(self._select, host, request.method, request.path)
        if selected is None:
            return web.json_response(_NOT_FOUND, status=404, headers=headers)
        route, params = selected
        integration = await self._blocking(self._integration, route)
        if integration is None or integration.get("IntegrationType") != "AWS_PROXY":
            LOG.warning("route %s of API %s has no AWS_PROXY integration", route.route_key, route.api_id)
            return web.json_response(_INTERNAL, status=500, headers=headers)
        if integration.get("PayloadFormatVersion", "2.0") != "2.0":
            LOG.warning("API %s: only payload format 2.0 is supported locally", route.api_id)
            return web.json_response(_INTERNAL, status=500, headers=headers)
        event = build_event(request, body, route, params, request_id, self.account_id, host)
        function = function_from_integration_uri(str(integration.get("IntegrationUri", "")))
        timeout_s = min(float(integration.get("TimeoutInMillis", 30_000)) / 1000, MAX_INTEGRATION_TIMEOUT_S)
        try:
            result = await asyncio.wait_for(self._blocking(self._invoke, function, event), timeout_s)
        except TimeoutError:
            return web.json_response(_UNAVAILABLE, status=503, headers=headers)
        except Exception as exc:
            LOG.warning("invoking %s for %s failed: %s", function, route.route_key, exc)
            return web.json_response(_INTERNAL, status=500, headers=headers)
        if result["FunctionError"]:
            LOG.info("function %s failed (%s)", function, result["FunctionError"])
            return web.json_response(_INTERNAL, status=502, headers=headers)
        try:
            return build_response(result["Payload"], headers)
        except ValueError as exc:
            LOG.warning("function %s returned an unusable response: %s", function, exc)
            return web.json_response(_INTERNAL, status=502, headers=headers)


def _join(pairs: list[tuple[str, str]], lower: bool) -> dict[str, str]:
    joined: dict[str, str] = {}
    for key, value in pairs:
        name = key.lower() if lower else key
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _is_text(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "" or bool(_TEXT_TYPES.match(media))


def build_event(
    request: web.Request,
    body: bytes,
    route: Route,
    path_parameters: Mapping[str, str],
    request_id: str,
    account_id: str,
    host: str,
) -> dict[str, Any]:
    """The HTTP API payload-format-2.0 event for ``request``."""
    now = time.time()
    peer = request.remote or ""
    header_pairs = [(k, v) for k, v in request.headers.items() if k.lower() != "cookie"]
    headers = _join(header_pairs, lower=True)
    headers.setdefault("x-forwarded-for", peer)
    headers.setdefault("x-forwarded-proto", request.scheme)
    headers.setdefault("x-forwarded-port", host.rsplit(":", 1)[1] if ":" in host else "80")
    cookies = [
        c.strip() for value in request.headers.getall("Cookie", []) for c in value.split(";") if c.strip()
    ]
    raw_path, _, raw_query = request.raw_path.partition("?")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": account_id,
            "apiId": route.api_id,
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                "sourceIp": peer,
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    query = parse_qsl(raw_query, keep_blank_values=True)
    if query:
        event["queryStringParameters"] = _join(query, lower=False)
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        text: str | None = None
        if _is_text(request.headers.get("Content-Type", "")):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is None:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


def build_response(payload: bytes, base_headers: Mapping[str, str]) -> web.Response:
    """Map a 2.0 Lambda proxy response (or any JSON value) to an HTTP response; ValueError if unusable."""
    try:
        value = json.loads(payload) if payload else None
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not (isinstance(value, dict) and "statusCode" in value):
        # No statusCode: API Gateway answers 200 with the function's JSON output as the body.
        return web.Response(
            status=200, body=payload, content_type="application/json", headers=dict(base_headers)
        )
    status = value["statusCode"]
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ValueError(f"statusCode {status!r} is not an HTTP status")
    response = web.Response(status=status)
    for key, header in base_headers.items():
        response.headers[key] = header
    for key, values in (value.get("multiValueHeaders") or {}).items():
        if key.lower() not in _SKIP_RESPONSE_HEADERS:
            for item in values if isinstance(values, list) else [values]:
                response.headers.add(key, str(item))
    for key, header in (value.get("headers") or {}).items():
        if key.lower() not in _SKIP_RESPONSE_HEADERS:
            response.headers[key] = str(header)
    for cookie in value.get("cookies") or []:
        response.headers.add("Set-Cookie", str(cookie))
    raw = value.get("body")
    if raw is None:
        data = b""
    elif value.get("isBase64Encoded"):
        try:
            data = base64.b64decode(str(raw), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"isBase64Encoded body is not base64: {exc}") from None
    else:
        data = raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()
    response.body = data
    if "Content-Type" not in response.headers and data:
        response.headers["Content-Type"] = "text/plain; charset=utf-8"
    return response

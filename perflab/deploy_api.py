"""Deploy the trigger and results API: the HTTP API, its Lambda integration and routes, and its token.

:func:`deploy_api` creates what Terraform's ``api`` module creates (an ``apigatewayv2`` HTTP API with a
``$default`` auto-deploy stage, one ``AWS_PROXY`` payload-2.0 integration of the ``api`` function, the
routes in :data:`ROUTE_KEYS` (trigger, results, runs, progress, the dashboard page), and the permission
for API Gateway to invoke the function), idempotently: a second call
finds and reuses (or corrects) each piece. Locally the API Gateway stand-in serves the result.

:func:`resolve_api_token` decides the bearer token POST requires: ``PERFLAB_API_TOKEN`` (settings)
when set, else the token stored for the local stack in ``<state_dir>/api-token`` (mode 0600), else a
new random one stored there. The deployer puts it into the ``api`` function's environment as
``PERFLAB_API_TOKEN``; ``perflab local up`` prints it as ``export PERFLAB_API_TOKEN=…``. Never log it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perflab.config import Settings
from perflab.routes import ROUTE_KEYS

LOG = logging.getLogger(__name__)

API_NAME = "perflab-api"
STAGE = "$default"
INTEGRATION_TIMEOUT_MS = 30_000
PERMISSION_SID = "perflab-apigateway-invoke"
TOKEN_FILE = "api-token"

ClientFactory = Callable[[str], Any]


def deploy_api(clients: ClientFactory, settings: Settings, function_arn: str, name: str = API_NAME) -> str:
    """Create or update the HTTP API ``name`` in front of ``function_arn``; return the API id."""
    apigw = clients("apigatewayv2")
    api_id = _find_or_create_api(apigw, name)
    integration_id = _find_or_create_integration(apigw, api_id, function_arn)
    target = f"integrations/{integration_id}"
    routes = {r["RouteKey"]: r for r in apigw.get_routes(ApiId=api_id).get("Items", [])}
    for key in ROUTE_KEYS:
        existing = routes.get(key)
        if existing is None:
            apigw.create_route(ApiId=api_id, RouteKey=key, Target=target)
        elif existing.get("Target") != target:
            apigw.update_route(ApiId=api_id, RouteId=existing["RouteId"], Target=target)
    stages = {s["StageName"] for s in apigw.get_stages(ApiId=api_id).get("Items", [])}
    if STAGE not in stages:
        apigw.create_stage(ApiId=api_id, StageName=STAGE, AutoDeploy=True)
    _allow_invoke(clients("lambda"), settings, function_arn, api_id)
    LOG.info("API %s (%s) routes %s → %s", name, api_id, ", ".join(ROUTE_KEYS), function_arn)
    return api_id


def _find_or_create_api(apigw: Any, name: str) -> str:
    for api in apigw.get_apis().get("Items", []):
        if api.get("Name") == name and api.get("ProtocolType") == "HTTP":
            return str(api["ApiId"])
    created = apigw.create_api(Name=name, ProtocolType="HTTP", Description="perflab trigger and results")
    return str(created["ApiId"])


def _find_or_create_integration(apigw: Any, api_id: str, function_arn: str) -> str:
    wanted = {
        "IntegrationType": "AWS_PROXY",
        "IntegrationUri": function_arn,
        "PayloadFormatVersion": "2.0",
        "TimeoutInMillis": INTEGRATION_TIMEOUT_MS,
    }
    proxies = [
        i
        for i in apigw.get_integrations(ApiId=api_id).get("Items", [])
        if i.get("IntegrationType") == "AWS_PROXY"
    ]
    for integration in proxies:
        if integration.get("IntegrationUri") == function_arn:
            if any(integration.get(k) != v for k, v in wanted.items()):
                apigw.update_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"], **wanted)
            return str(integration["IntegrationId"])
    if proxies:  # the function was replaced: point the existing integration at the new one
        integration_id = str(proxies[0]["IntegrationId"])
        apigw.update_integration(ApiId=api_id, IntegrationId=integration_id, **wanted)
        return integration_id
    created = apigw.create_integration(ApiId=api_id, IntegrationMethod="POST", **wanted)
    return str(created["IntegrationId"])


def _allow_invoke(lam: Any, settings: Settings, function_arn: str, api_id: str) -> None:
    """``lambda:InvokeFunction`` for API Gateway from this API (Terraform's ``aws_lambda_permission``)."""
    account = function_arn.split(":")[4] if function_arn.count(":") >= 6 else "*"
    source = f"arn:aws:execute-api:{settings.region}:{account}:{api_id}/*"
    with contextlib.suppress(lam.exceptions.ResourceConflictException):
        lam.add_permission(
            FunctionName=function_arn,
            StatementId=PERMISSION_SID,
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=source,
        )


def resolve_api_token(settings: Settings, state_dir: Path | None = None) -> str:
    """The API's bearer token: settings (``PERFLAB_API_TOKEN``), else the stack's stored token, else a
    new one (stored in ``state_dir`` with mode 0600 when given, so every later command agrees)."""
    if settings.api_token is not None:
        return settings.api_token.get_secret_value()
    if state_dir is None:
        return secrets.token_urlsafe(32)
    path = state_dir / TOKEN_FILE
    state_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        stored = path.read_text(encoding="utf-8").strip()
        if stored:
            return stored
        path.write_text(token, encoding="utf-8")  # an empty file left by a crash
        return token
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token)
    return token

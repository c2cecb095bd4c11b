"""The API Gateway stand-in serves apigatewayv2 HTTP APIs by invoking their Lambda integrations."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from perflab.local.stack import LocalCloudInfo
from tests.conftest import ClientFactory, unique
from tests.local.helpers import create_lambda_role
from tests.local.test_lambda_runtime import build_zip

pytestmark = pytest.mark.local

ECHO = """
import base64, json

def handler(event, context):
    mode = (event.get("queryStringParameters") or {}).get("mode", "echo")
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "plain":
        return {"plain": True}
    if mode == "binary":
        return {"statusCode": 201, "body": base64.b64encode(b"\\x00\\xffbin").decode(),
                "isBase64Encoded": True, "headers": {"content-type": "application/octet-stream"}}
    if mode == "broken":
        return {"statusCode": "teapot"}
    return {
        "statusCode": 207,
        "headers": {"content-type": "application/json", "x-echo": "yes"},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": json.dumps({"event": event, "function": context.function_name}),
    }
"""


@dataclass
class EchoApi:
    api_id: str
    function: str
    base: str  # a path prefix unique to this test module's API


@pytest.fixture(scope="module")
def echo_api(aws: ClientFactory) -> Iterator[EchoApi]:
    lam, apigw = aws("lambda"), aws("apigatewayv2")
    name = unique("echo")
    arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=create_lambda_role(aws),
        Handler="app.handler",
        Code={"ZipFile": build_zip({"app.py": ECHO})},
        Timeout=10,
    )["FunctionArn"]
    api_id = apigw.create_api(Name=unique("api"), ProtocolType="HTTP")["ApiId"]
    # The URI form Terraform's aws_lambda_function.invoke_arn gives.
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"
    integration = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=uri, PayloadFormatVersion="2.0"
    )["IntegrationId"]
    base = f"/{unique('echo')}"
    for key in (f"ANY {base}/items/{{item_id}}", f"POST {base}/items", f"GET {base}/files/{{path+}}"):
        apigw.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}")
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    yield EchoApi(api_id, name, base)
    apigw.delete_api(ApiId=api_id)
    lam.delete_function(FunctionName=name)


@dataclass
class Answer:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    info: LocalCloudInfo,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    assert info.api_url is not None

    async def go() -> Answer:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, info.api_url + path, data=body, headers=headers) as response,
        ):
            return Answer(response.status, response.headers, await response.read())

    return asyncio.run(go())


def test_stack_serves_the_stand_in_on_loopback(local_cloud: LocalCloudInfo) -> None:
    assert local_cloud.api_url is not None
    assert local_cloud.api_url.startswith("http://127.0.0.1:")


def test_event_shape_and_response_mapping(local_cloud: LocalCloudInfo, echo_api: EchoApi) -> None:
    path = f"{echo_api.base}/items/it%20em-7"
    answer = request(
        local_cloud,
        "PUT",
        f"{path}?a=1&b=x%20y&a=2",
        body=b'{"hello": "world"}',
        headers={"Content-Type": "application/json", "X-Custom": "Value", "Cookie": "c1=v1; c2=v2"},
    )
    assert answer.status == 207
    assert answer.headers["x-echo"] == "yes"
    assert answer.headers.getall("Set-Cookie") == ["a=1; Path=/", "b=2"]
    assert answer.headers["apigw-requestid"]
    payload = answer.json()
    assert payload["function"] == echo_api.function
    event = payload["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == f"ANY {echo_api.base}/items/{{item_id}}"
    assert event["rawPath"] == path
    assert event["rawQueryString"] == "a=1&b=x%20y&a=2"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["pathParameters"] == {"item_id": "it em-7"}
    assert event["headers"]["x-custom"] == "Value"
    assert event["headers"]["content-type"] == "application/json"
    assert all(key == key.lower() for key in event["headers"])
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["body"] == '{"hello": "world"}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["apiId"] == echo_api.api_id
    assert context["stage"] == "$default"
    assert context["http"]["method"] == "PUT"
    assert context["http"]["path"] == f"{echo_api.base}/items/it em-7"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"] == answer.headers["apigw-requestid"]
    assert isinstance(context["timeEpoch"], int) and context["timeEpoch"] > 1_600_000_000_000


def test_exact_method_route_and_binary_body(local_cloud: LocalCloudInfo, echo_api: EchoApi) -> None:
    raw = b"\x00\x01\xfe\xff"
    answer = request(
        local_cloud,
        "POST",
        f"{echo_api.base}/items",
        body=raw,
        headers={"Content-Type": "application/octet-stream"},
    )
    event = answer.json()["event"]
    assert event["routeKey"] == f"POST {echo_api.base}/items"
    assert "pathParameters" not in event and "queryStringParameters" not in event
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_greedy_path_parameter(local_cloud: LocalCloudInfo, echo_api: EchoApi) -> None:
    event = request(local_cloud, "GET", f"{echo_api.base}/files/a/b/c.txt").json()["event"]
    assert event["pathParameters"] == {"path": "a/b/c.txt"}
    # A greedy variable needs at least one segment; GET is the only method routed.
    assert request(local_cloud, "GET", f"{echo_api.base}/files").status == 404
    assert request(local_cloud, "DELETE", f"{echo_api.base}/files/a").status == 404


def test_host_header_selects_the_api(local_cloud: LocalCloudInfo, echo_api: EchoApi) -> None:
    headers = {"Host": f"{echo_api.api_id}.execute-api.localhost"}
    answer = request(local_cloud, "GET", f"{echo_api.base}/items/1", headers=headers)
    assert answer.status == 207
    assert answer.json()["event"]["requestContext"]["domainPrefix"] == echo_api.api_id
    other = {"Host": "nosuchapi.execute-api.localhost"}
    assert request(local_cloud, "GET", f"{echo_api.base}/items/1", headers=other).status == 207


@pytest.mark.parametrize(
    ("mode", "status", "content_type", "body"),
    [
        ("plain", 200, "application/json", b'{"plain": true}'),
        ("binary", 201, "application/octet-stream", b"\x00\xffbin"),
        ("raise", 502, "application/json", b'{"message": "Internal Server Error"}'),
        ("broken", 502, "application/json", b'{"message": "Internal Server Error"}'),
    ],
)
def test_response_forms_and_function_errors(
    local_cloud: LocalCloudInfo, echo_api: EchoApi, mode: str, status: int, content_type: str, body: bytes
) -> None:
    answer = request(local_cloud, "GET", f"{echo_api.base}/items/1?mode={mode}")
    assert answer.status == status
    assert answer.headers["Content-Type"].startswith(content_type)
    assert json.loads(answer.body) == json.loads(body) if content_type == "application/json" else True
    if content_type != "application/json":
        assert answer.body == body


@pytest.mark.parametrize(("method", "suffix"), [("GET", "/nope"), ("GET", "/items"), ("GET", "/items/1/2")])
def test_unknown_route_is_404(
    local_cloud: LocalCloudInfo, echo_api: EchoApi, method: str, suffix: str
) -> None:
    answer = request(local_cloud, method, echo_api.base + suffix)
    assert (answer.status, answer.json()) == (404, {"message": "Not Found"})


def test_missing_function_is_500(local_cloud: LocalCloudInfo, aws: ClientFactory) -> None:
    apigw = aws("apigatewayv2")
    api_id = apigw.create_api(Name=unique("api"), ProtocolType="HTTP")["ApiId"]
    try:
        uri = "arn:aws:lambda:us-east-1:123456789012:function:" + unique("gone")
        integration = apigw.create_integration(
            ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=uri, PayloadFormatVersion="2.0"
        )["IntegrationId"]
        path = f"/{unique('gone')}"
        apigw.create_route(ApiId=api_id, RouteKey=f"GET {path}", Target=f"integrations/{integration}")
        answer = request(local_cloud, "GET", path)
        assert (answer.status, answer.json()) == (500, {"message": "Internal Server Error"})
    finally:
        apigw.delete_api(ApiId=api_id)

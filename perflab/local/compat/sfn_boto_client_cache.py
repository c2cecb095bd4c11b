"""Step Functions: reuse one boto3 client per (region, service) for service integrations.

moto's interpreter calls ``boto_client_for`` for every Task it runs, and that builds a brand-new boto3
client each time: loading the service model from disk, building the event hooks and the endpoint
resolver. At a 100-way Distributed Map fan-out that was about a quarter of the stack's CPU (py-spy,
2 cores), and the clients are created in the 100 iteration threads at once, all contending for the
GIL, which delayed the start of the invocations by seconds. boto3 clients are thread-safe, and moto's
clients differ only in region and service (fixed dummy credentials, the same local endpoint), so one
per (region, service) is equivalent. The modules that imported the function by name get the cached
version too.
"""

from __future__ import annotations

import importlib
import sys
import threading
from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.sfn_support import import_attr, is_marked, mark

NAME = "sfn_boto_client_cache"
_MODULE = "moto.stepfunctions.parser.asl.utils.boto_client"
_TARGET = f"{_MODULE}.boto_client_for"
#: Every moto module that imports ``boto_client_for`` by name (moto 5.2.5).
_IMPORTERS = tuple(
    f"moto.stepfunctions.parser.asl.component.state.exec.{m}"
    for m in (
        "state_map.result_writer.resource_eval.resource_eval_s3",
        "state_map.item_reader.eval.resource_eval_s3",
        "state_task.lambda_eval_utils",
        "state_task.service.state_task_service_unsupported",
        "state_task.service.state_task_service_glue",
        "state_task.service.state_task_service_events",
        "state_task.service.state_task_service_ecs",
        "state_task.service.state_task_service_sqs",
        "state_task.service.state_task_service_sfn",
        "state_task.service.state_task_service_dynamodb",
        "state_task.service.state_task_service_batch",
        "state_task.service.state_task_service_sns",
        "state_task.service.state_task_service_aws_sdk",
    )
)


def _cached(original: Any) -> Any:
    clients: dict[tuple[str, str, str], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        from moto.core.models import botocore_stubber
        from moto.settings import moto_server_port

        if botocore_stubber.enabled:  # in-process mock: keep moto's behaviour
            return original(region, service, state_credentials)
        key = (region, service, moto_server_port())
        client = clients.get(key)
        if client is None:
            with lock:
                client = clients.get(key)
                if client is None:
                    client = clients[key] = original(region, service, state_credentials)
        return client

    return mark(boto_client_for, NAME)


def _needed() -> bool:
    fn = import_attr(_TARGET)
    return fn is not None and not is_marked(fn) and fn.__code__.co_argcount == 3


def _apply() -> None:
    module: Any = importlib.import_module(_MODULE)
    original = module.boto_client_for
    if is_marked(original):
        return
    cached = _cached(original)
    module.boto_client_for = cached
    for name in _IMPORTERS:
        importer: Any = sys.modules.get(name) or importlib.import_module(name)
        if getattr(importer, "boto_client_for", None) is original:
            importer.boto_client_for = cached


PATCH = CompatPatch(
    name=NAME,
    gap="every service-integration Task built a new boto3 client (model load, hooks): a quarter of "
    "the stack's CPU at a 100-way fan-out; one client per (region, service) is reused",
    touches=(_TARGET, *(f"{m}.boto_client_for" for m in _IMPORTERS)),
    needed=_needed,
    apply=_apply,
)

"""One invocation of the workload, as a handler runs it: the glue between a platform and the core.

The download function (``lambdas/download``) and the download task (``ecs_task``) both do exactly
this, and nothing else:

1. parse the Map item (a Lambda payload, or the task's environment variables) into a
   :class:`DownloadEvent`, and the run's request in it into a :class:`~perflab.config.RunRequest`;
2. build the :class:`~perflab.download.InvocationContext`: environment id (Lambda: log stream and
   request id; ECS: the task ARN), cold start (the first invocation in this process), init time
   (from the import of this module to that first invocation), dispatch time (when the item's Task
   state began the invoke / RunTask) and attempt (Step Functions' retry count + 1);
3. choose the store (:class:`~perflab.storage.s3.S3ArtifactStore` or
   :class:`~perflab.storage.rds.RdsArtifactStore`), look the artifact up in the registry and
   :func:`~perflab.download.download` it (the timed part);
4. after timing ended, write the one record with ``ResultsStore.put_invocation`` and return a small
   :class:`Outcome`.

Failures. A storage or verification failure (and a registry lookup failure: too many connections,
no such model) is recorded like any result, with its error type and message. The caller then fails
the invocation visibly (the Lambda handler raises :class:`DownloadFailed`, the task exits 1), so the
Map run counts it; the state machine's failure record for that item is then a no-op (first write
wins). If the record itself cannot be written, the exception propagates: the state machine's Catch
writes a failure record instead.

Fault injection (:mod:`perflab.faults`): with ``PERFLAB_INJECT`` deployed, :func:`run` performs the
fault between the download and the record (raise, sleep past the timeout, exhaust memory, exit, kill),
and the DynamoDB client's record writes are throttled (``ddb-throttle``). Without it, both hooks do
nothing.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from pydantic import BaseModel, ConfigDict, Field

from perflab import faults
from perflab.config import RunRequest, Settings, get_settings
from perflab.download import InvocationContext, InvocationResult, download
from perflab.observability import logger, metrics
from perflab.storage.base import ArtifactRef, ArtifactStore, StorageError
from perflab.storage.registry import lookup
from perflab.storage.s3 import S3ArtifactStore, shared_s3_client

#: When this module was imported: the start of this environment's init, as far as perflab sees it.
_IMPORTED_NS = time.perf_counter_ns()
_cold = True

#: Environment variables of the download task (set by the state machine's container overrides).
ENV_INDEX = "INDEX"
ENV_RUN_REQUEST = "RUN_REQUEST"
ENV_MAP_STARTED_AT = "MAP_STARTED_AT"
ENV_DISPATCHED_AT = "DISPATCHED_AT"
ENV_RETRY_COUNT = "RETRY_COUNT"


class DownloadFailed(Exception):
    """The invocation failed and its failure was recorded (Step Functions sees this error name)."""


class DownloadEvent(BaseModel):
    """One Map item as the download function / task receives it (see the ASL's ``ItemSelector``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    index: int = Field(ge=0)
    #: The execution input: the run's request (``RunRequest.to_input()``).
    request: dict[str, Any]
    #: ``$$.State.EnteredTime`` of the Map state (ISO 8601).
    map_started_at: str | None = None
    #: ``$$.State.EnteredTime`` of the child's Task state: when Step Functions started the Lambda
    #: invoke / RunTask for this item (the child execution started a Choice earlier).
    dispatched_at: str | None = None
    retry_count: int = Field(default=0, ge=0)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> DownloadEvent:
        """The event of a download task, from the environment the container overrides set."""
        missing = [name for name in (ENV_INDEX, ENV_RUN_REQUEST) if not environ.get(name)]
        if missing:
            raise ValueError(f"the download task needs {', '.join(missing)} in its environment")
        return cls.model_validate(
            {
                "index": int(environ[ENV_INDEX]),
                "request": json.loads(environ[ENV_RUN_REQUEST]),
                "map_started_at": environ.get(ENV_MAP_STARTED_AT) or None,
                "dispatched_at": environ.get(ENV_DISPATCHED_AT) or None,
                "retry_count": int(environ.get(ENV_RETRY_COUNT) or 0),
            }
        )

    def run_request(self, settings: Settings) -> RunRequest:
        """The run's validated request (keys the state machine added for itself are dropped)."""
        known = {k: v for k, v in self.request.items() if k in RunRequest.model_fields}
        return RunRequest.from_input(known, settings)

    def dispatch_epoch(self) -> float | None:
        """When the item was dispatched, epoch seconds (its Task state's start, else the Map's)."""
        return _epoch(self.dispatched_at) or _epoch(self.map_started_at)


@dataclass(frozen=True)
class Outcome:
    """What the handler returns: small (the Map collects one per item; 256 KiB state limit)."""

    run_id: str
    index: int
    ok: bool
    recorded: bool
    latency_ms: float
    bytes: int
    error_type: str | None
    error_message: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "index": self.index,
            "ok": self.ok,
            "recorded": self.recorded,
            "latency_ms": self.latency_ms,
            "bytes": self.bytes,
            "error_type": self.error_type,
        }

    def raise_for_failure(self) -> None:
        if not self.ok:
            raise DownloadFailed(f"{self.error_type}: {self.error_message}")


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _take_cold_start() -> tuple[bool, float | None]:
    """(cold start, init ms): true, with the time since import, only for this process's first call."""
    global _cold
    if not _cold:
        return False, None
    _cold = False
    return True, (time.perf_counter_ns() - _IMPORTED_NS) / 1e6


def lambda_environment_id(log_stream_name: str, aws_request_id: str) -> str:
    """A Lambda invocation's environment id: ``<log stream>#<request id>`` (the log stream names the
    execution environment, the request id the invocation)."""
    return f"{log_stream_name}#{aws_request_id}"


@functools.cache
def ecs_environment_id() -> str:
    """The task ARN: from the task metadata endpoint on ECS (``ECS_CONTAINER_METADATA_URI_V4``), from
    ``ECS_TASK_ARN`` on the local cloud (its agent sets it; it serves no metadata endpoint), else
    ``<hostname>:<pid>``. Read once per process, before any timing."""
    uri = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if uri:
        try:
            with urllib.request.urlopen(f"{uri}/task", timeout=2) as response:
                arn = json.load(response).get("TaskARN")
            if arn:
                return str(arn)
        except (OSError, ValueError) as error:
            logger.warning("task metadata endpoint unavailable", extra={"error": str(error)})
    arn = os.environ.get("ECS_TASK_ARN")
    if arn:
        return arn
    return f"{socket.gethostname()}:{os.getpid()}"


@functools.cache
def _dynamodb_client(region: str) -> Any:
    """The environment's DynamoDB client (endpoint from ``AWS_ENDPOINT_URL`` when set; with the
    ``ddb-throttle`` fault deployed, its record writes are throttled: :mod:`perflab.faults`)."""
    client = boto3.session.Session().client("dynamodb", region_name=region)
    return faults.instrument_dynamodb(client, logger.warning)


def _results_store(settings: Settings) -> Any:
    from perflab.results import ResultsStore

    return ResultsStore(_dynamodb_client(settings.region), settings.invocations_table, settings.runs_table)


def _conninfo(settings: Settings) -> str:
    if settings.database_url is None:
        raise StorageError(
            "no database configured (PERFLAB_DATABASE_URL): the model registry is in PostgreSQL"
        )
    from perflab.storage.credentials import with_secret_password

    return with_secret_password(
        settings.database_url.get_secret_value(), settings.database_secret_arn, settings.region
    )


def choose_store(request: RunRequest, settings: Settings) -> ArtifactStore:
    """The run's artifact store; clients and connections are shared by the environment."""
    if request.storage == "s3":
        client_settings = settings.model_copy(
            update={"s3_max_pool_connections": request.s3_max_pool_connections}
        )
        client = shared_s3_client(client_settings, range_parts=request.s3_range_parts)
        return S3ArtifactStore(client, settings.bucket, settings.chunk_bytes, request.s3_range_parts)
    from perflab.storage.rds import RdsArtifactStore

    return RdsArtifactStore(_conninfo(settings), request.rds_layout, settings.chunk_bytes)


def _unmeasured_failure(ctx: InvocationContext, request: RunRequest, error: Exception) -> InvocationResult:
    """The record of an invocation that failed before its download began (store or registry)."""
    now = time.time()
    return InvocationResult.from_context(
        ctx,
        started_at=now,
        finished_at=now,
        ttfb_ms=None,
        latency_ms=0.0,
        scheduling_delay_ms=None if ctx.dispatched_at is None else (now - ctx.dispatched_at) * 1000.0,
        bytes=0,
        sha256_ok=False,
        error_type=type(error).__name__,
        error_message=" ".join(str(error).split()) or type(error).__name__,
        model_id=request.model_id,
        version=request.version,
        expected_bytes=request.artifact_bytes,
    )


def run(event: DownloadEvent, environment_id: str, settings: Settings | None = None) -> Outcome:
    """Download once, record the result, return the outcome (see the module docstring)."""
    cold_start, init_ms = _take_cold_start()
    settings = settings if settings is not None else get_settings()
    request = event.run_request(settings)
    ctx = InvocationContext(
        run_id=request.run_id,
        index=event.index,
        compute=request.compute,
        storage=request.storage,
        environment_id=environment_id,
        cold_start=cold_start,
        init_ms=init_ms,
        dispatched_at=event.dispatch_epoch(),
        attempt=event.retry_count + 1,
    )
    logger.append_keys(run_id=ctx.run_id, index=ctx.index, compute=ctx.compute, storage=ctx.storage)
    result: InvocationResult
    try:
        store = choose_store(request, settings)
        ref: ArtifactRef = lookup(_conninfo(settings), request.model_id, request.version, request.rds_layout)
    except StorageError as error:
        result = _unmeasured_failure(ctx, request, error)
    else:
        result = download(store, ref, ctx, enable_caching=request.enable_caching)
    # Timing has ended: everything below is off the measured path.
    faults.before_record(ctx.index, logger.warning)  # a deployed PERFLAB_INJECT fault, if any
    recorded = bool(_results_store(settings).put_invocation(result))
    _emit_metrics(result)
    outcome = Outcome(
        run_id=result.run_id,
        index=result.index,
        ok=result.succeeded,
        recorded=recorded,
        latency_ms=result.latency_ms,
        bytes=result.bytes,
        error_type=result.error_type,
        error_message=result.error_message,
    )
    log = logger.info if outcome.ok else logger.warning
    log(
        "download finished",
        extra={
            "ok": outcome.ok,
            "latency_ms": round(result.latency_ms, 3),
            "bytes": result.bytes,
            "cold_start": result.cold_start,
            "recorded": recorded,
            "error_type": result.error_type,
            "error_message": result.error_message,
        },
    )
    return outcome


def _emit_metrics(result: InvocationResult) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    metrics.add_dimension(name="compute", value=result.compute)
    metrics.add_dimension(name="storage", value=result.storage)
    metrics.add_metric(name="Downloads", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="DownloadFailures", unit=MetricUnit.Count, value=0 if result.succeeded else 1)
    if result.succeeded:
        metrics.add_metric(name="DownloadLatency", unit=MetricUnit.Milliseconds, value=result.latency_ms)
        metrics.add_metric(name="DownloadBytes", unit=MetricUnit.Bytes, value=result.bytes)

"""Results in DynamoDB: one record per invocation (idempotent on retry), one item per run.

Tables (created by :func:`create_tables`, PAY_PER_REQUEST):

- **invocations** — key ``run_id`` (S, HASH) + ``index`` (N, RANGE). The item is
  :meth:`InvocationResult.to_item` plus bookkeeping: ``attempts`` (how many distinct attempts reported
  for this index), ``attempt_numbers`` (NS, which ones), ``write_id`` and ``recorded_at``. The first
  write wins (a ``ConditionExpression``); a later attempt of the same index only increments ``attempts``,
  and only once per attempt number, so neither a Step Functions retry nor a retried DynamoDB call (after
  throttling, or a reply lost in transit) ever creates a second record or counts twice.
- **runs** — key ``run_id`` (S). ``status``, ``started_at``/``finished_at`` (epoch s), ``execution_arn``,
  ``compute``/``storage``/``label`` (for listing), ``request`` and ``summary`` as JSON strings (exact,
  and no Decimal round trip), plus whatever else writers set (Step Functions' ``RecordFailure`` sets
  ``error``, ``cause``, ``failed_at``).

The low-level boto3 client is used throughout, with explicit attribute values: integers as ``{"N": "12"}``,
floats as ``{"N": repr(x)}`` (shortest exact form), read back as ``int`` when the text has no fraction or
exponent and ``float`` otherwise. Non-finite floats are stored as NULL (DynamoDB has no NaN).
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from botocore.exceptions import ClientError

from perflab.aws_errors import error_code
from perflab.config import RunRequest, Settings
from perflab.download import InvocationResult
from perflab.dynamo import AttributeValue, decode, encode
from perflab.stats import latency_stats, mean_cold_start_penalty_ms, throughput_mb_s

Item = dict[str, AttributeValue]

SUCCEEDED = "SUCCEEDED"
COMPLETED_WITH_FAILURES = "COMPLETED_WITH_FAILURES"
RUNNING = "RUNNING"
#: ``errors_by_type`` key for requested invocations that left no record.
MISSING = "Missing"

#: Errors a DynamoDB call is retried on (with backoff); the call is idempotent or conditional.
RETRYABLE = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
    }
)
#: Longest ``error_message`` kept in a record (an item must stay under DynamoDB's 400 KB).
MAX_ERROR_MESSAGE = 16_384

# Fields of a record that Step Functions' failure path (RecordInvocationFailure) does not write: an
# invocation that produced no record of its own has only run_id, index, compute, storage, error, bytes 0.
_UNMEASURED_DEFAULTS: Item = {
    "environment_id": {"S": ""},
    "cold_start": {"BOOL": False},
    "init_ms": {"NULL": True},
    "dispatched_at": {"NULL": True},
    "attempt": {"N": "1"},
    "started_at": {"N": "0"},
    "finished_at": {"N": "0"},
    "ttfb_ms": {"NULL": True},
    "latency_ms": {"N": "0"},
    "scheduling_delay_ms": {"NULL": True},
    "bytes": {"N": "0"},
    "sha256_ok": {"BOOL": False},
}


# --- attribute values ----------------------------------------------------------------------------------


def decode_item(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {name: decode(value) for name, value in item.items()}


# --- the store -----------------------------------------------------------------------------------------


class ResultsStore:
    """Invocation records and run items in two DynamoDB tables, through a low-level boto3 client.

    ``sleep``/``max_attempts``/``base_delay_s`` control the backoff on throttling (injectable for tests).
    """

    def __init__(
        self,
        dynamodb_client: Any,
        invocations_table: str,
        runs_table: str,
        *,
        max_attempts: int = 8,
        base_delay_s: float = 0.05,
        max_delay_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = dynamodb_client
        self.invocations_table = invocations_table
        self.runs_table = runs_table
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self._sleep = sleep

    # -- calls with backoff

    def _call(self, operation: str, **kwargs: Any) -> Any:
        """``client.<operation>(**kwargs)``, retried with full-jitter backoff on throttling."""
        method = getattr(self.client, operation)
        for attempt in range(1, self.max_attempts + 1):
            try:
                return method(**kwargs)
            except ClientError as exc:
                if error_code(exc) not in RETRYABLE or attempt == self.max_attempts:
                    raise
            delay = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
            self._sleep(random.uniform(0, delay))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- invocation records

    def put_invocation(self, result: InvocationResult) -> bool:
        """Record one invocation; ``True`` when this call created the record.

        The first write for ``(run_id, index)`` wins. A later write for the same index (a Step Functions
        retry, or a duplicate delivery) leaves the record as it is and adds its attempt number to
        ``attempt_numbers``, incrementing ``attempts`` once per distinct attempt number; it returns
        ``False``. A throttled or lost reply to our own put is recognised by ``write_id`` on retry.
        """
        item: Item = dict(result.to_item())
        message = item.get("error_message", {}).get("S")
        if message is not None and len(message) > MAX_ERROR_MESSAGE:
            item["error_message"] = {"S": message[: MAX_ERROR_MESSAGE - 1] + "…"}
        write_id = uuid.uuid4().hex
        item.update(
            attempts={"N": "1"},
            attempt_numbers={"NS": [str(result.attempt)]},
            write_id={"S": write_id},
            recorded_at=encode(time.time()),
        )
        try:
            self._call(
                "put_item",
                TableName=self.invocations_table,
                Item=item,
                ConditionExpression="attribute_not_exists(run_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return True
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            existing = exc.response.get("Item") or self._get_invocation_item(result.run_id, result.index)
        if existing is not None and existing.get("write_id", {}).get("S") == write_id:
            return True  # our own write, whose first reply was lost or throttled
        self._record_attempt(result.run_id, result.index, result.attempt)
        return False

    def _get_invocation_item(self, run_id: str, index: int) -> Item | None:
        response = self._call(
            "get_item",
            TableName=self.invocations_table,
            Key={"run_id": {"S": run_id}, "index": {"N": str(index)}},
            ConsistentRead=True,
        )
        item: Item | None = response.get("Item")
        return item

    def _record_attempt(self, run_id: str, index: int, attempt: int) -> None:
        try:
            self._call(
                "update_item",
                TableName=self.invocations_table,
                Key={"run_id": {"S": run_id}, "index": {"N": str(index)}},
                UpdateExpression="ADD attempts :one, attempt_numbers :numbers",
                ConditionExpression="attribute_exists(run_id) AND NOT contains(attempt_numbers, :number)",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":numbers": {"NS": [str(attempt)]},
                    ":number": {"N": str(attempt)},
                },
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise  # otherwise: this attempt number was counted already

    def invocation_items(self, run_id: str, page_size: int | None = None) -> list[dict[str, Any]]:
        """The run's records as plain dicts (with ``attempts``), ordered by index; every page read."""
        return [decode_item(item) for item in self._query(run_id, page_size)]

    def invocations(self, run_id: str, page_size: int | None = None) -> list[InvocationResult]:
        """The run's records, ordered by index (strongly consistent query, every page).

        A record Step Functions wrote for an invocation that produced none of its own carries only the
        error: its measured fields read as zero/``None`` and ``sha256_ok`` as ``False``.
        """
        return [
            InvocationResult.from_item({**_UNMEASURED_DEFAULTS, **item})
            for item in self._query(run_id, page_size)
        ]

    def _query(self, run_id: str, page_size: int | None) -> Iterator[Item]:
        kwargs: dict[str, Any] = {
            "TableName": self.invocations_table,
            "KeyConditionExpression": "run_id = :run",
            "ExpressionAttributeValues": {":run": {"S": run_id}},
            "ConsistentRead": True,
        }
        if page_size is not None:
            kwargs["Limit"] = page_size
        while True:
            page = self._call("query", **kwargs)
            yield from page.get("Items", [])
            if not page.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- run items

    def put_run(
        self,
        run_id: str,
        request: RunRequest,
        status: str = RUNNING,
        started_at: float | None = None,
        execution_arn: str | None = None,
    ) -> None:
        """Create or update the run item with its request and status (a summary already there is kept)."""
        values: dict[str, Any] = {
            "request": json.dumps(request.to_input(), sort_keys=True),
            "status": status,
            "started_at": started_at if started_at is not None else time.time(),
            "compute": request.compute,
            "storage": request.storage,
            "label": request.label,
            "invocations_requested": request.invocations,
        }
        if execution_arn is not None:
            values["execution_arn"] = execution_arn
        self._update_run(run_id, values)

    def set_execution(self, run_id: str, execution_arn: str) -> None:
        """Record the Step Functions execution that runs ``run_id``."""
        self._update_run(run_id, {"execution_arn": execution_arn})

    def set_status(self, run_id: str, status: str, error: str | None = None) -> None:
        """Change a run's status (e.g. ``FAILED`` with the error that stopped it)."""
        values: dict[str, Any] = {"status": status, "updated_at": time.time()}
        if error is not None:
            values["error"] = error
        self._update_run(run_id, values)

    def put_summary(self, summary: RunSummary) -> None:
        """Write the run's summary and final status (idempotent: a repeat overwrites with the same)."""
        self._update_run(
            summary.run_id,
            {
                "status": summary.status,
                "summary": json.dumps(summary.to_json(), sort_keys=True),
                "finished_at": time.time(),
                "compute": summary.compute,
                "storage": summary.storage,
            },
        )

    def _update_run(self, run_id: str, values: Mapping[str, Any]) -> None:
        names = {f"#a{i}": name for i, name in enumerate(values)}
        attrs = {f":v{i}": encode(value) for i, value in enumerate(values.values())}
        self._call(
            "update_item",
            TableName=self.runs_table,
            Key={"run_id": {"S": run_id}},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(values))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attrs,
        )

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """The run item as plain values, ``request``/``summary`` parsed (``summary`` None until written)."""
        response = self._call(
            "get_item", TableName=self.runs_table, Key={"run_id": {"S": run_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return None if item is None else _run_from_item(item)

    def list_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The ``limit`` most recently started runs, newest first (a scan: the runs table is small)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.runs_table}
        while True:
            page = self._call("scan", **kwargs)
            items.extend(_run_from_item(item) for item in page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        items.sort(key=lambda run: (_epoch(run.get("started_at")), run["run_id"]), reverse=True)
        return items[: max(0, limit)]


def _epoch(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _run_from_item(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    run = decode_item(item)
    for name in ("request", "summary"):
        text = run.get(name)
        if isinstance(text, str):
            with contextlib.suppress(ValueError):  # not JSON: kept as the text it is
                run[name] = json.loads(text)
    run.setdefault("summary", None)
    return run


def create_tables(dynamodb_client: Any, settings: Settings) -> None:
    """Create the invocations and runs tables (PAY_PER_REQUEST) unless they exist; wait until active.

    Raises ``ValueError`` when a table of that name exists with a different key schema.
    """
    specs = {
        settings.invocations_table: [("run_id", "S", "HASH"), ("index", "N", "RANGE")],
        settings.runs_table: [("run_id", "S", "HASH")],
    }
    for table, keys in specs.items():
        try:
            dynamodb_client.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t, _ in keys],
                KeySchema=[{"AttributeName": n, "KeyType": k} for n, _, k in keys],
            )
        except ClientError as exc:
            if error_code(exc) != "ResourceInUseException":
                raise
        dynamodb_client.get_waiter("table_exists").wait(
            TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        described = dynamodb_client.describe_table(TableName=table)["Table"]
        schema = sorted((k["AttributeName"], k["KeyType"]) for k in described["KeySchema"])
        if schema != sorted((n, k) for n, _, k in keys):
            raise ValueError(f"table {table} exists with key schema {schema}, expected {keys}")


# --- the run summary (pure) ----------------------------------------------------------------------------


@dataclass
class RunSummary:
    """One run's outcome, computed from its raw records by :func:`summarize`.

    Every requested invocation is accounted for: ``succeeded + failed == requested``, where ``failed``
    counts recorded failures **and** ``missing`` ones (requested but never recorded); ``missing`` is also
    reported on its own.
    """

    run_id: str
    compute: str
    storage: str
    status: str
    requested: int
    succeeded: int
    failed: int
    missing: int
    artifact_bytes: int | None
    bytes_total: int
    sha256_verified: bool
    latency_ms: dict[str, float | None]
    ttfb_ms: dict[str, float | None]
    scheduling_delay_ms: dict[str, float | None]
    init_ms: dict[str, float | None]
    throughput_mb_s: float | None
    cold_starts: int
    cold_start_penalty_ms: float | None
    wall_s: float | None
    errors_by_type: dict[str, int] = field(default_factory=dict)
    cached: int = 0
    retried: int = 0
    label: str | None = None
    model_id: str | None = None
    version: str | None = None
    rds_layout: str | None = None
    s3_range_parts: int | None = None
    enable_caching: bool | None = None
    first_started_at: float | None = None
    last_finished_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``summary.json`` run entry (DESIGN.md's keys first, then the extras)."""
        return {
            "run_id": self.run_id,
            "compute": self.compute,
            "storage": self.storage,
            "status": self.status,
            "invocations": {
                "requested": self.requested,
                "succeeded": self.succeeded,
                "failed": self.failed,
                "missing": self.missing,
            },
            "artifact_bytes": self.artifact_bytes,
            "bytes_total": self.bytes_total,
            "sha256_verified": self.sha256_verified,
            "latency_ms": dict(self.latency_ms),
            "throughput_mb_s": self.throughput_mb_s,
            "cold_starts": self.cold_starts,
            "wall_s": self.wall_s,
            "ttfb_ms": dict(self.ttfb_ms),
            "scheduling_delay_ms": dict(self.scheduling_delay_ms),
            "init_ms": dict(self.init_ms),
            "cold_start_penalty_ms": self.cold_start_penalty_ms,
            "errors_by_type": dict(self.errors_by_type),
            "cached": self.cached,
            "retried": self.retried,
            "label": self.label,
            "model_id": self.model_id,
            "version": self.version,
            "rds_layout": self.rds_layout,
            "s3_range_parts": self.s3_range_parts,
            "enable_caching": self.enable_caching,
            "first_started_at": self.first_started_at,
            "last_finished_at": self.last_finished_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunSummary:
        """The inverse of :meth:`to_json` (unknown keys ignored)."""
        counts = data["invocations"]
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values.update(
            requested=counts["requested"],
            succeeded=counts["succeeded"],
            failed=counts["failed"],
            missing=counts.get("missing", 0),
        )
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def succeeded(result: InvocationResult) -> bool:
    """An invocation succeeded when it raised no error and its sha256 matched the registry."""
    return result.error_type is None and result.sha256_ok


def _error_type(result: InvocationResult) -> str:
    return result.error_type or ("ChecksumMismatch" if not result.sha256_ok else "Unknown")


def _errors_by_type(records: Sequence[InvocationResult], missing: int) -> dict[str, int]:
    counts = Counter(_error_type(r) for r in records if not succeeded(r))
    if missing:
        counts[MISSING] = missing
    return dict(counts)


def _present(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def summarize(request: RunRequest, results: Sequence[InvocationResult], wall_s: float | None) -> RunSummary:
    """The run's summary from its raw records (pure).

    - One record per index counts (the first, if a list holds duplicates); records of other runs are
      ignored. ``missing = requested - recorded`` (never negative) and is counted in ``failed``.
    - ``latency_ms`` and ``ttfb_ms``: over succeeded invocations; ``scheduling_delay_ms``: over every
      record that has one; ``init_ms``: over cold starts.
    - ``bytes_total``: bytes every recorded invocation read. ``throughput_mb_s`` (MB = 10^6 bytes):
      ``bytes_total / (last finished_at - first started_at)`` over the records that read bytes.
    - ``cold_start_penalty_ms``: mean of ``init_ms + latency_ms`` over succeeded cold starts minus mean
      ``latency_ms`` over succeeded warm ones (``None`` without both).
    - ``wall_s``: as given; when ``None``, the records' span from the first dispatch (or start) to the
      last finish.
    - ``errors_by_type``: failures by ``error_type`` (``ChecksumMismatch`` when only ``sha256_ok`` is
      false), missing ones under ``Missing``: the counts add up to ``failed``.
    - ``sha256_verified``: every requested invocation downloaded the artifact and matched its sha256.
    - ``status``: ``SUCCEEDED`` when every requested invocation succeeded, else
      ``COMPLETED_WITH_FAILURES``.
    """
    by_index: dict[int, InvocationResult] = {}
    for result in results:
        if result.run_id == request.run_id:
            by_index.setdefault(result.index, result)
    records = [by_index[i] for i in sorted(by_index)]
    ok = [r for r in records if succeeded(r)]
    requested = request.invocations
    missing = max(0, requested - len(records))
    failed = len(records) - len(ok) + missing

    moved = [r for r in records if r.bytes > 0 and r.started_at > 0]
    bytes_total = sum(r.bytes for r in records)
    first = min((r.started_at for r in moved), default=None)
    last = max((r.finished_at for r in moved), default=None)

    cold = [r for r in ok if r.cold_start]
    warm = [r for r in ok if not r.cold_start]
    if wall_s is None:
        starts = _present(r.dispatched_at or r.started_at or None for r in records)
        ends = _present(r.finished_at or None for r in records)
        wall_s = max(ends) - min(starts) if starts and ends else None

    artifact_bytes = request.artifact_bytes
    if artifact_bytes is None:
        expected = [getattr(r, "expected_bytes", None) for r in records]
        sizes = [int(e) for e in expected if isinstance(e, int)] or [r.bytes for r in ok]
        artifact_bytes = max(sizes) if sizes else None

    return RunSummary(
        run_id=request.run_id,
        compute=request.compute,
        storage=request.storage,
        status=SUCCEEDED if len(ok) == requested and not missing else COMPLETED_WITH_FAILURES,
        requested=requested,
        succeeded=len(ok),
        failed=failed,
        missing=missing,
        artifact_bytes=artifact_bytes,
        bytes_total=bytes_total,
        sha256_verified=requested > 0 and len(ok) == requested,
        latency_ms=latency_stats(r.latency_ms for r in ok),
        ttfb_ms=latency_stats(_present(r.ttfb_ms for r in ok)),
        scheduling_delay_ms=latency_stats(_present(r.scheduling_delay_ms for r in records)),
        init_ms=latency_stats(_present(r.init_ms for r in records if r.cold_start)),
        throughput_mb_s=throughput_mb_s(bytes_total, first, last),
        cold_starts=sum(1 for r in records if r.cold_start),
        cold_start_penalty_ms=mean_cold_start_penalty_ms(
            [(r.init_ms or 0.0) + r.latency_ms for r in cold], [r.latency_ms for r in warm]
        ),
        wall_s=wall_s,
        errors_by_type=_errors_by_type(records, missing),
        cached=sum(1 for r in ok if r.cached),
        retried=sum(1 for r in records if r.attempt > 1),
        label=request.label,
        model_id=request.model_id,
        version=request.version,
        rds_layout=request.rds_layout,
        s3_range_parts=request.s3_range_parts,
        enable_caching=request.enable_caching,
        first_started_at=first,
        last_finished_at=last,
    )

"""Fault injection: what a deployer can make the download function or task do wrong, for real.

The deployer sets ``PERFLAB_INJECT=<fault>[:<every>]`` on the download function and task
(``perflab.deploy.deploy(..., inject=...)``; ``perflab bench --inject``). ``every`` (default 1)
picks the invocations hit: those whose index is a multiple of it. Nothing here simulates an
outcome: the injected behaviour is real, and the platform (the local Lambda runtime and ECS agent,
or AWS) enforces and reports it as it would any such failure.

Faults the code itself performs (:data:`HANDLER_FAULTS`), at the one injection point between a
finished download and its record (:func:`before_record`), or in the DynamoDB client
(:func:`instrument_dynamodb`):

=============== ======================================================================================
``raise``       raises :class:`InjectedFault` (Lambda: the function error ``InjectedFault``; ECS: the
                task exits 1 with the traceback)
``timeout``     sleeps past any time limit; the runtime kills it at the function's Timeout
                (``Sandbox.Timedout``). An ECS task's limit is the state's ``TimeoutSeconds`` (900 s)
``memory``      allocates (and touches) memory beyond ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE`` until the
                runtime kills it (``Runtime.OutOfMemory``); stops at twice the size with a
                ``MemoryError`` if nothing enforces the limit
``exit``        exits with code :data:`EXIT_CODE` without cleanup (Lambda: ``Runtime.ExitError``;
                ECS: ``States.TaskFailed``, container exit code 3)
``kill``        SIGKILLs its own process (Lambda: ``Runtime.ExitError``; ECS: exit code 137)
``ddb-throttle`` every record write (``PutItem``) is answered ``ProvisionedThroughputExceededException``
                twice (before reaching the table), then is applied but answered ``InternalServerError``
                (which DynamoDB documents as "may have succeeded"); the results store's backoff
                retries each, and recognises its own applied write, so nothing counts twice
=============== ======================================================================================

Faults of the environment (:data:`ENVIRONMENT_FAULTS`) are done from outside by a harness
(:mod:`perflab.fault_harness`, the tests in ``tests/faults``) through the real APIs: stopping
PostgreSQL, deleting or corrupting the artifact, lowering reserved concurrency, or running a
PostgreSQL whose ``max_connections`` is below the fan-out.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ENV_VAR = "PERFLAB_INJECT"
#: Exit code of the ``exit`` fault (distinct from the task's own 1 = "download failed, recorded").
EXIT_CODE = 3
#: Longer than any Lambda timeout (900 s) or the ECS state's TimeoutSeconds (900 s).
SLEEP_PAST_S = 960.0
MEMORY_STEP_BYTES = 32 * 1024 * 1024
DEFAULT_MEMORY_MB = 128

HANDLER_FAULTS: Mapping[str, str] = {
    "raise": "the handler raises InjectedFault before writing its record",
    "timeout": "the handler sleeps past the Lambda function's timeout (Sandbox.Timedout)",
    "memory": "the handler allocates beyond the function's MemorySize (Runtime.OutOfMemory)",
    "exit": f"the process exits with code {EXIT_CODE} before writing its record",
    "kill": "the process SIGKILLs itself before writing its record",
    "ddb-throttle": "record writes are throttled (ProvisionedThroughputExceededException), then retried",
}
ENVIRONMENT_FAULTS: Mapping[str, str] = {
    "pg-stop": "PostgreSQL is stopped mid-run, then restarted; a re-run follows",
    "s3-delete": "the artifact's S3 object is deleted mid-run",
    "checksum": "the stored artifact's bytes are changed (sha256 no longer matches)",
    "concurrency": "the download function's reserved concurrency is below the fan-out",
    "pg-max-connections": "PostgreSQL's max_connections is below the fan-out (no pool)",
}
FAULTS: Mapping[str, str] = {**HANDLER_FAULTS, **ENVIRONMENT_FAULTS}

#: Where each fault can happen: (computes, storages); the others run it to no effect or not at all.
APPLIES: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    name: (frozenset({"lambda", "ecs"}), frozenset({"s3", "rds"})) for name in FAULTS
} | {
    # An ECS task's time limit is the state's 900 s, and the local agent enforces no memory limit.
    "timeout": (frozenset({"lambda"}), frozenset({"s3", "rds"})),
    "memory": (frozenset({"lambda"}), frozenset({"s3", "rds"})),
    "concurrency": (frozenset({"lambda"}), frozenset({"s3", "rds"})),
    "pg-stop": (frozenset({"lambda", "ecs"}), frozenset({"rds"})),
    "pg-max-connections": (frozenset({"lambda", "ecs"}), frozenset({"rds"})),
    "s3-delete": (frozenset({"lambda", "ecs"}), frozenset({"s3"})),
}


class InjectedFault(Exception):
    """The ``raise`` fault (Step Functions sees this class name as the error)."""


@dataclass(frozen=True)
class FaultSpec:
    """A fault and which invocations it hits: those whose index is a multiple of ``every``."""

    name: str
    every: int = 1

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        """``"raise"`` or ``"raise:3"``; ``ValueError`` naming what is allowed otherwise."""
        name, sep, every_text = text.strip().partition(":")
        if name not in FAULTS:
            raise ValueError(
                f"{ENV_VAR}: must be one of {', '.join(FAULTS)}, optionally :EVERY (got {text!r})"
            )
        every = 1
        if sep:
            try:
                every = int(every_text)
            except ValueError:
                every = 0
            if every < 1:
                raise ValueError(
                    f"{ENV_VAR}: EVERY in {name}:EVERY must be a positive integer (got {text!r})"
                )
        return cls(name, every)

    def __str__(self) -> str:
        return self.name if self.every == 1 else f"{self.name}:{self.every}"

    @property
    def in_handler(self) -> bool:
        """Whether the download code performs it (else a harness does, from outside)."""
        return self.name in HANDLER_FAULTS

    def hits(self, index: int) -> bool:
        return index % self.every == 0

    def applies(self, compute: str, storage: str) -> bool:
        computes, storages = APPLIES[self.name]
        return compute in computes and storage in storages


def active(environ: Mapping[str, str] | None = None) -> FaultSpec | None:
    """The fault this environment was deployed with (``PERFLAB_INJECT``), if any."""
    text = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    return FaultSpec.parse(text) if text else None


# --- the injection point in the invocation path ------------------------------------------------------


def before_record(index: int, log: Callable[[str], None] | None = None) -> None:
    """Perform the deployed fault, if it is one the code performs here and it hits ``index``.

    Called after the download (timing has ended) and before its record is written, so a fault here
    leaves the invocation without a record of its own: the platform reports the failure and the
    state machine's Catch records it, as it would for a real crash.
    """
    spec = active()
    if spec is None or spec.name not in _ACTIONS or not spec.hits(index):
        return
    (log or _stderr)(f"perflab fault injection: {spec} (invocation {index})")
    _ACTIONS[spec.name]()


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _raise() -> None:
    raise InjectedFault(f"injected fault: {ENV_VAR}=raise")


def _sleep_past_timeout() -> None:
    deadline = time.monotonic() + SLEEP_PAST_S
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, 60.0))


def _exhaust_memory() -> None:
    limit_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or DEFAULT_MEMORY_MB)
    hoard: list[bytearray] = []
    while len(hoard) * MEMORY_STEP_BYTES < 2 * limit_mb * 1024 * 1024:
        hoard.append(bytearray(MEMORY_STEP_BYTES))  # zero-filled: every page is touched (resident)
    raise MemoryError(f"allocated {2 * limit_mb} MB and nothing stopped it (limit {limit_mb} MB)")


def _exit() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_CODE)


def _kill() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


_ACTIONS: Mapping[str, Callable[[], None]] = {
    "raise": _raise,
    "timeout": _sleep_past_timeout,
    "memory": _exhaust_memory,
    "exit": _exit,
    "kill": _kill,
}


# --- DynamoDB write throttling ----------------------------------------------------------------------

#: What each attempt of one record write gets: throttled twice before the table, then applied with
#: its reply replaced by a 500, then through (a conditional put that finds the applied write).
THROTTLE_PLAN = ("ProvisionedThroughputExceededException", "ProvisionedThroughputExceededException")
LOST_REPLY_ERROR = "InternalServerError"


def instrument_dynamodb(client: Any, log: Callable[[str], None] | None = None) -> Any:
    """With ``ddb-throttle`` deployed, make ``client``'s ``PutItem`` calls fail as described above.

    Hooks botocore's client events, so the errors are the client's own modelled exceptions
    (``client.exceptions.ProvisionedThroughputExceededException``...) raised by botocore's normal
    error path. Only ``PutItem`` is hit: the invocation path writes records with it and nothing else.
    Returns ``client``.
    """
    spec = active()
    if spec is not None and spec.name == "ddb-throttle":
        throttler = _WriteThrottler(client, spec, log or _stderr)
        client.meta.events.register("before-call.dynamodb.PutItem", throttler.before_call)
        client.meta.events.register("after-call.dynamodb.PutItem", throttler.after_call)
    return client


_CONTEXT_KEY = "perflab_fault_attempt"


class _WriteThrottler:
    """Counts the attempts of each record write (run id, index) and fails them per THROTTLE_PLAN."""

    def __init__(self, client: Any, spec: FaultSpec, log: Callable[[str], None]) -> None:
        self.client = client
        self.spec = spec
        self.log = log
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = {}

    def before_call(
        self, params: Mapping[str, Any], context: dict[str, Any], **_: Any
    ) -> tuple[Any, dict[str, Any]] | None:
        body = params.get("body") or b"{}"
        item = json.loads(body.decode() if isinstance(body, bytes | bytearray) else body).get("Item", {})
        run_id, index = item.get("run_id", {}).get("S"), item.get("index", {}).get("N")
        if run_id is None or index is None or not self.spec.hits(int(index)):
            return None
        record = f"{run_id}#{index}"
        with self._lock:
            attempt = self._attempts[record] = self._attempts.get(record, 0) + 1
        context[_CONTEXT_KEY] = (record, attempt)
        if attempt > len(THROTTLE_PLAN):
            return None  # sent to the table
        code = THROTTLE_PLAN[attempt - 1]
        self.log(f"perflab fault injection: ddb-throttle: {code} for record {record} (attempt {attempt})")
        parsed: dict[str, Any] = {
            "Error": {"Code": code, "Message": "Throughput exceeds the current capacity (injected)"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}, "RetryAttempts": 0},
        }
        return _response(400), parsed

    def after_call(self, http_response: Any, context: Mapping[str, Any], **_: Any) -> None:
        record, attempt = context.get(_CONTEXT_KEY, (None, 0))
        if record is None or attempt != len(THROTTLE_PLAN) + 1 or http_response.status_code >= 300:
            return
        self.log(
            f"perflab fault injection: ddb-throttle: {LOST_REPLY_ERROR} after the write of record "
            f"{record} was applied (attempt {attempt})"
        )
        error = {
            "Error": {"Code": LOST_REPLY_ERROR, "Message": "Internal server error (injected)"},
            "ResponseMetadata": {"HTTPStatusCode": 500, "HTTPHeaders": {}, "RetryAttempts": 0},
        }
        raise self.client.exceptions.from_code(LOST_REPLY_ERROR)(error, "PutItem")


def _response(status: int) -> Any:
    from botocore.awsrequest import AWSResponse

    return AWSResponse("https://dynamodb.injected.invalid/", status, {}, None)

"""One execution environment: a worker process, its Runtime API endpoint, its log stream, and the
invocation it is serving (at most one at a time)."""

from __future__ import annotations

import base64
import contextlib
import datetime
import enum
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from perflab.local.lambda_runtime.api_server import Delivery
from perflab.local.lambda_runtime.cloudwatch import LogWriter, now_ms
from perflab.local.lambda_runtime.launcher import WorkerProcess
from perflab.local.lambda_runtime.procutil import describe_exit, rss_bytes, status_kb


@dataclass(frozen=True)
class FunctionConfig:
    """What an invocation needs from the function version's configuration (a snapshot)."""

    account_id: str
    region: str
    name: str
    version: str
    arn: str
    handler: str
    runtime: str
    timeout_s: float
    memory_mb: int
    env_vars: tuple[tuple[str, str], ...]
    code_sha: str
    task_root: str

    @property
    def fingerprint(self) -> tuple[object, ...]:
        """Environments are reused only for an identical version, code and configuration."""
        return (
            self.version,
            self.code_sha,
            self.handler,
            self.runtime,
            self.timeout_s,
            self.memory_mb,
            self.env_vars,
        )

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"


class State(enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    DEAD = "dead"


@dataclass
class Invocation:
    request_id: str
    body: bytes
    invoked_arn: str
    timeout_s: float
    client_context: str | None = None
    trace_id: str = ""
    requested_ns: int = field(default_factory=time.perf_counter_ns)
    requested_epoch: float = field(default_factory=time.time)
    dispatched_ns: int | None = None
    dispatched_epoch: float | None = None
    done_ns: int | None = None
    result: bytes | None = None
    error_type: str | None = None
    log_lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    payload: bytes
    #: AWS's errorType when the function failed (``Unhandled``), else None.
    error_type: str | None
    #: ``timeout``/``error`` for the REPORT line when the platform ended the invocation.
    status: str | None
    duration_ms: float


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _error_type_of(body: bytes, header: str | None) -> str:
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        error_type = json.loads(body).get("errorType")
        if isinstance(error_type, str) and error_type:
            return error_type
    return header or "Unhandled"


def _iso_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Environment:
    """Implements :class:`~perflab.local.lambda_runtime.api_server.RuntimeApiTarget`."""

    def __init__(self, environment_id: str, config: FunctionConfig, logs: LogWriter, stream: str) -> None:
        self.id = environment_id
        self.config = config
        self.logs = logs
        self.log_stream = stream
        self.cond = threading.Condition()
        self.state = State.STARTING
        self.process: WorkerProcess | None = None
        self.launched_ns = time.perf_counter_ns()
        self.init_ms: float | None = None
        self.invocation: Invocation | None = None
        self.served = 0
        #: Taken by an invocation (a starting environment is taken by the one it starts for).
        self.leased = False
        self.api_socket: object = None
        self.last_used = time.monotonic()
        self.kill_reason: str | None = None
        self.init_error: tuple[bytes, str] | None = None
        self.returncode: int | None = None
        self.peak_rss = 0
        self.port = 0
        # Output pipe (read end) and the partial last line; guarded by log_lock.
        self.output_fd = -1
        self.output_eof = False
        self._partial = b""
        self.log_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def dead(self) -> bool:
        return self.state is State.DEAD

    def is_dead(self) -> bool:
        return self.state is State.DEAD

    # ---- the Runtime API side (called on the API server's connection threads) ----

    def next_invocation(self) -> Delivery | None:
        with self.cond:
            if self.init_ms is None:
                self.init_ms = (time.perf_counter_ns() - self.launched_ns) / 1e6
                if self.state is State.STARTING:
                    self.state = State.IDLE
            self.cond.notify_all()
            self.cond.wait_for(
                lambda: (
                    self.dead
                    or self.kill_reason is not None
                    or (self.invocation is not None and self.invocation.dispatched_ns is None)
                )
            )
            invocation = self.invocation
            if self.dead or self.kill_reason is not None or invocation is None:
                return None
            invocation.dispatched_ns = time.perf_counter_ns()
            invocation.dispatched_epoch = time.time()
            self.cond.notify_all()
        self.log(f"START RequestId: {invocation.request_id} Version: {self.config.version}", invocation)
        deadline_ms = int(invocation.dispatched_epoch * 1000 + invocation.timeout_s * 1000)
        headers = {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": invocation.invoked_arn,
            "Lambda-Runtime-Trace-Id": invocation.trace_id,
        }
        if invocation.client_context:
            headers["Lambda-Runtime-Client-Context"] = invocation.client_context
        return Delivery(invocation.request_id, invocation.body, headers)

    def _complete(self, request_id: str, body: bytes, error_type: str | None) -> bool:
        with self.cond:
            invocation = self.invocation
            if (
                invocation is None
                or invocation.request_id != request_id
                or invocation.done_ns is not None
                or invocation.dispatched_ns is None
            ):
                return False
            invocation.done_ns = time.perf_counter_ns()
            invocation.result = body
            invocation.error_type = error_type
            self.cond.notify_all()
            return True

    def post_response(self, request_id: str, body: bytes) -> bool:
        return self._complete(request_id, body, None)

    def post_error(self, request_id: str, body: bytes, error_type: str | None) -> bool:
        return self._complete(request_id, body, _error_type_of(body, error_type))

    def post_init_error(self, body: bytes, error_type: str | None) -> None:
        with self.cond:
            self.init_error = (body, _error_type_of(body, error_type))
            self.cond.notify_all()

    # ---- the invoking side (a request thread of the endpoint) ----

    def run(self, invocation: Invocation, init_limit_s: float) -> Outcome:
        """Hand ``invocation`` to this environment and wait for its end (or enforce the timeout)."""
        with self.cond:
            self.invocation = invocation
            self.state = State.BUSY
            self.cond.notify_all()
            dispatched = self.cond.wait_for(
                lambda: invocation.dispatched_ns is not None or self.dead,
                timeout=init_limit_s + invocation.timeout_s,
            )
            if not dispatched:
                timed_out = True
            elif invocation.dispatched_ns is None:  # died during init
                return self._death_outcome(invocation)
            else:
                elapsed = (time.perf_counter_ns() - invocation.dispatched_ns) / 1e9
                finished = self.cond.wait_for(
                    lambda: invocation.done_ns is not None or self.dead,
                    timeout=max(0.0, invocation.timeout_s - elapsed),
                )
                timed_out = not finished
                if finished and invocation.done_ns is None:
                    return self._death_outcome(invocation)
            if not timed_out:
                assert invocation.done_ns is not None and invocation.dispatched_ns is not None
                duration = (invocation.done_ns - invocation.dispatched_ns) / 1e6
                payload = invocation.result or b""
                return Outcome(payload, invocation.error_type, None, duration)
        self.kill("timeout")
        message = f"Task timed out after {invocation.timeout_s:.2f} seconds"
        self.log(f"{_iso_now()} {invocation.request_id} {message}", invocation)
        return Outcome(
            error_payload("Sandbox.Timedout", f"RequestId: {invocation.request_id} Error: {message}"),
            "Sandbox.Timedout",
            "timeout",
            invocation.timeout_s * 1000,
        )

    def _death_outcome(self, invocation: Invocation) -> Outcome:
        """The environment's process ended before the invocation did (called holding ``cond``)."""
        started = invocation.dispatched_ns or time.perf_counter_ns()
        duration = (time.perf_counter_ns() - started) / 1e6
        if self.kill_reason == "oom":
            error_type = "Runtime.OutOfMemory"
            message = f"RequestId: {invocation.request_id} Error: Runtime exited with error: signal: killed"
            payload = error_payload(error_type, message)
        elif self.init_error is not None and invocation.dispatched_ns is None:
            payload, error_type = self.init_error
            message = ""
        else:
            error_type = "Runtime.ExitError"
            reason = describe_exit(self.returncode)
            message = f"RequestId: {invocation.request_id} Error: Runtime exited with error: {reason}"
            payload = error_payload(error_type, message)
        if message:
            self.log(f"{message}\n{error_type}", invocation)
        return Outcome(payload, error_type, "error", duration)

    # ---- lifecycle ----

    def kill(self, reason: str) -> None:
        """Stop the process (timeout, out of memory, idle, shutdown); death is observed via EOF."""
        with self.cond:
            if self.kill_reason is None:
                self.kill_reason = reason
            self.cond.notify_all()
        if self.process is not None:
            self.process.kill()

    def mark_dead(self, returncode: int | None) -> None:
        with self.cond:
            self.returncode = returncode
            self.state = State.DEAD
            self.cond.notify_all()

    def max_memory_mb(self) -> int:
        pid = self.pid
        peak = self.peak_rss
        if pid is not None:
            hwm_kb = status_kb(pid, "VmHWM")
            if hwm_kb is not None:
                peak = max(peak, hwm_kb * 1024)
        return max(1, round(peak / (1024 * 1024)))

    def sample_rss(self) -> int | None:
        pid = self.pid
        if pid is None:
            return None
        rss = rss_bytes(pid)
        if rss is not None and rss > self.peak_rss:
            self.peak_rss = rss
        return rss

    # ---- logs ----

    def read_output(self) -> bool:
        """Read whatever the process has written so far (non-blocking); True at end of file."""
        with self.log_lock:
            if self.output_eof or self.output_fd < 0:
                return True
            chunks: list[bytes] = []
            while True:
                try:
                    data = os.read(self.output_fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    data = b""
                if not data:
                    self.output_eof = True
                    break
                chunks.append(data)
            if chunks or self.output_eof:
                self._emit(b"".join(chunks), flush=self.output_eof)
            return self.output_eof

    def _emit(self, data: bytes, flush: bool) -> None:
        buffer = self._partial + data
        *lines, self._partial = buffer.split(b"\n")
        if flush and self._partial:
            lines.append(self._partial)
            self._partial = b""
        if not lines:
            return
        invocation = self.invocation
        attach = invocation is not None and invocation.dispatched_ns is not None
        ts = now_ms()
        events = []
        for raw in lines:
            text = raw.decode("utf-8", errors="replace").rstrip("\r")
            events.append((ts, text))
            if attach and invocation is not None:
                invocation.log_lines.append(text)
        self.logs.put(self.log_stream, events)

    def log(self, message: str, invocation: Invocation | None = None) -> None:
        """A platform line (START/END/REPORT, errors): written in order with the handler's own."""
        with self.log_lock:
            if invocation is not None:
                invocation.log_lines.extend(message.split("\n"))
            self.logs.put(self.log_stream, [(now_ms(), message)])


def tail(lines: list[str], limit: int = 4096) -> str:
    """``LogType=Tail``: the last 4 KB of the invocation's log, base64."""
    data = ("\n".join(lines) + "\n").encode()[-limit:]
    return base64.b64encode(data).decode()


def standard_env(
    config: FunctionConfig,
    base: Mapping[str, str],
    runtime_api: str,
    stream: str,
) -> dict[str, str]:
    """The environment variables of a Lambda python runtime, configuration on top of ``base``;
    the reserved ones (``AWS_LAMBDA_*``, ``_HANDLER``...) cannot be overridden, as on AWS."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": config.task_root,
    }
    env.update(base)
    env.update(dict(config.env_vars))
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": config.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": config.version,
            "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.runtime}",
            "_HANDLER": config.handler,
            "LAMBDA_TASK_ROOT": config.task_root,
            "LAMBDA_RUNTIME_DIR": config.task_root,
            "AWS_REGION": config.region,
            "AWS_DEFAULT_REGION": config.region,
        }
    )
    return env

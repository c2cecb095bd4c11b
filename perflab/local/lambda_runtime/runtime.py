"""The stack component: moto's ``LambdaFunction.invoke`` runs the deployed zip's handler.

Enforcement, and how:

- **Concurrency:** one environment serves one invocation; an invocation takes an idle environment of
  the same version and configuration (warm) or starts a new one (cold). With reserved concurrency
  set, an invocation that would exceed it gets HTTP 429 ``TooManyRequestsException``.
- **Timeout:** the invoking thread waits at most the function's Timeout from the moment the
  environment received the event (plus the 10 s init allowance for a cold start); then the
  environment is killed and the invocation fails with ``Sandbox.Timedout``, as on AWS.
- **Memory:** ``RLIMIT_AS`` caps address space, not memory, and breaks Python allocators and
  threads; instead a watcher samples every live environment's RSS (``/proc/<pid>/statm``, every
  ``memory_poll_s``) and kills one above MemorySize: ``Runtime.OutOfMemory``. A short spike between
  samples can escape. RSS of a forked environment includes the pages it shares with the fork server.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, ClassVar

from perflab.local.context import StackContext
from perflab.local.lambda_runtime.api_server import RuntimeApiServer
from perflab.local.lambda_runtime.cloudwatch import LogWriter, log_stream_name
from perflab.local.lambda_runtime.code import unpack
from perflab.local.lambda_runtime.environment import (
    Environment,
    FunctionConfig,
    Invocation,
    Outcome,
    State,
    standard_env,
    tail,
)
from perflab.local.lambda_runtime.launcher import (
    ForkServerLauncher,
    Launcher,
    LaunchSpec,
    SpawnLauncher,
)
from perflab.local.lambda_runtime.output import OutputCollector
from perflab.local.lambda_runtime.records import InvocationRecord, RecordLog
from perflab.local.lambda_runtime.settings import RuntimeSettings

LOG = logging.getLogger(__name__)

FunctionKey = tuple[str, str, str]  # account, region, function name


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"


class LambdaRuntime:
    """Runs Lambda invocations of the stack's moto backend in local execution environments."""

    _active: ClassVar[LambdaRuntime | None] = None

    def __init__(self, ctx: StackContext, settings: RuntimeSettings | None = None) -> None:
        self.ctx = ctx
        self.settings = settings or RuntimeSettings.from_env()
        self.mode = ctx.lambda_mode
        if self.mode not in ("forkserver", "spawn"):
            raise ValueError(f"lambda mode must be 'forkserver' or 'spawn', got {self.mode!r}")
        self._lock = threading.Lock()
        self._pools: dict[FunctionKey, list[Environment]] = {}
        self._code_roots: dict[tuple[str, str, str], tuple[str, Path]] = {}
        self._records = RecordLog()
        self._api = RuntimeApiServer()
        self._collector = OutputCollector(self._on_exit)
        self._launcher: Launcher = (
            ForkServerLauncher(ctx.python, self.settings.preload)
            if self.mode == "forkserver"
            else SpawnLauncher(ctx.python)
        )
        self._stopping = threading.Event()
        self._housekeeper = threading.Thread(
            target=self._housekeeping, name="lambda-housekeeper", daemon=True
        )
        self._original_invoke: Any = None
        self._original_delete: Any = None
        self._original_simple_invoke: Any = None

    # ---- component interface ----

    @classmethod
    def active(cls) -> LambdaRuntime | None:
        """The runtime of the stack running in this process, if any (for in-process queries)."""
        return cls._active

    def start(self) -> None:
        from moto.awslambda.models import LambdaBackend, LambdaFunction

        self._api.start()
        self._collector.start()
        self._launcher.start()
        self._housekeeper.start()
        self._original_invoke = LambdaFunction.__dict__["invoke"]
        runtime = self

        def invoke(fn: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
            return runtime.invoke(fn, body, request_headers, response_headers)

        LambdaFunction.invoke = invoke
        # Deleting a function tears its environments down, as on AWS.
        self._original_delete = LambdaBackend.__dict__["delete_function"]
        original_delete = self._original_delete

        def delete_function(backend: Any, function_name: str, qualifier: str | None = None) -> Any:
            result = original_delete(backend, function_name, qualifier)
            name = function_name.split(":function:")[-1].split(":")[0]
            for env in runtime.environments(name):
                if env.config.account_id == backend.account_id and qualifier in (None, env.config.version):
                    env.kill("deleted")
            return result

        LambdaBackend.delete_function = delete_function
        # With use_docker off, moto serves Lambda from its "simple" backend, whose invoke answers a
        # canned payload without looking at the function: route it to the real backend's invoke.
        from moto.awslambda_simple.models import LambdaSimpleBackend

        self._original_simple_invoke = LambdaSimpleBackend.__dict__["invoke"]
        LambdaSimpleBackend.invoke = LambdaBackend.invoke
        LambdaRuntime._active = self
        LOG.info("local Lambda runtime started (%s)", self.mode)

    def stop(self) -> None:
        from moto.awslambda.models import LambdaBackend, LambdaFunction

        if self._original_invoke is not None:
            LambdaFunction.invoke = self._original_invoke
            self._original_invoke = None
        if self._original_delete is not None:
            LambdaBackend.delete_function = self._original_delete
            self._original_delete = None
        if self._original_simple_invoke is not None:
            from moto.awslambda_simple.models import LambdaSimpleBackend

            LambdaSimpleBackend.invoke = self._original_simple_invoke
            self._original_simple_invoke = None
        if LambdaRuntime._active is self:
            LambdaRuntime._active = None
        self._stopping.set()
        envs = self.environments()
        for env in envs:
            env.kill("shutdown")
        deadline = time.monotonic() + 5
        for env in envs:
            with env.cond:
                env.cond.wait_for(env.is_dead, timeout=max(0.0, deadline - time.monotonic()))
        self._launcher.stop()
        if self._housekeeper.is_alive():
            self._housekeeper.join(timeout=5)
        self._collector.stop()
        self._api.stop()

    # ---- queries ----

    def records(self, function_name: str | None = None) -> list[InvocationRecord]:
        return self._records.list(function_name)

    def environments(self, function_name: str | None = None) -> list[Environment]:
        with self._lock:
            return [
                env
                for (_, _, name), pool in self._pools.items()
                if function_name is None or name == function_name
                for env in pool
            ]

    # ---- invoking ----

    def invoke(
        self, fn: Any, body: Any, request_headers: Any, response_headers: MutableMapping[str, Any]
    ) -> bytes:
        """moto's ``LambdaFunction.invoke(body, request_headers, response_headers)``."""
        from perflab.local.lambda_runtime.errors import InvalidParameterValueException

        invocation_type = request_headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type == "DryRun":
            return b""
        if not getattr(fn, "code_bytes", b""):
            raise InvalidParameterValueException(
                "The local Lambda runtime runs zip packages only (PackageType=Zip with ZipFile or S3 code)"
            )
        config = self._config(fn)
        payload = body.encode() if isinstance(body, str) else bytes(body or b"")
        client_context = request_headers.get("X-Amz-Client-Context")
        if client_context:
            with contextlib.suppress(ValueError):
                client_context = base64.b64decode(client_context).decode()
        if invocation_type == "Event":
            threading.Thread(
                target=self._invoke_event, args=(config, payload or b"{}"), name="lambda-event", daemon=True
            ).start()
            return b""
        invocation, outcome = self.execute(config, payload or b"{}", client_context or None)
        if outcome.error_type is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["x-amz-log-result"] = tail(invocation.log_lines)
        response_headers["x-amz-executed-version"] = config.version
        return outcome.payload

    def _invoke_event(self, config: FunctionConfig, payload: bytes) -> None:
        """Asynchronous invocation: Lambda queues it and retries throttles; so do we, for a while."""
        from perflab.local.lambda_runtime.errors import TooManyRequestsException

        delay = 0.5
        for _ in range(12):
            try:
                self.execute(config, payload, None)
                return
            except TooManyRequestsException:
                if self._stopping.wait(delay):
                    return
                delay = min(delay * 2, 30.0)
            except Exception:
                LOG.exception("asynchronous invocation of %s failed", config.name)
                return

    def execute(
        self, config: FunctionConfig, payload: bytes, client_context: str | None
    ) -> tuple[Invocation, Outcome]:
        """Run one invocation to its end; returns it with its outcome (also recorded)."""
        invocation = Invocation(
            request_id=str(uuid.uuid4()),
            body=payload,
            invoked_arn=config.arn,
            timeout_s=config.timeout_s,
            client_context=client_context,
            trace_id=_trace_id(),
        )
        env, cold = self._acquire(config)
        try:
            outcome = env.run(invocation, self.settings.init_limit_s)
            env.read_output()
            record = InvocationRecord(
                request_id=invocation.request_id,
                function_name=config.name,
                version=config.version,
                environment_id=env.id,
                pid=env.pid,
                log_stream=env.log_stream,
                cold=cold,
                init_ms=env.init_ms if cold else None,
                duration_ms=outcome.duration_ms,
                memory_size_mb=config.memory_mb,
                max_memory_used_mb=env.max_memory_mb(),
                started_at=invocation.dispatched_epoch or invocation.requested_epoch,
                error_type=outcome.error_type,
                status=outcome.status,
            )
            env.log(f"END RequestId: {invocation.request_id}", invocation)
            env.log(record.report_line(), invocation)
        finally:
            self._release(env)
        self._records.add(record)
        return invocation, outcome

    def _config(self, fn: Any) -> FunctionConfig:
        name = str(fn.function_name)
        version = str(fn.version)
        key = (name, version, str(fn.code_sha_256))
        cached = self._code_roots.get(key)
        if cached is None:
            from perflab.local.lambda_runtime.code import code_digest

            code: bytes = fn.code_bytes
            cached = (code_digest(code), unpack(code, self.ctx.state_dir, name))
            self._code_roots[key] = cached
        digest, root = cached
        region, account = str(fn.region), str(fn.account_id)
        partition = "aws-cn" if region.startswith("cn-") else "aws"
        arn = f"arn:{partition}:lambda:{region}:{account}:function:{name}"
        if version != "$LATEST":
            arn = f"{arn}:{version}"
        env_vars = tuple(sorted((str(k), str(v)) for k, v in (fn.environment_vars or {}).items()))
        return FunctionConfig(
            account_id=account,
            region=region,
            name=name,
            version=version,
            arn=arn,
            handler=str(fn.handler),
            runtime=str(fn.run_time or "python3.11"),
            timeout_s=float(fn.timeout or 3),
            memory_mb=int(fn.memory_size or 128),
            env_vars=env_vars,
            code_sha=digest,
            task_root=str(root),
        )

    @staticmethod
    def _reserved_concurrency(config: FunctionConfig) -> int | None:
        from moto.awslambda.utils import get_backend

        try:
            latest = get_backend(config.account_id, config.region).get_function(config.name)
        except Exception:
            return None
        reserved = latest.reserved_concurrency
        return None if reserved is None or reserved == "" else int(reserved)

    def _acquire(self, config: FunctionConfig) -> tuple[Environment, bool]:
        from perflab.local.lambda_runtime.errors import ServiceException, TooManyRequestsException

        key: FunctionKey = (config.account_id, config.region, config.name)
        reserved = self._reserved_concurrency(config)
        with self._lock:
            if self._stopping.is_set():
                raise ServiceException("the local Lambda runtime is stopping")
            pool = self._pools.setdefault(key, [])
            if reserved is not None and sum(1 for env in pool if env.leased) >= reserved:
                raise TooManyRequestsException()
            stale: list[Environment] = []
            for env in pool:
                if env.leased or env.kill_reason is not None or env.state is not State.IDLE:
                    continue
                if env.config.fingerprint == config.fingerprint:
                    env.leased = True
                    return env, False
                if env.config.version == config.version:
                    stale.append(env)  # the configuration or code changed: retire old ones
            env = Environment(
                secrets.token_hex(8),
                config,
                LogWriter(config.account_id, config.region, config.log_group),
                "",
            )
            env.leased = True
            pool.append(env)
        for old in stale:
            old.kill("replaced")
        try:
            self._launch(env)
        except Exception as exc:
            LOG.exception("starting an environment for %s failed", config.name)
            env.kill("launch-failed")
            raise ServiceException(f"could not start an execution environment: {exc}") from exc
        return env, True

    def _launch(self, env: Environment) -> None:
        config = env.config
        env.log_stream = log_stream_name(config.version)
        env.logs.create_stream(env.log_stream)
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        env.output_fd = read_fd
        sock = self._api.open(env)
        env.api_socket = sock
        env.port = int(sock.getsockname()[1])
        env.log(f"INIT_START Runtime Version: {config.runtime}.local.{self.mode}")
        variables = standard_env(config, self.ctx.worker_env(), f"127.0.0.1:{env.port}", env.log_stream)
        self._collector.add(env)
        env.launched_ns = time.perf_counter_ns()
        env.process = self._launcher.launch(
            LaunchSpec(env.id, config.handler, config.task_root, variables, write_fd)
        )

    def _release(self, env: Environment) -> None:
        with self._lock:
            with env.cond:
                env.invocation = None
                if env.state is State.BUSY:
                    env.state = State.IDLE
                env.served += 1
                env.cond.notify_all()
            env.leased = False
            env.last_used = time.monotonic()

    def _on_exit(self, env: Environment) -> None:
        returncode = env.process.returncode(timeout=2.0) if env.process is not None else None
        env.mark_dead(returncode)
        if env.api_socket is not None:
            self._api.close(env.api_socket)  # type: ignore[arg-type]
        key: FunctionKey = (env.config.account_id, env.config.region, env.config.name)
        with self._lock:
            pool = self._pools.get(key, [])
            if env in pool:
                pool.remove(env)
        if env.kill_reason is None and env.invocation is None and env.served > 0:
            LOG.info("environment %s of %s exited while idle", env.id, env.config.name)

    # ---- housekeeping: memory limit, idle reaping ----

    def _housekeeping(self) -> None:
        next_reap = time.monotonic()
        while not self._stopping.wait(self.settings.memory_poll_s):
            for env in self.environments():
                if env.kill_reason is not None or env.dead:
                    continue
                rss = env.sample_rss()
                if rss is not None and rss > env.config.memory_mb * 1024 * 1024:
                    LOG.info(
                        "environment %s of %s above %d MB: killed",
                        env.id,
                        env.config.name,
                        env.config.memory_mb,
                    )
                    env.kill("oom")
            now = time.monotonic()
            if now >= next_reap:
                next_reap = now + min(5.0, self.settings.idle_timeout_s / 4)
                self._reap_idle(now)

    def _reap_idle(self, now: float) -> None:
        idle: list[Environment] = []
        with self._lock:
            for pool in self._pools.values():
                for env in pool:
                    if (
                        not env.leased
                        and env.kill_reason is None
                        and env.state is State.IDLE
                        and now - env.last_used > self.settings.idle_timeout_s
                    ):
                        env.kill_reason = "idle"
                        idle.append(env)
        for env in idle:
            env.kill("idle")

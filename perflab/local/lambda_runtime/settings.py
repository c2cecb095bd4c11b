"""Tunables of the local Lambda runtime, read once from the environment (fail fast on bad values)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from perflab.local.preload import COMMON_LIBRARY_PRELOAD, COMMON_PRELOAD, preload_from_env

#: Modules the fork server imports before it forks: what Lambda code commonly imports at init.
#: Missing ones are skipped. awslambdaric's client modules are deliberately not among them: its
#: native ``runtime_client`` reads ``AWS_LAMBDA_RUNTIME_API`` when it is imported and keeps that
#: address for good, so each environment imports it after its own address is set.
DEFAULT_PRELOAD: tuple[str, ...] = (
    *COMMON_PRELOAD,
    "boto3.dynamodb.conditions",
    "awslambdaric.lambda_context",
    "awslambdaric.lambda_runtime_exception",
    "awslambdaric.lambda_runtime_log_utils",
    "awslambdaric.lambda_runtime_marshaller",
    *COMMON_LIBRARY_PRELOAD,
    "aws_lambda_powertools.event_handler",
)

IDLE_TIMEOUT_ENV = "PERFLAB_LAMBDA_IDLE_TIMEOUT_S"
MEMORY_POLL_ENV = "PERFLAB_LAMBDA_MEMORY_POLL_S"
INIT_LIMIT_ENV = "PERFLAB_LAMBDA_INIT_LIMIT_S"
PRELOAD_ENV = "PERFLAB_LAMBDA_PRELOAD"


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class RuntimeSettings:
    """``idle_timeout_s``: an environment idle this long is reaped (AWS keeps them minutes, too).
    ``memory_poll_s``: how often live environments' RSS is sampled for the memory limit.
    ``init_limit_s``: AWS gives the init phase 10 s, then retries it inside the invocation's own
    timeout; an environment that has not asked for work after ``init_limit_s`` + Timeout is killed.
    ``preload``: modules the fork server imports before forking."""

    idle_timeout_s: float = 600.0
    memory_poll_s: float = 0.1
    init_limit_s: float = 10.0
    preload: tuple[str, ...] = field(default=DEFAULT_PRELOAD)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RuntimeSettings:
        env = os.environ if environ is None else environ
        return cls(
            idle_timeout_s=_float(env, IDLE_TIMEOUT_ENV, cls.idle_timeout_s),
            memory_poll_s=_float(env, MEMORY_POLL_ENV, cls.memory_poll_s),
            init_limit_s=_float(env, INIT_LIMIT_ENV, cls.init_limit_s),
            preload=preload_from_env(env, PRELOAD_ENV, DEFAULT_PRELOAD),
        )

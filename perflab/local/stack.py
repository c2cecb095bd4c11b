"""The local cloud in this process: endpoint, compat patches, Lambda runtime, ECS agent, PostgreSQL.

Use :class:`LocalCloud` as a context manager (or ``start``/``stop``). For a stack in its own
process,
see :mod:`perflab.local.process`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from perflab.local import compat
from perflab.local.context import DEFAULT_ACCOUNT_ID, StackContext
from perflab.local.endpoint import Endpoint

LOG = logging.getLogger(__name__)

DEFAULT_PORT = 4566
#: Port of the API Gateway stand-in for `perflab local up` (the embedded stack defaults to 0: any).
DEFAULT_API_PORT = 4567
DEFAULT_REGION = "us-east-1"


class Component(Protocol):
    def start(self) -> object: ...

    def stop(self) -> None: ...


def default_lambda_mode() -> str:
    """``forkserver`` where cores are few (100 cold interpreters at once fail their init on 2
    cores); ``spawn`` (a fresh interpreter per environment, closer to AWS) otherwise."""
    return "forkserver" if (os.cpu_count() or 1) < 8 else "spawn"


def default_ecs_mode() -> str:
    """Where cores are few, ECS Python tasks are forked from a preloaded spawner (``forkserver``):
    100 fresh interpreters importing boto3 at once take 25-36 s on 2 cores. ``spawn`` otherwise."""
    return "forkserver" if (os.cpu_count() or 1) < 8 else "spawn"


@dataclass
class LocalCloudConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    region: str = DEFAULT_REGION
    state_dir: Path | None = None
    #: Start PostgreSQL unless ``database_url`` (or ``PERFLAB_DATABASE_URL``) names one.
    database: bool = True
    database_url: str | None = None
    postgres_max_connections: int = 300
    lambda_mode: str = field(default_factory=default_lambda_mode)
    ecs_mode: str = field(default_factory=default_ecs_mode)
    image_commands: Mapping[str, Sequence[str]] = field(default_factory=dict)
    #: Port of the API Gateway stand-in (:mod:`perflab.local.apigateway`); 0 picks a free one.
    api_port: int = 0


@dataclass
class LocalCloudInfo:
    endpoint_url: str
    region: str
    state_dir: str
    database_url: str | None
    pid: int
    account_id: str = DEFAULT_ACCOUNT_ID
    #: Base URL of the API Gateway stand-in serving the stack's HTTP APIs.
    api_url: str | None = None

    def env(self) -> dict[str, str]:
        """Environment variables that point AWS SDKs and perflab at this stack."""
        ctx = StackContext(self.endpoint_url, self.region, Path(self.state_dir))
        env = ctx.worker_env()
        if self.database_url:
            env["PERFLAB_DATABASE_URL"] = self.database_url
        return env

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "state_dir": self.state_dir,
            "database_url": self.database_url,
            "pid": self.pid,
            "account_id": self.account_id,
            "api_url": self.api_url,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LocalCloudInfo:
        return cls(
            endpoint_url=str(data["endpoint_url"]),
            region=str(data["region"]),
            state_dir=str(data["state_dir"]),
            database_url=data.get("database_url"),
            pid=int(data["pid"]),
            account_id=str(data.get("account_id", DEFAULT_ACCOUNT_ID)),
            api_url=data.get("api_url"),
        )


class LocalCloud:
    """One local cloud, running in this process."""

    def __init__(self, config: LocalCloudConfig | None = None) -> None:
        self.config = config or LocalCloudConfig()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._endpoint = Endpoint(self.config.host, self.config.port)
        self._components: list[Component] = []
        self.info: LocalCloudInfo | None = None
        self.applied_patches: list[compat.CompatPatch] = []

    def start(self) -> LocalCloudInfo:
        from perflab.local.apigateway import ApiGateway
        from perflab.local.ecs_agent import EcsAgent
        from perflab.local.lambda_runtime import LambdaRuntime

        state_dir = self.config.state_dir
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="perflab-local-")
            state_dir = Path(self._tmp.name)
        state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.applied_patches = compat.apply_all()
            database_url = self.config.database_url or os.environ.get("PERFLAB_DATABASE_URL")
            if database_url is None and self.config.database:
                from perflab.local.postgres import LocalPostgres

                pg = LocalPostgres(
                    state_dir / "postgres", max_connections=self.config.postgres_max_connections
                )
                database_url = pg.start()
                self._components.append(pg)
            endpoint_url = self._endpoint.start()
            ctx = StackContext(
                endpoint_url=endpoint_url,
                region=self.config.region,
                state_dir=state_dir,
                lambda_mode=self.config.lambda_mode,
                ecs_mode=self.config.ecs_mode,
                image_commands=self.config.image_commands,
            )
            for component in (LambdaRuntime(ctx), EcsAgent(ctx)):
                component.start()
                self._components.append(component)
            api_gateway = ApiGateway(ctx, self.config.host, self.config.api_port)
            api_url = api_gateway.start()
            self._components.append(api_gateway)
        except BaseException:
            self.stop()
            raise
        self.info = LocalCloudInfo(
            endpoint_url=endpoint_url,
            region=self.config.region,
            state_dir=str(state_dir),
            database_url=database_url,
            pid=os.getpid(),
            api_url=api_url,
        )
        return self.info

    def stop(self) -> None:
        """Stop everything this stack started, newest first. Safe to call twice."""
        self._endpoint.stop()
        while self._components:
            component = self._components.pop()
            try:
                component.stop()
            except Exception:
                LOG.exception("stopping %s failed", type(component).__name__)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalCloudInfo:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

"""Standard fixtures: one local cloud per test session, clients pointed at it, unique names."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from perflab.local.process import local_cloud_process
from perflab.local.stack import LocalCloudConfig, LocalCloudInfo


def unique(prefix: str) -> str:
    """A resource name no other test (or parallel run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def local_cloud() -> Iterator[LocalCloudInfo]:
    """The local cloud (with PostgreSQL) in a child process, shared by the session's tests."""
    with local_cloud_process(LocalCloudConfig(port=0)) as info:
        yield info


ClientFactory = Callable[[str], Any]


def make_client_factory(
    info: LocalCloudInfo, max_attempts: int = 2, max_pool_connections: int = 50
) -> ClientFactory:
    config = Config(
        retries={"max_attempts": max_attempts, "mode": "standard"}, max_pool_connections=max_pool_connections
    )

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=info.endpoint_url,
            region_name=info.region,
            aws_access_key_id="perflab-local",
            aws_secret_access_key="perflab-local-secret",
            config=config,
        )

    return client


@pytest.fixture(scope="session")
def aws(local_cloud: LocalCloudInfo) -> ClientFactory:
    """``aws("stepfunctions")`` → a boto3 client for the session's local cloud."""
    return make_client_factory(local_cloud)


@pytest.fixture(scope="session", autouse=True)
def _close_database_connections() -> Iterator[None]:
    """Close the per-environment PostgreSQL connections the data path caches in this process."""
    yield
    from perflab.storage import pg

    pg.close_all()

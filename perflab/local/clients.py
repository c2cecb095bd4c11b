"""boto3 clients pointed at a running local cloud."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from perflab.local.context import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY


class LocalClients:
    """``clients("stepfunctions")`` → a boto3 client for the endpoint (one per service, cached)."""

    def __init__(self, endpoint_url: str, region: str, max_pool_connections: int = 50) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self._session = boto3.session.Session()
        self._config = Config(
            retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=max_pool_connections
        )
        self._cache: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._cache:
            self._cache[service] = self._session.client(
                service,
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=DUMMY_ACCESS_KEY_ID,
                aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
                config=self._config,
            )
        return self._cache[service]

"""Preloading for fork servers (the Lambda runtime's and the ECS agent's spawner).

A fork server imports heavy libraries once and forks a process per execution environment or task,
so each child starts with them imported instead of paying the import in a fresh interpreter.

This module imports only the standard library at the top: a fork server's image is what every child
inherits, and it must not pull the stack's modules (moto, werkzeug) into it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping, Sequence
from typing import Any

#: What Python code that talks to AWS commonly imports at start-up: both fork servers preload these
#: (the Lambda runtime adds its own). A module that is not installed is skipped.
COMMON_PRELOAD: tuple[str, ...] = (
    "json",
    "logging",
    "hashlib",
    "uuid",
    "decimal",
    "http.client",
    "ssl",
    "boto3",
    "boto3.session",
    "boto3.s3.transfer",
    "boto3.dynamodb.types",
    "botocore",
    "botocore.session",
    "botocore.client",
    "botocore.credentials",
    "botocore.httpsession",
    "botocore.parsers",
    "botocore.serialize",
    "botocore.endpoint_provider",
    "urllib3",
    "s3transfer",
)

#: Libraries common in Python Lambda and task code beyond the SDK (Powertools, pydantic, psycopg,
#: numpy): preloaded by both fork servers when installed. aws_xray_sdk.core is what Powertools' Tracer
#: imports even when tracing is disabled (about 0.2 s per process on a 2-core machine).
COMMON_LIBRARY_PRELOAD: tuple[str, ...] = (
    "aws_lambda_powertools",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.tracing",
    "aws_xray_sdk.core",
    "pydantic",
    "pydantic_settings",
    "psycopg",
    "psycopg_pool",
    "numpy",
)

#: Dummy values for warming botocore without touching the environment or the network: with explicit
#: credentials a client never runs the credential provider chain (which may probe IMDS).
_WARM_REGION = "us-east-1"
_WARM_KEY = "perflab-preload"


def preload_from_env(environ: Mapping[str, str], variable: str, default: Sequence[str]) -> tuple[str, ...]:
    """The modules named, comma-separated, in ``environ[variable]``; ``default`` when it is unset or empty."""
    configured = environ.get(variable)
    if not configured:
        return tuple(default)
    return tuple(m.strip() for m in configured.split(",") if m.strip())


def import_modules(modules: Sequence[str]) -> tuple[list[str], list[str]]:
    """Import ``modules``; return (loaded, missing). A module that fails to import is skipped."""
    loaded: list[str] = []
    missing: list[str] = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            missing.append(name)
        else:
            loaded.append(name)
    return loaded, missing


class BotocoreWarmup:
    """Warm botocore's data loader in a fork server, and let its children's sessions reuse it.

    :meth:`warm` (in the server) creates one client per service on a throwaway session: that parses
    the service models, endpoint rule sets, partitions and retry configuration once and imports
    botocore's lazily imported modules. No client is kept and nothing touches the network.

    :meth:`install_in_child` (in a forked child) drops boto3's default session, so the child's first
    ``boto3.client(...)`` builds a fresh session from the child's own environment (region,
    credentials, ``AWS_ENDPOINT_URL``), and makes every new botocore data loader start with a copy of
    the warm loader's cache, when it searches the same paths. Sessions stay independent: each gets its
    own loader object (boto3 appends its own data path to a session's loader), only the parsed, read-only
    JSON is shared, as it is between clients of one session in any process.
    """

    def __init__(self) -> None:
        self._cache: dict[Any, Any] | None = None
        self._search_paths: list[str] | None = None
        self.services: list[str] = []

    def warm(self, services: Sequence[str]) -> list[str]:
        """Create a client per service on a throwaway session; return the services warmed."""
        try:
            import botocore.session
        except ImportError:
            return []
        session = botocore.session.get_session()
        for service in services:
            try:
                session.create_client(
                    service,
                    region_name=_WARM_REGION,
                    aws_access_key_id=_WARM_KEY,
                    aws_secret_access_key=_WARM_KEY,
                )
            except Exception:
                continue
            self.services.append(service)
        loader = session.get_component("data_loader")
        cache = getattr(loader, "_cache", None)
        if isinstance(cache, dict) and isinstance(getattr(loader, "search_paths", None), list):
            self._cache = dict(cache)
            self._search_paths = list(loader.search_paths)
        return self.services

    def install_in_child(self) -> None:
        boto3 = sys.modules.get("boto3")
        if boto3 is not None:
            boto3.DEFAULT_SESSION = None  # type: ignore[attr-defined]
        session_module = sys.modules.get("botocore.session")
        if self._cache is None or session_module is None:
            return
        original = getattr(session_module, "create_loader", None)
        if original is None:
            return
        cache, search_paths = self._cache, self._search_paths

        def create_loader(search_path_string: str | None = None) -> Any:
            loader = original(search_path_string)
            if getattr(loader, "search_paths", None) == search_paths and isinstance(
                getattr(loader, "_cache", None), dict
            ):
                loader._cache.update(cache)
            return loader

        session_module.create_loader = create_loader  # type: ignore[attr-defined]

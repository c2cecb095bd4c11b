"""The database password from AWS Secrets Manager, for conninfos that carry none (on AWS).

Terraform gives the functions ``PERFLAB_DATABASE_URL`` without a password and
``PERFLAB_DATABASE_SECRET_ARN`` naming the RDS-managed secret (JSON with ``username`` and
``password``); the ECS task gets ``PGPASSWORD`` injected by ECS instead. :func:`with_secret_password`
merges the secret's password (and user, when the conninfo names none) into the conninfo, reading the
secret once per process. Locally the conninfo carries its password and no secret is named.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from perflab.storage.base import StorageError


@functools.cache
def _secret(secret_arn: str, region: str) -> dict[str, Any]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        text = boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=secret_arn)
    except (BotoCoreError, ClientError) as exc:
        raise StorageError(f"cannot read the database secret {secret_arn}: {exc}") from None
    try:
        value = json.loads(text["SecretString"])
    except (KeyError, ValueError):
        raise StorageError(f"the database secret {secret_arn} is not JSON with a password") from None
    if not isinstance(value, dict) or not value.get("password"):
        raise StorageError(f"the database secret {secret_arn} has no password field")
    return value


@functools.cache
def with_secret_password(conninfo: str, secret_arn: str | None, region: str) -> str:
    """``conninfo`` with the secret's password (and user) when it has none and a secret is named.

    Cached: it runs for every RDS invocation (store and registry lookup), and its result depends only
    on its arguments and the secret, which is read once per process."""
    if not secret_arn:
        return conninfo
    params = conninfo_to_dict(conninfo)
    if params.get("password"):
        return conninfo
    secret = _secret(secret_arn, region)
    extra = {"password": str(secret["password"])}
    if not params.get("user") and secret.get("username"):
        extra["user"] = str(secret["username"])
    return make_conninfo(conninfo, **extra)

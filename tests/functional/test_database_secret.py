"""The database password from Secrets Manager (as on AWS), against moto in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from psycopg.conninfo import conninfo_to_dict

from perflab.storage import credentials
from perflab.storage.base import StorageError
from perflab.storage.credentials import with_secret_password

REGION = "us-east-1"


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    credentials._secret.cache_clear()
    with_secret_password.cache_clear()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)
    credentials._secret.cache_clear()
    with_secret_password.cache_clear()


def test_a_conninfo_without_password_gets_the_secrets(secrets: object) -> None:
    client: object = secrets
    arn = client.create_secret(  # type: ignore[attr-defined]
        Name="rds!db-1", SecretString=json.dumps({"username": "perflab", "password": "s3cr=t 'x"})
    )["ARN"]
    merged = with_secret_password("host=db.example port=5432 dbname=perflab sslmode=require", arn, REGION)
    params = conninfo_to_dict(merged)
    assert params["password"] == "s3cr=t 'x" and params["user"] == "perflab"  # quoted correctly
    assert params["host"] == "db.example" and params["sslmode"] == "require"


def test_a_conninfo_with_a_password_or_no_secret_is_left_alone(secrets: object) -> None:
    assert with_secret_password(
        "host=h password=p", "arn:aws:secretsmanager:us-east-1:1:secret:x", REGION
    ) == ("host=h password=p")
    assert with_secret_password("host=h", None, REGION) == "host=h"


def test_a_missing_or_malformed_secret_is_a_storage_error(secrets: object) -> None:
    client: object = secrets
    with pytest.raises(StorageError, match="cannot read the database secret"):
        with_secret_password("host=h", "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope", REGION)
    arn = client.create_secret(Name="bad", SecretString="not json")["ARN"]  # type: ignore[attr-defined]
    with pytest.raises(StorageError, match="not JSON"):
        with_secret_password("host=h", arn, REGION)

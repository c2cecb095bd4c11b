"""Settings and RunRequest validation: every bad input names its field; env > JSON file > defaults."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perflab import config
from perflab.config import ConfigError, InvalidRequest, RunRequest, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No PERFLAB_* variable from the outer environment, and no config/perflab.json in the cwd."""
    for name in list(os.environ):
        if name.startswith("PERFLAB_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    config.get_settings.cache_clear()
    yield
    config.get_settings.cache_clear()


def test_defaults_match_the_contract() -> None:
    s = load_settings()
    assert (s.region, s.bucket, s.invocations_table, s.runs_table) == (
        "us-east-1",
        "perflab-artifacts",
        "perflab-invocations",
        "perflab-runs",
    )
    assert s.database_url is None and s.api_token is None
    assert (s.model_id, s.version, s.artifact_bytes, s.chunk_bytes) == (
        "tiny-llm",
        "1.0.0",
        24_800_000,
        1_048_576,
    )
    assert (s.invocations, s.max_invocations, s.rds_layout, s.s3_range_parts) == (100, 1000, "chunks", 0)
    assert (s.enable_caching, s.s3_max_pool_connections, s.db_pool_size) == (False, 10, 1)
    assert (s.lambda_timeout_s, s.task_timeout_s) == (120, 300)


def test_every_field_is_described() -> None:
    for name, info in Settings.model_fields.items():
        assert info.description, name


@pytest.mark.parametrize(
    ("env", "value", "field", "expected"),
    [
        (
            "PERFLAB_RDS_LAYOUT",
            "foo",
            "rds_layout",
            "rds_layout: must be one of chunks, large_object (got 'foo')",
        ),
        ("PERFLAB_INVOCATIONS", "0", "invocations", "from 1 to max_invocations (got '0')"),
        ("PERFLAB_INVOCATIONS", "-3", "invocations", "from 1 to max_invocations (got '-3')"),
        ("PERFLAB_INVOCATIONS", "1.5", "invocations", "an integer"),
        ("PERFLAB_INVOCATIONS", "1001", "invocations", "max_invocations=1000"),
        ("PERFLAB_INVOCATIONS", "many", "invocations", "an integer"),
        ("PERFLAB_MAX_INVOCATIONS", "10001", "max_invocations", "from 1 to 10000"),
        ("PERFLAB_ARTIFACT_BYTES", "0", "artifact_bytes", "from 1 to 10737418240"),
        ("PERFLAB_ARTIFACT_BYTES", str(10**15), "artifact_bytes", "from 1 to 10737418240"),
        ("PERFLAB_CHUNK_BYTES", "1.5", "chunk_bytes", "an integer from 4096"),
        ("PERFLAB_S3_RANGE_PARTS", "17", "s3_range_parts", "from 0 to 16"),
        ("PERFLAB_ENABLE_CACHING", "maybe", "enable_caching", "true or false"),
        ("PERFLAB_S3_MAX_POOL_CONNECTIONS", "0", "s3_max_pool_connections", "from 1 to 1000"),
        ("PERFLAB_DB_POOL_SIZE", "-1", "db_pool_size", "from 1 to 100"),
        ("PERFLAB_LAMBDA_TIMEOUT_S", "901", "lambda_timeout_s", "from 1 to 900"),
        ("PERFLAB_TASK_TIMEOUT_S", "0", "task_timeout_s", "from 1 to 86400"),
        ("PERFLAB_BUCKET", "Not_A_Bucket", "bucket", "a string matching"),
        ("PERFLAB_RUNS_TABLE", "x", "runs_table", "a string matching"),
        ("PERFLAB_MODEL_ID", "../etc", "model_id", "a string matching"),
        ("PERFLAB_REGION", "", "region", "region: must be a string"),
    ],
)
def test_bad_setting_names_the_field(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, field: str, expected: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert expected in str(caught.value)
    with pytest.raises(ConfigError):
        config.get_settings()


def test_every_bad_field_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFLAB_RDS_LAYOUT", "foo")
    monkeypatch.setenv("PERFLAB_DB_POOL_SIZE", "0")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert {field for field, _ in caught.value.errors} == {"rds_layout", "db_pool_size"}


def test_secrets_are_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFLAB_API_TOKEN", "tok-123")
    monkeypatch.setenv("PERFLAB_DATABASE_URL", "postgresql://u:hunter2@h/db")
    s = load_settings()
    assert "hunter2" not in repr(s) and "tok-123" not in repr(s)
    assert s.database_url is not None and s.database_url.get_secret_value() == "postgresql://u:hunter2@h/db"
    with pytest.raises(ConfigError) as caught:
        load_settings(api_token=12345)
    assert "12345" not in str(caught.value) and "<redacted>" in str(caught.value)


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_json_file_in_default_location_is_read() -> None:
    write_json(Path("config/perflab.json"), {"invocations": 7, "rds_layout": "large_object"})
    s = load_settings()
    assert (s.invocations, s.rds_layout, s.bucket) == (7, "large_object", "perflab-artifacts")


def test_env_var_beats_json_file_and_json_file_beats_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = write_json(
        tmp_path / "elsewhere.json", {"invocations": 7, "bucket": "from-file", "db_pool_size": 3}
    )
    monkeypatch.setenv("PERFLAB_CONFIG_FILE", str(path))
    monkeypatch.setenv("PERFLAB_INVOCATIONS", "9")
    s = load_settings()
    assert (s.invocations, s.bucket, s.db_pool_size, s.region) == (9, "from-file", 3, "us-east-1")
    assert load_settings(invocations=11).invocations == 11  # keyword overrides beat both


def test_get_settings_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    first = config.get_settings()
    monkeypatch.setenv("PERFLAB_INVOCATIONS", "5")
    assert config.get_settings() is first
    config.get_settings.cache_clear()
    assert config.get_settings().invocations == 5


@pytest.mark.parametrize(
    ("content", "field", "expected"),
    [
        ('{"rds_layout": "foo"}', "rds_layout", "must be one of chunks, large_object (got 'foo')"),
        ('{"invocatons": 5}', "invocatons", "is not a known option; known options: region, bucket"),
        ('{"invocations": 0}', "invocations", "must be an integer from 1 to max_invocations (got 0)"),
        ('{"invocations": -2}', "invocations", "must be an integer from 1 to max_invocations (got -2)"),
        ('{"invocations": 1.5}', "invocations", "must be an integer"),
        ('{"invocations": 1001}', "invocations", "max_invocations=1000 (got 1001)"),
        ('{"artifact_bytes": 0}', "artifact_bytes", "an integer from 1 to 10737418240"),
        ('{"artifact_bytes": 1000000000000000}', "artifact_bytes", "an integer from 1 to 10737418240"),
        ('{"model_id": "../etc"}', "model_id", "a string matching"),
        ('{"lambda_timeout_s": 901}', "lambda_timeout_s", "from 1 to 900"),
        ("{not json", "config_file", "not readable JSON"),
        ("[1, 2]", "config_file", "JSON object"),
    ],
)
def test_bad_json_file_names_the_field(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str, field: str, expected: str
) -> None:
    path = tmp_path / "perflab.json"
    path.write_text(content, encoding="utf-8")
    monkeypatch.setenv("PERFLAB_CONFIG_FILE", str(path))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.field == field
    assert expected in str(caught.value)


def test_explicit_config_file_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PERFLAB_CONFIG_FILE", str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match=r"config_file: PERFLAB_CONFIG_FILE=.*missing.json does not exist"):
        load_settings()


def test_example_config_file_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    example = REPO / "config" / "perflab.example.json"
    monkeypatch.setenv("PERFLAB_CONFIG_FILE", str(example))
    s = load_settings()
    data = json.loads(example.read_text(encoding="utf-8"))
    assert data and all(getattr(s, key) == value for key, value in data.items())


def test_settings_table_lists_every_option() -> None:
    table = config.settings_table_markdown()
    lines = table.strip().splitlines()
    assert lines[0].startswith("| setting")
    for name, info in Settings.model_fields.items():
        row = next(line for line in lines if line.startswith(f"| `{name}` "))
        assert f"`PERFLAB_{name.upper()}`" in row
        assert (info.description or "").split("(")[0].strip() in row
    assert "`PERFLAB_CONFIG_FILE`" in table
    assert all(line.count("|") - line.count("\\|") == 6 for line in lines)


# --- RunRequest ---------------------------------------------------------------------------------------

BASE = {"compute": "lambda", "storage": "s3"}


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"compute": None}, "compute", "must be one of lambda, ecs"),
        ({"compute": "fargate"}, "compute", "must be one of lambda, ecs (got 'fargate')"),
        ({"storage": "efs"}, "storage", "must be one of s3, rds"),
        ({"invocations": 0}, "invocations", "an integer from 1 to 1000"),
        ({"invocations": 1001}, "invocations", "an integer from 1 to 1000 (got 1001)"),
        ({"invocations": True}, "invocations", "(got True)"),
        ({"invocations": 1.5}, "invocations", "(got 1.5)"),
        ({"invocations": 2.0}, "invocations", "(got 2.0)"),
        ({"invocations": "3"}, "invocations", "(got '3')"),
        ({"artifact_bytes": 0}, "artifact_bytes", "an integer from 1 to 10737418240"),
        ({"artifact_bytes": 10 * 1024**3 + 1}, "artifact_bytes", "from 1 to"),
        ({"artifact_bytes": "24.8MB"}, "artifact_bytes", "an integer"),
        ({"run_id": "has space"}, "run_id", "[A-Za-z0-9_-]{1,80}"),
        ({"run_id": "x" * 81}, "run_id", "[A-Za-z0-9_-]{1,80}"),
        ({"run_id": ""}, "run_id", "matching"),
        ({"run_id": 5}, "run_id", "matching"),
        ({"rds_layout": "blob"}, "rds_layout", "must be one of chunks, large_object"),
        ({"s3_range_parts": 17}, "s3_range_parts", "from 0 to 16"),
        ({"s3_range_parts": -1}, "s3_range_parts", "from 0 to 16"),
        ({"enable_caching": "yes"}, "enable_caching", "true or false"),
        ({"enable_caching": 1}, "enable_caching", "true or false"),
        ({"label": "x" * 201}, "label", "at most 200"),
        ({"model_id": ""}, "model_id", "matching"),
        ({"version": "1.0 beta"}, "version", "matching"),
        ({"db_pool_size": 0}, "db_pool_size", "from 1 to 100"),
        ({"s3_max_pool_connections": 1001}, "s3_max_pool_connections", "from 1 to 1000"),
        ({"max_concurrency": 0}, "max_concurrency", "from 1 to 10000, or null"),
        ({"maxConcurrency": 5}, "maxConcurrency", "is not a known option"),
    ],
)
def test_bad_request_names_the_field(changes: dict[str, Any], field: str, expected: str) -> None:
    data = {**BASE, **changes}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(InvalidRequest) as caught:
        RunRequest.from_input(data, load_settings())
    assert caught.value.field == field
    assert expected in caught.value.message
    assert str(caught.value) == f"{field}: {caught.value.message}"


def test_request_that_is_not_an_object() -> None:
    with pytest.raises(InvalidRequest) as caught:
        RunRequest.from_input([1], load_settings())  # type: ignore[arg-type]
    assert caught.value.field == "request"


def test_request_defaults_come_from_settings() -> None:
    settings = load_settings(invocations=12, rds_layout="large_object", enable_caching=True, db_pool_size=2)
    request = RunRequest.from_input(BASE, settings)
    assert (request.invocations, request.rds_layout, request.enable_caching, request.db_pool_size) == (
        12,
        "large_object",
        True,
        2,
    )
    assert (request.model_id, request.version, request.artifact_bytes, request.label) == (
        "tiny-llm",
        "1.0.0",
        None,
        None,
    )
    assert re.fullmatch(r"run-\d{8}T\d{6}-[0-9a-f]{6}", request.run_id)


def test_request_overrides_settings_and_honours_max_invocations() -> None:
    settings = load_settings(max_invocations=5000, invocations=10)
    request = RunRequest.from_input(
        {
            **BASE,
            "invocations": 4000,
            "rds_layout": "large_object",
            "s3_range_parts": 4,
            "run_id": "my_run-1",
        },
        settings,
    )
    assert (request.invocations, request.rds_layout, request.s3_range_parts, request.run_id) == (
        4000,
        "large_object",
        4,
        "my_run-1",
    )
    with pytest.raises(InvalidRequest, match="from 1 to 50 "):
        RunRequest.from_input({**BASE, "invocations": 51}, load_settings(max_invocations=50, invocations=1))


def test_empty_secret_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFLAB_DATABASE_URL", "")
    monkeypatch.setenv("PERFLAB_API_TOKEN", " ")
    s = load_settings()
    assert s.database_url is None and s.api_token is None


def test_request_round_trips_through_its_input() -> None:
    settings = load_settings()
    plain = RunRequest.from_input(BASE, settings).to_input()
    assert "label" not in plain and "artifact_bytes" not in plain and "max_concurrency" not in plain
    bounded = RunRequest.from_input({**BASE, "max_concurrency": 20}, settings)
    assert bounded.to_input()["max_concurrency"] == 20
    request = RunRequest.from_input(
        {**BASE, "artifact_bytes": 1000, "label": "try 1", "run_id": None}, settings
    )
    again = RunRequest.from_input(json.loads(json.dumps(request.to_input())), settings)
    assert again == request
    assert RunRequest.from_input(BASE, settings).run_id != RunRequest.from_input(BASE, settings).run_id

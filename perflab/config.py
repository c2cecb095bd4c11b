"""Typed settings (env vars + an optional JSON file) and the validated run request.

Settings come from, highest precedence first: keyword arguments to :func:`load_settings`, environment
variables ``PERFLAB_<FIELD>``, the JSON file (``config/perflab.json`` relative to the working directory,
or the path in ``PERFLAB_CONFIG_FILE``), then the defaults below. Every problem stops start-up with a
:class:`ConfigError` whose message names the field and the values it allows, e.g.
``rds_layout: must be one of chunks, large_object (got 'foo')``.

A :class:`RunRequest` is one benchmark run: the execution input of the state machine, the body of
``POST /health/performance/workload``, and what ``perflab bench`` starts. Run-level options default to
the settings and can be overridden per request; :meth:`RunRequest.from_input` raises
:class:`InvalidRequest` naming the field.
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import types
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

Compute = Literal["lambda", "ecs"]
Storage = Literal["s3", "rds"]
RdsLayout = Literal["chunks", "large_object"]

ENV_PREFIX = "PERFLAB_"
CONFIG_FILE_ENV = "PERFLAB_CONFIG_FILE"
DEFAULT_CONFIG_FILE = Path("config/perflab.json")
GIB = 1024**3
MAX_ARTIFACT_BYTES = 10 * GIB
MAX_RANGE_PARTS = 16
MAX_MAP_CONCURRENCY = 10_000  # a Distributed Map's MaxConcurrency limit
RUN_ID_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
TABLE_PATTERN = r"^[A-Za-z0-9_.-]{3,255}$"
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"

# Custom error type used by validators that need to name a field themselves.
_FIELD_ERROR = "perflab_field"


class ConfigError(ValueError):
    """Invalid settings. ``errors`` holds ``(field, message)`` pairs; ``str()`` lists them all."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors))

    @property
    def field(self) -> str:
        return self.errors[0][0]


class InvalidRequest(ValueError):
    """A run request that cannot run. ``field`` names the first offending field (the API's 400 body)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class Settings(BaseSettings):
    """perflab's settings: every field has a default, so an empty environment is a valid one."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, validate_default=True, hide_input_in_errors=False
    )

    region: str = Field(default="us-east-1", min_length=1, description="AWS region of every resource.")
    bucket: str = Field(
        default="perflab-artifacts",
        pattern=BUCKET_PATTERN,
        description="S3 bucket that holds the model artifacts.",
    )
    invocations_table: str = Field(
        default="perflab-invocations",
        pattern=TABLE_PATTERN,
        description="DynamoDB table with one record per invocation.",
    )
    runs_table: str = Field(
        default="perflab-runs", pattern=TABLE_PATTERN, description="DynamoDB table with one item per run."
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL conninfo/URL of the RDS artifact store and model registry "
        "(the local cloud sets it; unset = no RDS).",
    )
    database_secret_arn: str | None = Field(
        default=None,
        description="Secrets Manager secret with the database password, for a database_url without one "
        "(set by Terraform on AWS; unset locally).",
    )
    model_id: str = Field(
        default="tiny-llm", pattern=NAME_PATTERN, description="Model downloaded by default."
    )
    version: str = Field(default="1.0.0", pattern=NAME_PATTERN, description="Model version downloaded.")
    artifact_bytes: int = Field(
        default=24_800_000,
        ge=1,
        le=MAX_ARTIFACT_BYTES,
        description="Size of the seeded synthetic artifact in bytes.",
    )
    chunk_bytes: int = Field(
        default=1_048_576,
        ge=4096,
        le=64 * 1024 * 1024,
        description="Streaming chunk size (S3 reads, RDS rows); bounds a download's memory.",
    )
    invocations: int = Field(
        default=100, ge=1, description="Invocations per run (the fan-out), at most `max_invocations`."
    )
    max_invocations: int = Field(
        default=1000, ge=1, le=10_000, description="Upper bound a run request may ask for."
    )
    rds_layout: RdsLayout = Field(
        default="chunks", description="How RDS stores the artifact: 1 MiB bytea rows or a large object."
    )
    s3_range_parts: int = Field(
        default=0,
        ge=0,
        le=MAX_RANGE_PARTS,
        description="Parallel ranged GETs per S3 download (0 = one streamed GET).",
    )
    enable_caching: bool = Field(
        default=False, description="Cache the artifact in a warm environment's /tmp (reported as cached)."
    )
    s3_max_pool_connections: int = Field(
        default=10, ge=1, le=1000, description="Connection pool size of the shared S3 client."
    )
    db_pool_size: int = Field(
        default=1, ge=1, le=100, description="PostgreSQL connections held per environment."
    )
    lambda_timeout_s: int = Field(
        default=120, ge=1, le=900, description="Timeout of the download Lambda function (seconds)."
    )
    task_timeout_s: int = Field(
        default=300, ge=1, le=86_400, description="Timeout of one ECS download task (seconds)."
    )
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token the API requires for POST (generated when unset)."
    )

    @field_validator("database_url", "api_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _invocations_within_max(self) -> Settings:
        if self.invocations > self.max_invocations:
            raise PydanticCustomError(
                _FIELD_ERROR,
                "{message}",
                {
                    "field": "invocations",
                    "message": f"must be an integer from 1 to max_invocations={self.max_invocations} "
                    f"(got {self.invocations})",
                },
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _JsonFileSource(settings_cls))


class _JsonFileSource(PydanticBaseSettingsSource):
    """The optional JSON file: an object whose keys are field names. Missing default file = no file."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        explicit = os.environ.get(CONFIG_FILE_ENV)
        self.path = Path(explicit) if explicit else DEFAULT_CONFIG_FILE
        self.data = self._read(required=bool(explicit))

    def _read(self, *, required: bool) -> dict[str, Any]:
        if not self.path.is_file():
            if required:
                raise ConfigError([("config_file", f"{CONFIG_FILE_ENV}={self.path} does not exist")])
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError([("config_file", f"{self.path} is not readable JSON: {exc}")]) from exc
        if not isinstance(data, dict):
            raise ConfigError([("config_file", f"{self.path} must hold a JSON object of settings")])
        return data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


def load_settings(**overrides: Any) -> Settings:
    """Build and validate :class:`Settings`; raises :class:`ConfigError` naming every bad field."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        errors = [_explain(Settings, error, max_invocations="max_invocations") for error in exc.errors()]
        raise ConfigError(errors) from None


@functools.cache
def get_settings() -> Settings:
    """The process's settings, validated once (``get_settings.cache_clear()`` in tests)."""
    return load_settings()


def _new_run_id() -> str:
    return f"run-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


# Run-level options a request may override; absent ones come from the settings.
_FROM_SETTINGS = (
    "invocations",
    "model_id",
    "version",
    "rds_layout",
    "s3_range_parts",
    "enable_caching",
    "s3_max_pool_connections",
    "db_pool_size",
)


class RunRequest(BaseModel):
    """One benchmark run. Strict: integers must be JSON integers (not ``true``, ``1.5`` or ``"3"``).

    ``artifact_bytes`` is ``None`` when the run downloads whatever artifact is registered for
    ``model_id``/``version`` (the seeded one); a number records the size the run expects.
    ``s3_max_pool_connections`` and ``db_pool_size`` are per-run overrides of the settings of the same
    name (issue 3: pool sizes are run-level options). ``max_concurrency`` bounds the Map's parallelism
    (``None``: the state machine's default, 100), e.g. to stay under an RDS instance's connection limit.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    run_id: Annotated[str, Field(pattern=RUN_ID_PATTERN)] = Field(default_factory=_new_run_id)
    compute: Compute
    storage: Storage
    invocations: int = Field(default=100, ge=1)
    model_id: str = Field(default="tiny-llm", pattern=NAME_PATTERN)
    version: str = Field(default="1.0.0", pattern=NAME_PATTERN)
    artifact_bytes: int | None = Field(default=None, ge=1, le=MAX_ARTIFACT_BYTES)
    label: str | None = Field(default=None, max_length=200)
    rds_layout: RdsLayout = "chunks"
    s3_range_parts: int = Field(default=0, ge=0, le=MAX_RANGE_PARTS)
    enable_caching: bool = False
    s3_max_pool_connections: int = Field(default=10, ge=1, le=1000)
    db_pool_size: int = Field(default=1, ge=1, le=100)
    max_concurrency: int | None = Field(default=None, ge=1, le=MAX_MAP_CONCURRENCY)

    @field_validator("invocations")
    @classmethod
    def _invocations_within_max(cls, value: int, info: ValidationInfo) -> int:
        context = info.context if isinstance(info.context, Mapping) else {}
        limit = int(context.get("max_invocations", Settings.model_fields["max_invocations"].default))
        if value > limit:
            raise PydanticCustomError(
                _FIELD_ERROR,
                "{message}",
                {"field": "invocations", "message": f"must be an integer from 1 to {limit} (got {value})"},
            )
        return value

    @classmethod
    def from_input(cls, data: Mapping[str, Any], settings: Settings | None = None) -> RunRequest:
        """Validate an execution input / API body, filling run-level options from ``settings``."""
        if not isinstance(data, Mapping):
            raise InvalidRequest("request", f"must be a JSON object (got {type(data).__name__})")
        settings = settings if settings is not None else get_settings()
        merged: dict[str, Any] = {name: getattr(settings, name) for name in _FROM_SETTINGS}
        merged.update(data)
        if merged.get("run_id") is None:
            merged.pop("run_id", None)
        try:
            return cls.model_validate(merged, context={"max_invocations": settings.max_invocations})
        except ValidationError as exc:
            errors = exc.errors()
            field, message = _explain(cls, errors[0], max_invocations=settings.max_invocations)
            raise InvalidRequest(field, message) from None

    def to_input(self) -> dict[str, Any]:
        """The JSON execution input; unset optional fields are left out (``from_input`` round-trips)."""
        return self.model_dump(mode="json", exclude_none=True)


# --- error messages that name the field and what it allows -------------------------------------------


def _explain(
    model: type[BaseModel], error: ErrorDetails, max_invocations: int | str | None = None
) -> tuple[str, str]:
    ctx = error.get("ctx") or {}
    if error["type"] == _FIELD_ERROR:
        return str(ctx["field"]), str(ctx["message"])
    loc = error["loc"]
    field = str(loc[0]) if loc else "request"
    info = model.model_fields.get(field)
    if error["type"] == "extra_forbidden" or info is None:
        known = ", ".join(model.model_fields)
        return field, f"is not a known option; known options: {known}"
    allowed = allowed_values(info, max_invocations if field == "invocations" else None)
    if error["type"] == "missing":
        return field, f"is required; must be {allowed}"
    shown = "<redacted>" if _is_secret(info.annotation) else repr(error["input"])
    return field, f"must be {allowed} (got {shown})"


def _is_secret(annotation: Any) -> bool:
    return SecretStr in _members(annotation)


def _members(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def allowed_values(info: FieldInfo, upper: int | str | None = None) -> str:
    """Human description of what a field accepts, from its type and constraints."""
    members = [m for m in _members(info.annotation) if m is not type(None)]
    optional = len(members) < len(_members(info.annotation))
    base = members[0] if members else info.annotation
    ge = le = None
    pattern = None
    max_length = None
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge):
            ge = meta.ge
        elif isinstance(meta, annotated_types.Le):
            le = meta.le
        elif isinstance(meta, annotated_types.MaxLen):
            max_length = meta.max_length
        elif getattr(meta, "pattern", None):
            pattern = meta.pattern
    if upper is not None:
        le = upper
    if typing.get_origin(base) is Literal:
        text = "one of " + ", ".join(str(v) for v in typing.get_args(base))
    elif base is bool:
        text = "true or false"
    elif base is int:
        if ge is not None and le is not None:
            text = f"an integer from {ge} to {le}"
        elif ge is not None:
            text = f"an integer >= {ge}"
        else:
            text = "an integer"
    elif base is SecretStr:
        text = "a string (secret)"
    elif pattern is not None:
        text = f"a string matching {pattern}"
    elif max_length is not None:
        text = f"a string of at most {max_length} characters"
    else:
        text = "a string"
    return f"{text}, or null" if optional else text


# --- documentation -----------------------------------------------------------------------------------


def _type_name(annotation: Any) -> str:
    members = _members(annotation)
    names = []
    for member in members:
        if member is type(None):
            continue
        if typing.get_origin(member) is Literal:
            names.append(" \\| ".join(f"`{v}`" for v in typing.get_args(member)))
        elif member is SecretStr:
            names.append("secret str")
        else:
            names.append(getattr(member, "__name__", str(member)))
    name = " or ".join(names)
    return f"{name} (optional)" if type(None) in members else name


def settings_table_markdown() -> str:
    """A Markdown table of every setting: name, env var, type, default, description (README)."""
    rows = [
        "| setting (JSON key) | environment variable | type | default | description |",
        "|---|---|---|---|---|",
    ]
    for name, info in Settings.model_fields.items():
        default = "unset" if info.default is None else f"`{json.dumps(info.default)}`"
        limits = allowed_values(info)
        description = (info.description or "").replace("|", "\\|")
        if re.match(r"an integer from", limits):
            description += f" ({limits.removeprefix('an ')})"
        rows.append(
            f"| `{name}` | `{ENV_PREFIX}{name.upper()}` | {_type_name(info.annotation)} | {default} "
            f"| {description} |"
        )
    rows.append(
        f"| (file) | `{CONFIG_FILE_ENV}` | path | `{DEFAULT_CONFIG_FILE}` | JSON object of the settings "
        "above; environment variables take precedence over it. |"
    )
    return "\n".join(rows) + "\n"

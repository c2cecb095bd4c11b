"""The model catalogue as the trigger API reads it: ``models/<model_id>/<version>/metadata.json`` in S3.

``perflab seed`` writes one such object per registered model (the same catalogue as PostgreSQL's
``models`` table); a model that can be downloaded has a non-null ``artifact`` in it. The API checks a
run request against it before writing or starting anything, with one ``GetObject`` (and, when that
finds nothing, one ``ListObjectsV2`` to say which versions exist), because S3 is what the API
function can always reach (RDS may sit in a VPC it is not in).

:meth:`S3Catalog.check` raises :class:`~perflab.config.InvalidRequest` naming ``model_id`` (unknown
model, or one without a stored artifact) or ``version`` (with the versions that exist), and
:class:`CatalogUnavailable` when S3 cannot answer (the API's 502).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from perflab.aws_errors import error_code
from perflab.config import InvalidRequest

PREFIX = "models"
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
#: Versions named in a 400 answer at most (a model rarely has more).
MAX_LISTED_VERSIONS = 20


def metadata_key(model_id: str, version: str) -> str:
    """Where ``perflab seed`` writes a model's ``metadata.json``."""
    return f"{PREFIX}/{model_id}/{version}/metadata.json"


class Catalog(Protocol):
    def check(self, model_id: str, version: str) -> None:
        """Return when the model can be downloaded; raise ``InvalidRequest`` naming the field if not."""
        ...


class CatalogUnavailable(Exception):
    """S3 could not answer (not "no such model": that is an ``InvalidRequest``)."""


class S3Catalog:
    """The catalogue in ``bucket`` through a low-level S3 client."""

    def __init__(self, s3_client: Any, bucket: str) -> None:
        self.client = s3_client
        self.bucket = bucket

    def check(self, model_id: str, version: str) -> None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=metadata_key(model_id, version))["Body"]
            text = body.read()
        except ClientError as exc:
            code = error_code(exc)
            if code == "NoSuchBucket":
                raise InvalidRequest(
                    "model_id",
                    f"no model is registered: the registry bucket {self.bucket} does not exist "
                    "(run `perflab seed`)",
                ) from None
            if code not in _NOT_FOUND:
                raise CatalogUnavailable(f"reading the model registry failed: {code}") from None
            self._unknown(model_id, version)
        except BotoCoreError as exc:
            raise CatalogUnavailable(f"reading the model registry failed: {type(exc).__name__}") from None
        try:
            metadata = json.loads(text)
        except ValueError:
            raise CatalogUnavailable(f"{metadata_key(model_id, version)} is not JSON") from None
        if not isinstance(metadata, dict) or not metadata.get("artifact"):
            raise InvalidRequest(
                "model_id",
                f"model {model_id!r} version {version!r} is registered without a stored artifact: "
                "only seeded models can be downloaded",
            )

    def _unknown(self, model_id: str, version: str) -> None:
        versions = self.versions(model_id)
        if not versions:
            raise InvalidRequest("model_id", f"must be a registered model (no model {model_id!r})")
        shown = ", ".join(versions[:MAX_LISTED_VERSIONS]) + (
            ", …" if len(versions) > MAX_LISTED_VERSIONS else ""
        )
        raise InvalidRequest("version", f"must be one of {shown} for model {model_id!r} (got {version!r})")

    def versions(self, model_id: str) -> list[str]:
        """The versions registered for ``model_id`` (one listing page: enough to name them)."""
        try:
            page = self.client.list_objects_v2(
                Bucket=self.bucket, Prefix=f"{PREFIX}/{model_id}/", Delimiter="/", MaxKeys=1000
            )
        except (ClientError, BotoCoreError) as exc:
            raise CatalogUnavailable(f"listing the model registry failed: {exc}") from None
        prefixes = [str(p.get("Prefix", "")) for p in page.get("CommonPrefixes", [])]
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in prefixes if p)

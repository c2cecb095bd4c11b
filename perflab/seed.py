"""Seeding: the model registry (500 models) and the Tiny-LLM artifact in S3 and in PostgreSQL.

What :func:`seed` puts where:

- **Registry.** 500 rows in PostgreSQL's ``models`` table: the Tiny-LLM entry (``settings.model_id``
  at ``settings.version``) with its artifact's size, sha256, S3 key and large-object oid, and 499
  other models whose metadata (family, task, parameters, declared size, licence) is derived from
  their index, so every seed writes the same catalogue; they have no stored artifact. Each model's
  metadata is also an S3 object, ``models/<model_id>/<version>/metadata.json``.
- **Artifact.** ``models/<model_id>/<version>/model.bin`` in S3 (multipart above
  :data:`MULTIPART_THRESHOLD`, sha256 in the object's metadata) and, in PostgreSQL, both RDS
  layouts: ``model_chunks`` rows of ``settings.chunk_bytes`` (written with binary ``COPY``) and a
  large object (``lo_put`` per chunk). By default the artifact is ``artifact_bytes`` of
  deterministic pseudo-random bytes (PCG64, one independently seeded generator per 1 MiB block, so
  nothing compresses it and any chunking yields the same bytes); ``artifact_path`` seeds a real file
  instead. Either way it is read in chunks, never held whole.

Idempotent. Each target is compared with what it should hold (S3: size and the sha256 in the object
metadata; RDS: the registry's sha256 and size, the chunk rows' count and total length, the large
object's length; metadata: row contents and each object's ETag against the MD5 of the JSON we would
write) and written only when it differs: re-seeding the same content writes nothing, a different
size or file replaces the artifact everywhere (the old large object is unlinked). ``force=True``
rewrites the artifact even when it looks right (e.g. after bytes were overwritten in place).

Nothing is printed; ``progress(stage, done, total)`` is called as work proceeds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import psycopg
from botocore.exceptions import ClientError

from perflab.aws_errors import error_code
from perflab.storage import pg
from perflab.storage.base import ArtifactRef
from perflab.storage.registry import ensure_schema
from perflab.storage.s3 import ensure_bucket

DEFAULT_ARTIFACT_BYTES = 24_800_000
OTHER_MODELS = 499
#: Bytes per independently seeded generator block of the synthetic artifact.
BLOCK_BYTES = 1 << 20
MULTIPART_THRESHOLD = 16 << 20
PART_BYTES = 8 << 20
METADATA_UPLOAD_THREADS = 8
INV_READ = 0x40000
SEEK_END = 2
FAMILIES = ("llama", "mistral", "phi", "gemma", "qwen", "falcon", "bert", "t5", "whisper", "vit", "clip")
TASKS = (
    "text-generation",
    "text-classification",
    "translation",
    "speech-recognition",
    "image-classification",
)
LICENSES = ("apache-2.0", "mit", "llama3", "gemma", "cc-by-4.0")

Progress = Callable[[str, int, int], None]


class SeedSettings(Protocol):
    """The settings :func:`seed` reads (``perflab.config.Settings`` has them)."""

    @property
    def bucket(self) -> str: ...

    @property
    def region(self) -> str: ...

    @property
    def model_id(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def chunk_bytes(self) -> int: ...


@dataclass(frozen=True)
class ArtifactSource:
    """The artifact's bytes, readable again and again in chunks of any size."""

    size: int
    path: Path | None = None
    seed: int = 0

    def chunks(self, chunk_bytes: int) -> Iterator[bytes]:
        if self.path is not None:
            return _file_chunks(self.path, chunk_bytes)
        return _rechunk(synthetic_blocks(self.size, self.seed), chunk_bytes)

    @property
    def description(self) -> str:
        return f"file {self.path.name}" if self.path is not None else "synthetic PCG64"


def synthetic_seed(model_id: str, version: str) -> int:
    return int.from_bytes(hashlib.sha256(f"perflab:{model_id}:{version}".encode()).digest()[:16], "big")


def synthetic_blocks(size: int, seed: int) -> Iterator[bytes]:
    """``size`` pseudo-random bytes as :data:`BLOCK_BYTES` blocks (block ``i`` from PCG64([seed, i]))."""
    for index, start in enumerate(range(0, size, BLOCK_BYTES)):
        rng = np.random.Generator(np.random.PCG64([seed, index]))
        yield rng.bytes(min(BLOCK_BYTES, size - start))


def _rechunk(blocks: Iterable[bytes], chunk_bytes: int) -> Iterator[bytes]:
    if chunk_bytes == BLOCK_BYTES:
        yield from blocks
        return
    buffer = bytearray()
    for block in blocks:
        buffer += block
        while len(buffer) >= chunk_bytes:
            yield bytes(buffer[:chunk_bytes])
            del buffer[:chunk_bytes]
    if buffer:
        yield bytes(buffer)


def _file_chunks(path: Path, chunk_bytes: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(chunk_bytes):
            yield chunk


def seed(
    settings: SeedSettings,
    s3_client: Any,
    conninfo: str,
    artifact_bytes: int | None = DEFAULT_ARTIFACT_BYTES,
    artifact_path: Path | str | None = None,
    *,
    progress: Progress | None = None,
    other_models: int = OTHER_MODELS,
    force: bool = False,
) -> ArtifactRef:
    """Seed the registry and the artifact (see the module docstring); returns the artifact's ref."""
    report = progress or _no_progress
    model_id, version, chunk_bytes = settings.model_id, settings.version, settings.chunk_bytes
    if artifact_path is not None:
        path = Path(artifact_path)
        source = ArtifactSource(size=path.stat().st_size, path=path)
    else:
        size = DEFAULT_ARTIFACT_BYTES if artifact_bytes is None else artifact_bytes
        if size <= 0:
            raise ValueError(f"artifact_bytes must be positive, got {size}")
        source = ArtifactSource(size=size, seed=synthetic_seed(model_id, version))

    digest = hashlib.sha256()
    done = 0
    for chunk in source.chunks(BLOCK_BYTES):
        digest.update(chunk)
        done += len(chunk)
        report("hash", done, source.size)
    prefix = f"models/{model_id}/{version}"
    ref = ArtifactRef(
        model_id=model_id,
        version=version,
        sha256=digest.hexdigest(),
        size=source.size,
        s3_key=f"{prefix}/model.bin",
    )

    ensure_bucket(s3_client, settings.bucket, settings.region)
    ensure_schema(conninfo)
    catalogue = [
        _tiny_llm_metadata(ref, source, chunk_bytes),
        *(_other_metadata(i) for i in range(other_models)),
    ]
    _seed_registry_rows(conninfo, catalogue)
    report("registry", len(catalogue), len(catalogue))
    _seed_s3_artifact(s3_client, settings.bucket, ref, source, force, report)
    lo_oid = _seed_rds_artifact(conninfo, ref, source, chunk_bytes, force, report)
    _seed_s3_metadata(s3_client, settings.bucket, catalogue, report)
    return ArtifactRef(
        model_id=ref.model_id,
        version=ref.version,
        sha256=ref.sha256,
        size=ref.size,
        s3_key=ref.s3_key,
        lo_oid=lo_oid,
    )


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


# --- the catalogue ---------------------------------------------------------------------------------


def _metadata_key(model_id: str, version: str) -> str:
    return f"models/{model_id}/{version}/metadata.json"


def _tiny_llm_metadata(ref: ArtifactRef, source: ArtifactSource, chunk_bytes: int) -> dict[str, Any]:
    return {
        "model_id": ref.model_id,
        "version": ref.version,
        "name": "Tiny-LLM",
        "family": "tiny-llm",
        "task": "text-generation",
        "license": "apache-2.0",
        "artifact": {
            "s3_key": ref.s3_key,
            "size_bytes": ref.size,
            "sha256": ref.sha256,
            "source": source.description,
            "rds_layouts": ["chunks", "large_object"],
            "chunk_bytes": chunk_bytes,
        },
    }


def _other_metadata(index: int) -> dict[str, Any]:
    """Model ``index`` of the 499 metadata-only models: the same for every seed."""
    h = hashlib.sha256(f"perflab-catalogue:{index}".encode()).digest()
    family = FAMILIES[h[0] % len(FAMILIES)]
    parameters = (1 + h[1] % 70) * 10 ** (7 + h[2] % 3)
    return {
        "model_id": f"{family}-{index + 1:03d}",
        "version": f"{1 + h[3] % 3}.{h[4] % 10}.0",
        "name": f"{family.capitalize()} {index + 1:03d}",
        "family": family,
        "task": TASKS[h[5] % len(TASKS)],
        "license": LICENSES[h[6] % len(LICENSES)],
        "parameters": parameters,
        "declared_size_bytes": parameters * 2,
        "artifact": None,
    }


def _metadata_body(meta: dict[str, Any]) -> bytes:
    return (json.dumps(meta, sort_keys=True, indent=2) + "\n").encode()


def _seed_registry_rows(conninfo: str, catalogue: list[dict[str, Any]]) -> None:
    """Upsert every model's metadata row; rows whose metadata is unchanged are not touched."""
    rows = [
        (
            m["model_id"],
            m["version"],
            _metadata_key(m["model_id"], m["version"]),
            json.dumps(m, sort_keys=True),
        )
        for m in catalogue
    ]
    with pg.lease(conninfo) as conn, conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO models AS m (model_id, version, metadata_key, metadata)"
            " VALUES (%s, %s, %s, %s::jsonb)"
            " ON CONFLICT (model_id, version) DO UPDATE"
            " SET metadata_key = EXCLUDED.metadata_key, metadata = EXCLUDED.metadata, updated_at = now()"
            " WHERE m.metadata_key IS DISTINCT FROM EXCLUDED.metadata_key"
            " OR m.metadata IS DISTINCT FROM EXCLUDED.metadata",
            rows,
        )


def _seed_s3_metadata(s3_client: Any, bucket: str, catalogue: list[dict[str, Any]], report: Progress) -> None:
    """Put each ``metadata.json`` whose stored ETag differs from the MD5 of what we would write."""
    etags: dict[str, str] = {}
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="models/"):
        for obj in page.get("Contents", []):
            etags[obj["Key"]] = str(obj.get("ETag", "")).strip('"')
    todo: list[tuple[str, bytes]] = []
    for meta in catalogue:
        key = _metadata_key(meta["model_id"], meta["version"])
        body = _metadata_body(meta)
        if etags.get(key) != hashlib.md5(body, usedforsecurity=False).hexdigest():
            todo.append((key, body))

    def put(item: tuple[str, bytes]) -> None:
        s3_client.put_object(Bucket=bucket, Key=item[0], Body=item[1], ContentType="application/json")

    with ThreadPoolExecutor(max_workers=METADATA_UPLOAD_THREADS) as pool:
        for done, _ in enumerate(pool.map(put, todo), start=1):
            report("s3-metadata", done, len(todo))


# --- the artifact ----------------------------------------------------------------------------------


def _seed_s3_artifact(
    s3_client: Any, bucket: str, ref: ArtifactRef, source: ArtifactSource, force: bool, report: Progress
) -> None:
    if not force:
        try:
            head = s3_client.head_object(Bucket=bucket, Key=ref.s3_key)
        except ClientError as exc:
            if error_code(exc) not in {"404", "NoSuchKey", "NotFound"}:
                raise
        else:
            if head.get("ContentLength") == ref.size and head.get("Metadata", {}).get("sha256") == ref.sha256:
                return
    common: dict[str, Any] = {
        "Bucket": bucket,
        "Key": ref.s3_key,
        "ContentType": "application/octet-stream",
        "Metadata": {"sha256": ref.sha256},
    }
    if ref.size <= MULTIPART_THRESHOLD:
        body = b"".join(source.chunks(BLOCK_BYTES))
        s3_client.put_object(Body=body, **common)
        report("s3-artifact", ref.size, ref.size)
        return
    upload_id = s3_client.create_multipart_upload(**common)["UploadId"]
    try:
        parts = []
        done = 0
        for number, part in enumerate(source.chunks(PART_BYTES), start=1):
            etag = s3_client.upload_part(
                Bucket=bucket, Key=ref.s3_key, UploadId=upload_id, PartNumber=number, Body=part
            )["ETag"]
            parts.append({"PartNumber": number, "ETag": etag})
            done += len(part)
            report("s3-artifact", done, ref.size)
        s3_client.complete_multipart_upload(
            Bucket=bucket, Key=ref.s3_key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        s3_client.abort_multipart_upload(Bucket=bucket, Key=ref.s3_key, UploadId=upload_id)
        raise


def _seed_rds_artifact(
    conninfo: str, ref: ArtifactRef, source: ArtifactSource, chunk_bytes: int, force: bool, report: Progress
) -> int:
    """Both RDS layouts and the registry's artifact columns, in one transaction; returns the oid."""
    expected_rows = -(-ref.size // chunk_bytes)
    with pg.lease(conninfo) as conn, conn.transaction():
        row = conn.execute(
            "SELECT sha256, size_bytes, chunk_bytes, lo_oid, s3_key FROM models"
            " WHERE model_id = %s AND version = %s FOR UPDATE",
            (ref.model_id, ref.version),
        ).fetchone()
        assert row is not None, "the registry row is written first"
        old_sha, old_size, old_chunk, old_oid, old_key = row
        stats = conn.execute(
            "SELECT count(*), coalesce(sum(octet_length(data)), 0) FROM model_chunks"
            " WHERE model_id = %s AND version = %s",
            (ref.model_id, ref.version),
        ).fetchone()
        assert stats is not None
        if (
            not force
            and (old_sha, old_size, old_chunk, old_key) == (ref.sha256, ref.size, chunk_bytes, ref.s3_key)
            and (int(stats[0]), int(stats[1])) == (expected_rows, ref.size)
            and old_oid is not None
            and _large_object_size(conn, int(old_oid)) == ref.size
        ):
            return int(old_oid)

        conn.execute(
            "DELETE FROM model_chunks WHERE model_id = %s AND version = %s", (ref.model_id, ref.version)
        )
        done = 0
        with (
            conn.cursor() as cur,
            cur.copy("COPY model_chunks (model_id, version, seq, data) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(["text", "text", "int4", "bytea"])
            for seq, chunk in enumerate(source.chunks(chunk_bytes)):
                copy.write_row((ref.model_id, ref.version, seq, chunk))
                done += len(chunk)
                report("rds-chunks", done, ref.size)

        if old_oid is not None:
            conn.execute(
                "SELECT lo_unlink(oid) FROM pg_largeobject_metadata WHERE oid = %s::oid", (int(old_oid),)
            )
        created = conn.execute("SELECT lo_create(0)").fetchone()
        assert created is not None
        oid = int(created[0])
        offset = 0
        with conn.cursor() as cur:
            for chunk in source.chunks(chunk_bytes):
                cur.execute("SELECT lo_put(%s::oid, %s, %b)", (oid, offset, chunk))
                offset += len(chunk)
                report("rds-large-object", offset, ref.size)

        conn.execute(
            "UPDATE models SET size_bytes = %s, sha256 = %s, s3_key = %s, lo_oid = %s, chunk_bytes = %s,"
            " updated_at = now() WHERE model_id = %s AND version = %s",
            (ref.size, ref.sha256, ref.s3_key, oid, chunk_bytes, ref.model_id, ref.version),
        )
        return oid


def _large_object_size(conn: pg.Connection, oid: int) -> int | None:
    try:
        with conn.transaction():  # a savepoint: a missing object must not abort the outer transaction
            row = conn.execute(
                "SELECT lo_lseek64(lo_open(%s, %s), 0, %s)", (oid, INV_READ, SEEK_END)
            ).fetchone()
    except psycopg.errors.UndefinedObject:
        return None
    return None if row is None else int(row[0])

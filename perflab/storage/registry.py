"""The model registry: a ``models`` table in PostgreSQL, and the schema of the RDS layouts.

``models`` holds one row per (model_id, version): the artifact's size, sha256, S3 key and large
object oid (NULL for the metadata-only models), the row size of its ``model_chunks`` copy, the S3
key of its ``metadata.json``, descriptive metadata (jsonb) and ``created_at``/``updated_at``.
``model_chunks(model_id, version, seq, data bytea)`` holds the artifact in ``chunk_bytes`` rows; its
``data`` column uses ``STORAGE EXTERNAL`` (TOASTed out of line, never compressed: the artifact is
incompressible by construction, and skipping pglz saves the server the attempt on every write).

:func:`lookup` is what an invocation calls before downloading; it uses the environment's cached
connection (:mod:`perflab.storage.pg`), so a warm environment pays no connection set-up for it.
"""

from __future__ import annotations

import psycopg

from perflab.storage import pg
from perflab.storage.base import ArtifactNotFound, ArtifactRef, RdsLayout, StorageError

#: Serialises concurrent ``ensure_schema`` calls (any constant; "perflab" in ASCII).
SCHEMA_LOCK_KEY = 0x7065726666
MODELS_DDL = """
CREATE TABLE models (
    model_id     text        NOT NULL,
    version      text        NOT NULL,
    size_bytes   bigint,
    sha256       text,
    s3_key       text,
    lo_oid       oid,
    chunk_bytes  integer,
    metadata_key text        NOT NULL,
    metadata     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_id, version)
)
"""
CHUNKS_DDL = """
CREATE TABLE model_chunks (
    model_id text    NOT NULL,
    version  text    NOT NULL,
    seq      integer NOT NULL,
    data     bytea   NOT NULL,
    PRIMARY KEY (model_id, version, seq)
)
"""
CHUNKS_STORAGE = "ALTER TABLE model_chunks ALTER COLUMN data SET STORAGE EXTERNAL"


def ensure_schema(conninfo: str) -> None:
    """Create ``models`` and ``model_chunks`` when missing (safe to call concurrently)."""
    with pg.lease(conninfo) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
        row = conn.execute("SELECT to_regclass('models'), to_regclass('model_chunks')").fetchone()
        assert row is not None
        if row[0] is None:
            conn.execute(MODELS_DDL)
        if row[1] is None:
            conn.execute(CHUNKS_DDL)
            conn.execute(CHUNKS_STORAGE)


def lookup(conninfo: str, model_id: str, version: str, rds_layout: RdsLayout = "chunks") -> ArtifactRef:
    """The registry's record of ``model_id`` at ``version``.

    Raises :class:`ArtifactNotFound` (naming both) when there is no such model or it has no stored
    artifact, :class:`StorageError` when PostgreSQL cannot be reached or the registry is missing.
    """
    try:
        row = pg.query_one(
            conninfo,
            "SELECT sha256, size_bytes, s3_key, lo_oid FROM models WHERE model_id = %s AND version = %s",
            (model_id, version),
        )
    except psycopg.errors.UndefinedTable as exc:
        raise ArtifactNotFound(model_id, version, "the registry has no models table (not seeded)") from exc
    except psycopg.Error as exc:
        raise StorageError(f"registry lookup failed: {pg.message_of(exc)}") from exc
    if row is None:
        raise ArtifactNotFound(model_id, version, "not in the registry")
    sha256, size, s3_key, lo_oid = row
    if sha256 is None or size is None or s3_key is None:
        raise ArtifactNotFound(model_id, version, "the registry entry has no stored artifact")
    return ArtifactRef(
        model_id=model_id,
        version=version,
        sha256=str(sha256),
        size=int(size),
        s3_key=str(s3_key),
        rds_layout=rds_layout,
        lo_oid=None if lo_oid is None else int(lo_oid),
    )

"""The measured operation against the local cloud: every path verified, failures recorded, memory bounded."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from perflab.download import InvocationContext, InvocationResult, download
from perflab.local.postgres import LocalPostgres
from perflab.local.stack import LocalCloudInfo
from perflab.storage import pg
from perflab.storage.base import ArtifactRef, ArtifactStore
from perflab.storage.rds import FETCH_ROWS, RdsArtifactStore
from perflab.storage.s3 import S3ArtifactStore
from tests.conftest import ClientFactory
from tests.local.data_path import CHUNK, SMALL_BYTES, MiB, Seeded, seed_artifact

pytestmark = pytest.mark.local

PATHS = ["s3", "s3-ranged", "rds-chunks", "rds-large-object"]


def ctx(storage: str = "s3", index: int = 0, dispatched_at: float | None = None) -> InvocationContext:
    return InvocationContext(
        run_id="run-test",
        index=index,
        compute="lambda",
        storage=storage,
        environment_id="env-1",
        cold_start=True,
        init_ms=12.5,
        dispatched_at=dispatched_at,
    )


def make_store(path: str, seeded: Seeded, s3: Any, chunk_bytes: int = CHUNK) -> ArtifactStore:
    if path == "s3":
        return S3ArtifactStore(s3, seeded.config.bucket, chunk_bytes)
    if path == "s3-ranged":
        return S3ArtifactStore(s3, seeded.config.bucket, chunk_bytes, range_parts=4)
    layout = "chunks" if path == "rds-chunks" else "large_object"
    return RdsArtifactStore(seeded.database_url, layout, chunk_bytes)


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    yield
    pg.close_all()


@pytest.fixture(scope="module")
def small(local_cloud: LocalCloudInfo, aws: ClientFactory) -> Seeded:
    assert local_cloud.database_url
    return seed_artifact(aws("s3"), local_cloud.database_url, SMALL_BYTES, prefix="dl")


@pytest.mark.parametrize("path", PATHS)
def test_download_verifies_and_measures(small: Seeded, aws: ClientFactory, path: str) -> None:
    import time

    dispatched = time.time() - 0.25
    result = download(make_store(path, small, aws("s3")), small.ref, ctx(path, 7, dispatched))
    assert result.error_type is None, result.error_message
    assert result.sha256_ok and result.succeeded and not result.cached
    assert result.bytes == SMALL_BYTES == result.expected_bytes
    assert result.sha256 == small.ref.sha256 == hashlib.sha256(small.expected()).hexdigest()
    assert result.ttfb_ms is not None and 0 < result.ttfb_ms <= result.latency_ms
    assert dispatched < result.started_at <= result.finished_at
    assert result.latency_ms <= (result.finished_at - result.started_at) * 1000 + 5
    assert result.scheduling_delay_ms is not None and result.scheduling_delay_ms >= 250
    assert (result.run_id, result.index, result.compute, result.storage) == ("run-test", 7, "lambda", path)
    assert (result.cold_start, result.init_ms, result.attempt) == (True, 12.5, 1)
    assert InvocationResult.from_item(result.to_item()) == result


@pytest.fixture(scope="module")
def corrupted(local_cloud: LocalCloudInfo, aws: ClientFactory) -> Seeded:
    """An artifact whose stored bytes were overwritten (same size) after seeding, in every store."""
    assert local_cloud.database_url
    s3 = aws("s3")
    seeded = seed_artifact(s3, local_cloud.database_url, SMALL_BYTES, prefix="bad")
    data = bytearray(seeded.expected())
    data[CHUNK + 10 : CHUNK + 20] = bytes(b ^ 0xFF for b in data[CHUNK + 10 : CHUNK + 20])
    s3.put_object(Bucket=seeded.config.bucket, Key=seeded.ref.s3_key, Body=bytes(data))
    with psycopg.connect(seeded.database_url) as conn:
        conn.execute(
            "UPDATE model_chunks SET data = %b WHERE model_id = %s AND version = %s AND seq = 1",
            (bytes(data[CHUNK : 2 * CHUNK]), seeded.ref.model_id, seeded.ref.version),
        )
        conn.execute(
            "SELECT lo_put(%s::oid, %s, %b)",
            (seeded.ref.lo_oid, CHUNK + 10, bytes(data[CHUNK + 10 : CHUNK + 20])),
        )
    return seeded


@pytest.mark.parametrize("path", PATHS)
def test_corrupted_artifact_is_a_recorded_checksum_mismatch(
    corrupted: Seeded, aws: ClientFactory, path: str
) -> None:
    result = download(make_store(path, corrupted, aws("s3")), corrupted.ref, ctx(path))
    assert not result.sha256_ok and not result.succeeded
    assert result.error_type == "ChecksumMismatch"
    assert result.bytes == SMALL_BYTES
    assert result.error_message is not None and corrupted.ref.sha256 in result.error_message
    assert result.sha256 != corrupted.ref.sha256


def test_truncated_artifact_is_a_recorded_checksum_mismatch(small: Seeded) -> None:
    longer = replace(small.ref, size=small.ref.size + 1)
    result = download(RdsArtifactStore(small.database_url, "chunks"), longer, ctx("rds"))
    assert result.error_type == "ChecksumMismatch"
    assert f"read {SMALL_BYTES} bytes" in (result.error_message or "")


@pytest.mark.parametrize("path", PATHS)
def test_unknown_model_is_a_recorded_artifact_not_found(small: Seeded, aws: ClientFactory, path: str) -> None:
    ghost = ArtifactRef("ghost-model", "0.0.0", "0" * 64, 10, "models/ghost-model/0.0.0/model.bin")
    result = download(make_store(path, small, aws("s3")), ghost, ctx(path))
    assert (result.error_type, result.sha256_ok, result.bytes, result.ttfb_ms) == (
        "ArtifactNotFound",
        False,
        0,
        None,
    )
    assert "'ghost-model'" in (result.error_message or "") and "'0.0.0'" in (result.error_message or "")


def test_refused_connection_is_a_recorded_storage_error(small: Seeded) -> None:
    url = psycopg.conninfo.make_conninfo(small.database_url, password="wrong")
    result = download(RdsArtifactStore(url, "chunks"), small.ref, ctx("rds"))
    assert result.error_type == "ConnectionFailed" and not result.sha256_ok
    assert "password authentication failed" in (result.error_message or "")
    assert "wrong" not in (result.error_message or "")


def test_exhausted_connection_slots_are_recorded_with_postgres_message(tmp_path: Path, small: Seeded) -> None:
    """A server with 2 slots for ordinary roles (like a tiny RDS class): the third environment fails,
    records PostgreSQL's refusal, and does not retry; the two holders keep working."""
    with LocalPostgres(tmp_path / "pg", max_connections=5) as url:
        held = [psycopg.connect(url) for _ in range(2)]
        try:
            ref = replace(small.ref, model_id="any")
            result = download(RdsArtifactStore(url, "chunks"), ref, ctx("rds", index=3))
            assert result.error_type == "ConnectionFailed"
            message = result.error_message or ""
            assert "PostgreSQL connection failed" in message
            assert "too many clients" in message or "connection slots are reserved" in message, message
            assert all(c.execute("SELECT 1").fetchone() == (1,) for c in held)
        finally:
            for c in held:
                c.close()


def test_caching_reuses_a_verified_copy_in_tmp(small: Seeded, aws: ClientFactory, tmp_path: Path) -> None:
    store = S3ArtifactStore(aws("s3"), small.config.bucket)
    first = download(store, small.ref, ctx(), enable_caching=True, cache_dir=tmp_path)
    assert first.succeeded and not first.cached
    cached_file = tmp_path / small.ref.sha256
    assert cached_file.read_bytes() == small.expected()
    assert list(tmp_path.iterdir()) == [cached_file]

    second = download(store, small.ref, ctx(index=1), enable_caching=True, cache_dir=tmp_path)
    assert second.succeeded and second.cached and second.bytes == SMALL_BYTES

    with cached_file.open("r+b") as f:  # tampered with: same size, different bytes
        f.write(b"\x00" * 16)
    third = download(store, small.ref, ctx(index=2), enable_caching=True, cache_dir=tmp_path)
    assert (third.error_type, third.cached) == ("ChecksumMismatch", False)
    assert "cached copy" in (third.error_message or "")
    assert not cached_file.exists()

    fourth = download(store, small.ref, ctx(index=3), enable_caching=True, cache_dir=tmp_path)
    assert fourth.succeeded and not fourth.cached and cached_file.exists()


def test_a_failed_download_leaves_no_cache_file(
    corrupted: Seeded, aws: ClientFactory, tmp_path: Path
) -> None:
    store = S3ArtifactStore(aws("s3"), corrupted.config.bucket)
    result = download(store, corrupted.ref, ctx(), enable_caching=True, cache_dir=tmp_path)
    assert result.error_type == "ChecksumMismatch"
    assert list(tmp_path.iterdir()) == []


LARGE_BYTES = 20 * MiB + 777


@pytest.fixture(scope="module")
def large(local_cloud: LocalCloudInfo, aws: ClientFactory) -> Seeded:
    assert local_cloud.database_url
    return seed_artifact(aws("s3"), local_cloud.database_url, LARGE_BYTES, prefix="big")


@pytest.mark.parametrize("path", PATHS)
def test_memory_stays_bounded_by_a_few_chunks(large: Seeded, aws: ClientFactory, path: str) -> None:
    s3 = aws("s3")
    store = make_store(path, large, s3)
    download(store, large.ref, ctx(path))  # warm: connections, botocore models, prepared statements
    tracemalloc.start()
    try:
        result = download(store, large.ref, ctx(path, index=1))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.succeeded, result.error_message
    assert result.bytes == LARGE_BYTES
    # the documented bounds: one chunk (+ the read buffer) for S3, three per part for ranged S3, two
    # fetches of FETCH_ROWS rows for PostgreSQL; never the 20 MiB artifact
    chunks = {"s3": 3, "s3-ranged": 3 * 4 + 2}.get(path, 2 * FETCH_ROWS + 1)
    limit = chunks * CHUNK
    assert peak < limit, f"{path}: peak {peak / MiB:.1f} MiB"


def test_large_artifact_was_uploaded_in_parts(large: Seeded, aws: ClientFactory) -> None:
    head = aws("s3").head_object(Bucket=large.config.bucket, Key=large.ref.s3_key)
    assert head["ContentLength"] == LARGE_BYTES
    assert head["ETag"].strip('"').endswith("-3")  # 8 MiB parts
    assert head["Metadata"]["sha256"] == large.ref.sha256

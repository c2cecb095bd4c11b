"""The stores against the local cloud: S3 (plain and ranged) and PostgreSQL (chunks, large object)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

import psycopg
import pytest

from perflab.local.stack import LocalCloudInfo
from perflab.storage import pg
from perflab.storage.base import ArtifactNotFound, StorageError
from perflab.storage.rds import RdsArtifactStore
from perflab.storage.registry import lookup
from perflab.storage.s3 import S3ArtifactStore, shared_s3_client
from tests.conftest import ClientFactory
from tests.local.data_path import CHUNK, SMALL_BYTES, Seeded, joined, seed_artifact

pytestmark = pytest.mark.local


@pytest.fixture(scope="module")
def small(local_cloud: LocalCloudInfo, aws: ClientFactory) -> Seeded:
    assert local_cloud.database_url
    return seed_artifact(aws("s3"), local_cloud.database_url, SMALL_BYTES, prefix="st")


@pytest.fixture(scope="module")
def expected(small: Seeded) -> bytes:
    return small.expected()


@pytest.fixture(autouse=True)
def _close_connections() -> Any:
    yield
    pg.close_all()


@pytest.mark.parametrize("parts", [0, 1, 3, 4, 64])
def test_s3_streams_the_artifact_in_order(
    small: Seeded, expected: bytes, aws: ClientFactory, parts: int
) -> None:
    store = S3ArtifactStore(aws("s3"), small.config.bucket, CHUNK, range_parts=parts)
    chunks = list(store.stream(small.ref))
    assert joined(chunks) == expected
    assert all(len(c) <= CHUNK for c in chunks)


def test_s3_ranged_stream_abandoned_midway_stops_its_threads(small: Seeded, aws: ClientFactory) -> None:
    before = {t.ident for t in threading.enumerate()}
    stream = S3ArtifactStore(aws("s3"), small.config.bucket, 256 * 1024, range_parts=4).stream(small.ref)
    assert len(next(stream)) > 0
    stream.close()  # type: ignore[attr-defined]
    assert {t.ident for t in threading.enumerate()} <= before


def test_s3_missing_object_and_bucket(small: Seeded, aws: ClientFactory) -> None:
    s3 = aws("s3")
    with pytest.raises(ArtifactNotFound, match=r"'nope'.*'9\.9'.*no object"):
        list(
            S3ArtifactStore(s3, small.config.bucket).stream(
                replace(small.ref, model_id="nope", version="9.9", s3_key="models/nope/9.9/model.bin")
            )
        )
    with pytest.raises(StorageError, match="NoSuchBucket"):
        list(S3ArtifactStore(s3, small.config.bucket + "-missing").stream(small.ref))


@dataclass(frozen=True)
class ClientSettings:
    region: str
    s3_max_pool_connections: int = 10
    s3_range_parts: int = 0


def test_shared_s3_client_is_one_per_environment_and_sized_to_the_work(local_cloud: LocalCloudInfo) -> None:
    settings = ClientSettings(local_cloud.region)
    a = shared_s3_client(settings, endpoint_url=local_cloud.endpoint_url)
    assert shared_s3_client(settings, endpoint_url=local_cloud.endpoint_url) is a
    assert a.meta.config.max_pool_connections == 10
    ranged = shared_s3_client(settings, range_parts=16, endpoint_url=local_cloud.endpoint_url)
    assert ranged is not a
    assert ranged.meta.config.max_pool_connections == 17
    assert (
        shared_s3_client(replace(settings, s3_range_parts=16), endpoint_url=local_cloud.endpoint_url)
        is ranged
    )


@pytest.mark.parametrize("layout", ["chunks", "large_object"])
def test_rds_streams_the_artifact(small: Seeded, expected: bytes, layout: Any) -> None:
    store = RdsArtifactStore(small.database_url, layout, CHUNK)
    chunks = list(store.stream(small.ref))
    assert joined(chunks) == expected
    assert all(len(c) <= CHUNK for c in chunks)
    # the large object layout also works when the ref carries no oid (looked up in the registry)
    assert joined(store.stream(replace(small.ref, lo_oid=None))) == expected


def test_rds_large_object_in_smaller_chunks(small: Seeded, expected: bytes) -> None:
    chunks = list(RdsArtifactStore(small.database_url, "large_object", 300_000).stream(small.ref))
    assert [len(c) for c in chunks[:-1]] == [300_000] * (len(chunks) - 1)
    assert joined(chunks) == expected


def test_rds_missing_artifact(small: Seeded) -> None:
    ghost = replace(small.ref, model_id="ghost", version="0.0.1", lo_oid=None)
    with pytest.raises(ArtifactNotFound, match=r"'ghost'.*'0\.0\.1'.*model_chunks"):
        list(RdsArtifactStore(small.database_url, "chunks").stream(ghost))
    with pytest.raises(ArtifactNotFound, match=r"'ghost'.*no large object"):
        list(RdsArtifactStore(small.database_url, "large_object").stream(ghost))
    with pytest.raises(ArtifactNotFound, match=r"large object .* does not exist"):
        list(RdsArtifactStore(small.database_url, "large_object").stream(replace(small.ref, lo_oid=1)))


def test_rds_reuses_one_connection_while_warm(small: Seeded) -> None:
    pg.close_all()
    store = RdsArtifactStore(small.database_url, "chunks")
    list(store.stream(small.ref))
    conn, reused = pg.acquire(small.database_url)
    pid = conn.info.backend_pid
    assert reused
    pg.release(small.database_url, conn)
    list(RdsArtifactStore(small.database_url, "large_object").stream(small.ref))
    lookup(small.database_url, small.ref.model_id, small.ref.version)
    conn, reused = pg.acquire(small.database_url)
    assert reused and conn.info.backend_pid == pid
    pg.release(small.database_url, conn)


def test_rds_abandoned_stream_leaves_the_connection_reusable(small: Seeded, expected: bytes) -> None:
    store = RdsArtifactStore(small.database_url, "chunks")
    stream = store.stream(small.ref)
    next(stream)
    stream.close()  # type: ignore[attr-defined]
    conn, reused = pg.acquire(small.database_url)
    assert reused and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    pg.release(small.database_url, conn)
    assert joined(store.stream(small.ref)) == expected


def drop_warm_connection(url: str) -> int:
    """Terminate the environment's cached connection server-side (as an idle timeout would)."""
    conn, reused = pg.acquire(url)
    assert reused
    pid = conn.info.backend_pid
    pg.release(url, conn)
    with psycopg.connect(url) as admin:
        terminated = admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone()
    assert terminated == (True,)
    return pid


def backend_pid(url: str) -> int:
    conn, reused = pg.acquire(url)
    assert reused
    pid = conn.info.backend_pid
    pg.release(url, conn)
    return pid


def test_rds_reconnects_once_when_the_server_dropped_the_warm_connection(
    small: Seeded, expected: bytes
) -> None:
    store = RdsArtifactStore(small.database_url, "chunks")
    list(store.stream(small.ref))
    old_pid = drop_warm_connection(small.database_url)
    assert joined(store.stream(small.ref)) == expected
    assert backend_pid(small.database_url) != old_pid


def test_lookup_reconnects_once_when_the_server_dropped_the_warm_connection(small: Seeded) -> None:
    assert lookup(small.database_url, small.ref.model_id, small.ref.version) == small.ref
    old_pid = drop_warm_connection(small.database_url)
    assert lookup(small.database_url, small.ref.model_id, small.ref.version) == small.ref
    assert backend_pid(small.database_url) != old_pid


def test_rds_wrong_password_is_a_storage_error_with_postgres_message(small: Seeded) -> None:
    url = psycopg.conninfo.make_conninfo(small.database_url, password="wrong")
    with pytest.raises(StorageError, match="password authentication failed"):
        list(RdsArtifactStore(url, "chunks").stream(small.ref))


def test_lookup(small: Seeded) -> None:
    ref = lookup(small.database_url, small.ref.model_id, small.ref.version)
    assert ref == small.ref
    assert lookup(small.database_url, small.ref.model_id, small.ref.version, "large_object").rds_layout == (
        "large_object"
    )
    with pytest.raises(ArtifactNotFound, match=r"'no-such-model'.*'1\.0\.0'.*not in the registry"):
        lookup(small.database_url, "no-such-model", "1.0.0")


def test_lookup_of_a_metadata_only_model(small: Seeded) -> None:
    with psycopg.connect(small.database_url) as conn:
        row = conn.execute("SELECT model_id, version FROM models WHERE sha256 IS NULL LIMIT 1").fetchone()
    assert row is not None
    with pytest.raises(ArtifactNotFound, match="no stored artifact"):
        lookup(small.database_url, row[0], row[1])

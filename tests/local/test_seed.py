"""Seeding the local cloud: 500 models, the artifact in S3 and both RDS layouts, idempotent."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from perflab.local.stack import LocalCloudInfo
from perflab.seed import OTHER_MODELS, seed
from perflab.storage import pg
from perflab.storage.rds import RdsArtifactStore
from perflab.storage.registry import lookup
from tests.conftest import ClientFactory, unique
from tests.local.data_path import CHUNK, MiB, SeedConfig, joined

pytestmark = pytest.mark.local


@pytest.fixture(autouse=True)
def _close_connections() -> Any:
    yield
    pg.close_all()


def database_url(local_cloud: LocalCloudInfo) -> str:
    assert local_cloud.database_url
    return local_cloud.database_url


def snapshot(url: str, s3: Any, config: SeedConfig) -> dict[str, Any]:
    """Everything a seed may write, with row versions (xmin) and S3 modification times."""
    with psycopg.connect(url) as conn:
        models = conn.execute(
            "SELECT model_id, version, xmin::text, sha256, size_bytes, lo_oid, updated_at FROM models"
            " WHERE model_id = %s OR metadata->>'artifact' IS NULL ORDER BY model_id, version",
            (config.model_id,),
        ).fetchall()
        chunks = conn.execute(
            "SELECT seq, xmin::text, octet_length(data) FROM model_chunks WHERE model_id = %s ORDER BY seq",
            (config.model_id,),
        ).fetchall()
    objects = s3.list_objects_v2(Bucket=config.bucket, MaxKeys=1000)["Contents"]
    return {
        "models": models,
        "chunks": chunks,
        "objects": sorted((o["Key"], o["ETag"], o["LastModified"], o["Size"]) for o in objects),
    }


def count_puts(s3: Any) -> list[str]:
    calls: list[str] = []
    for op in ("PutObject", "CreateMultipartUpload", "UploadPart"):
        s3.meta.events.register(f"before-call.s3.{op}", lambda model, **_: calls.append(model.name))
    return calls


def test_seed_writes_500_models_and_the_artifact_everywhere(
    local_cloud: LocalCloudInfo, aws: ClientFactory
) -> None:
    url, s3 = database_url(local_cloud), aws("s3")
    config = SeedConfig(bucket=unique("seed-bucket"), model_id=unique("seed-model"))
    stages: set[str] = set()
    ref = seed(config, s3, url, 2 * MiB + 3, progress=lambda stage, done, total: stages.add(stage))
    assert stages >= {"hash", "registry", "s3-artifact", "rds-chunks", "rds-large-object", "s3-metadata"}

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=config.bucket, MaxKeys=1000)["Contents"]]
    metadata_keys = [k for k in keys if k.endswith("/metadata.json")]
    assert len(metadata_keys) == OTHER_MODELS + 1 == 500
    assert ref.s3_key in keys

    tiny = json.loads(
        s3.get_object(Bucket=config.bucket, Key=f"models/{config.model_id}/1.0.0/metadata.json")[
            "Body"
        ].read()
    )
    assert tiny["name"] == "Tiny-LLM"
    assert tiny["artifact"] == {
        "s3_key": ref.s3_key,
        "size_bytes": 2 * MiB + 3,
        "sha256": ref.sha256,
        "source": "synthetic PCG64",
        "rds_layouts": ["chunks", "large_object"],
        "chunk_bytes": CHUNK,
    }
    data = s3.get_object(Bucket=config.bucket, Key=ref.s3_key)["Body"].read()
    assert hashlib.sha256(data).hexdigest() == ref.sha256 and len(data) == ref.size

    with psycopg.connect(url) as conn:
        catalogue = conn.execute(
            "SELECT count(*) FROM models WHERE metadata_key = ANY(%s)",
            ([k for k in metadata_keys],),
        ).fetchone()
        chunk_sizes = conn.execute(
            "SELECT octet_length(data) FROM model_chunks WHERE model_id = %s ORDER BY seq", (config.model_id,)
        ).fetchall()
    assert catalogue == (500,)
    assert chunk_sizes == [(CHUNK,), (CHUNK,), (3,)]
    assert lookup(url, config.model_id, "1.0.0") == ref
    for layout in ("chunks", "large_object"):
        assert joined(RdsArtifactStore(url, layout).stream(ref)) == data  # type: ignore[arg-type]


def test_reseeding_the_same_artifact_changes_nothing(local_cloud: LocalCloudInfo, aws: ClientFactory) -> None:
    url, s3 = database_url(local_cloud), aws("s3")
    config = SeedConfig(bucket=unique("idem-bucket"), model_id=unique("idem-model"))
    ref = seed(config, s3, url, MiB + 5, other_models=20)
    before = snapshot(url, s3, config)
    puts = count_puts(s3)
    assert seed(config, s3, url, MiB + 5, other_models=20) == ref
    assert puts == []
    assert snapshot(url, s3, config) == before


def test_reseeding_a_different_size_replaces_the_artifact(
    local_cloud: LocalCloudInfo, aws: ClientFactory
) -> None:
    url, s3 = database_url(local_cloud), aws("s3")
    config = SeedConfig(bucket=unique("size-bucket"), model_id=unique("size-model"))
    first = seed(config, s3, url, 2 * MiB + 1, other_models=2)
    second = seed(config, s3, url, MiB // 2, other_models=2)
    assert (second.size, second.s3_key) == (MiB // 2, first.s3_key)
    assert second.sha256 != first.sha256 and second.lo_oid != first.lo_oid
    assert lookup(url, config.model_id, "1.0.0") == second
    head = s3.head_object(Bucket=config.bucket, Key=second.s3_key)
    assert (head["ContentLength"], head["Metadata"]["sha256"]) == (MiB // 2, second.sha256)
    with psycopg.connect(url) as conn:
        old_lo = conn.execute("SELECT count(*) FROM pg_largeobject_metadata WHERE oid = %s", (first.lo_oid,))
        assert old_lo.fetchone() == (0,)
        rows = conn.execute("SELECT count(*) FROM model_chunks WHERE model_id = %s", (config.model_id,))
        assert rows.fetchone() == (1,)
    for layout in ("chunks", "large_object"):
        got = joined(RdsArtifactStore(url, layout).stream(second))  # type: ignore[arg-type]
        assert hashlib.sha256(got).hexdigest() == second.sha256


def test_force_repairs_bytes_overwritten_in_place(local_cloud: LocalCloudInfo, aws: ClientFactory) -> None:
    url, s3 = database_url(local_cloud), aws("s3")
    config = SeedConfig(bucket=unique("force-bucket"), model_id=unique("force-model"))
    ref = seed(config, s3, url, MiB + 9, other_models=1)
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE model_chunks SET data = %b WHERE model_id = %s AND seq = 1", (b"\0" * 9, ref.model_id)
        )
    repaired = seed(config, s3, url, MiB + 9, other_models=1, force=True)
    assert repaired.sha256 == ref.sha256
    got = joined(RdsArtifactStore(url, "chunks").stream(repaired))
    assert hashlib.sha256(got).hexdigest() == ref.sha256


def test_seed_a_real_file(local_cloud: LocalCloudInfo, aws: ClientFactory, tmp_path: Path) -> None:
    url, s3 = database_url(local_cloud), aws("s3")
    config = SeedConfig(bucket=unique("file-bucket"), model_id=unique("file-model"), chunk_bytes=256 * 1024)
    path = tmp_path / "model.safetensors"
    content = b"safetensors header " + bytes(range(256)) * 4000
    path.write_bytes(content)
    ref = seed(config, s3, url, None, artifact_path=path, other_models=1)
    assert (ref.size, ref.sha256) == (len(content), hashlib.sha256(content).hexdigest())
    assert s3.get_object(Bucket=config.bucket, Key=ref.s3_key)["Body"].read() == content
    assert joined(RdsArtifactStore(url, "chunks", 256 * 1024).stream(ref)) == content
    assert joined(RdsArtifactStore(url, "large_object", 100_000).stream(ref)) == content
    meta = json.loads(
        s3.get_object(Bucket=config.bucket, Key=f"models/{ref.model_id}/1.0.0/metadata.json")["Body"].read()
    )
    assert meta["artifact"]["source"] == "file model.safetensors"

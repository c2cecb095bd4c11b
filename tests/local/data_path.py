"""Helpers for the data-path tests: seed settings, a seeded artifact, reading it back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from perflab.seed import BLOCK_BYTES, ArtifactSource, seed, synthetic_seed
from perflab.storage.base import ArtifactRef
from tests.conftest import unique

MiB = 1 << 20
CHUNK = MiB
#: 3 MiB and a bit: the last chunk is short, and S3 ranges do not fall on chunk boundaries.
SMALL_BYTES = 3 * MiB + 12_345


@dataclass(frozen=True)
class SeedConfig:
    """What ``seed`` reads from ``perflab.config.Settings``."""

    bucket: str
    model_id: str
    region: str = "us-east-1"
    version: str = "1.0.0"
    chunk_bytes: int = CHUNK


@dataclass(frozen=True)
class Seeded:
    config: SeedConfig
    ref: ArtifactRef
    database_url: str

    def expected(self) -> bytes:
        source = ArtifactSource(self.ref.size, seed=synthetic_seed(self.ref.model_id, self.ref.version))
        return b"".join(source.chunks(BLOCK_BYTES))


def seed_artifact(s3: Any, database_url: str, size: int, prefix: str = "dp", other_models: int = 3) -> Seeded:
    config = SeedConfig(bucket=unique(f"{prefix}-bucket"), model_id=unique(f"{prefix}-model"))
    ref = seed(config, s3, database_url, size, other_models=other_models)
    return Seeded(config, ref, database_url)


def joined(chunks: Iterable[memoryview | bytes]) -> bytes:
    return b"".join(bytes(c) for c in chunks)

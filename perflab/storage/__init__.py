"""Artifact stores: S3 and RDS PostgreSQL behind one small protocol, and the model registry."""

from perflab.storage.base import (
    RDS_LAYOUTS,
    ArtifactNotFound,
    ArtifactRef,
    ArtifactStore,
    ChecksumMismatch,
    ConnectionFailed,
    RdsLayout,
    StorageError,
)

__all__ = [
    "RDS_LAYOUTS",
    "ArtifactNotFound",
    "ArtifactRef",
    "ArtifactStore",
    "ChecksumMismatch",
    "ConnectionFailed",
    "RdsLayout",
    "StorageError",
]

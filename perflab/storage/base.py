"""What every artifact store shares: the artifact reference, the store protocol, the errors.

A store turns an :class:`ArtifactRef` into an iterator of chunks, in order, holding at most a few
chunks in memory at a time. Stores never hash or time anything: :func:`perflab.download.download`
does that, identically for every backend, so the backends are compared on the same measured
operation.

Errors. A store raises :class:`ArtifactNotFound` when the artifact (or its registry entry) does not
exist and :class:`StorageError` for every other backend failure (connection refused, too many
connections, a dropped stream), carrying the backend's own message (PostgreSQL's ``FATAL: sorry, too
many clients already``, S3's error code). The downloader records the class name and the message.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

RdsLayout = Literal["chunks", "large_object"]
RDS_LAYOUTS: tuple[RdsLayout, ...] = ("chunks", "large_object")


@dataclass(frozen=True)
class ArtifactRef:
    """One artifact as the registry records it.

    ``rds_layout`` names the layout a caller asked for (both are always seeded); ``lo_oid`` is the
    large object holding the artifact for the ``large_object`` layout (``None``: the RDS store looks
    it up in the registry).
    """

    model_id: str
    version: str
    sha256: str
    size: int
    s3_key: str
    rds_layout: RdsLayout = "chunks"
    lo_oid: int | None = None


class ArtifactStore(Protocol):
    """A backend that streams an artifact's bytes."""

    name: str

    def stream(self, ref: ArtifactRef) -> Iterator[memoryview | bytes]:
        """The artifact's bytes in order, in chunks; memory bounded by a few chunks."""
        ...


class StorageError(Exception):
    """A backend failure; the message is the backend's own (never a password)."""


class ArtifactNotFound(StorageError):
    """The registry or the backend has no such artifact."""

    def __init__(self, model_id: str, version: str, detail: str = "") -> None:
        self.model_id = model_id
        self.version = version
        message = f"model {model_id!r} version {version!r} not found"
        super().__init__(f"{message}: {detail}" if detail else message)


class ChecksumMismatch(StorageError):
    """The bytes read do not match the registry's sha256 or size."""


class ConnectionFailed(StorageError):
    """The store could not be reached: refused, server down, ``too many clients`` / no free slot."""

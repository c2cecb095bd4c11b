"""The measured operation: stream one artifact, hash it in the same pass, time it, return a record.

The same function runs in a Lambda invocation, an ECS task and a local run, for every store, so the
four configurations are compared on identical work. It never holds the artifact: each chunk is
hashed (and, with caching, appended to the cache file) and dropped.

Timing. Durations come from ``time.perf_counter_ns()``: ``ttfb_ms`` from the call to the first chunk
(connection set-up, request and first bytes), ``latency_ms`` from the call to the verified end.
``started_at``/``finished_at`` are UTC epoch seconds (``time.time()``); ``scheduling_delay_ms`` is
``started_at - dispatched_at`` when the Map passed its dispatch time (the two clocks belong to
different machines on AWS, so small negative values are possible and kept as measured).

Failures. A storage or verification failure is recorded, never raised: ``error_type`` is the
exception's class name (``ArtifactNotFound``, ``StorageError``, ``ChecksumMismatch``,
``OperationalError``...) and ``error_message`` its message, ``sha256_ok`` is False. Only programming
errors propagate.

Caching (``enable_caching``): a warm environment keeps a verified copy in
``$TMPDIR/perflab-cache/<sha256>`` (``/tmp`` on Lambda); a later invocation there reads and verifies
that copy instead of the store and reports ``cached=True``. The copy is written while downloading
(same pass) and published with an atomic rename only after its sha256 matched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import tempfile
import time
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
from botocore.exceptions import BotoCoreError, ClientError

from perflab.dynamo import encode
from perflab.storage.base import ArtifactRef, ArtifactStore, ChecksumMismatch, StorageError

CACHE_READ_BYTES = 1_048_576
#: Failures recorded in the result (anything else is a bug and propagates).
RECORDED_ERRORS: tuple[type[BaseException], ...] = (
    StorageError,
    psycopg.Error,
    BotoCoreError,
    ClientError,
    OSError,
)


@dataclass
class InvocationContext:
    """Who is downloading: set by the handler from the Map item and the runtime."""

    run_id: str
    index: int
    compute: str
    storage: str
    environment_id: str
    cold_start: bool
    init_ms: float | None = None
    dispatched_at: float | None = None
    attempt: int = 1


@dataclass
class InvocationResult:
    """One invocation's record (one DynamoDB item, keyed by ``run_id`` and ``index``)."""

    run_id: str
    index: int
    compute: str
    storage: str
    environment_id: str
    cold_start: bool
    init_ms: float | None
    dispatched_at: float | None
    attempt: int
    started_at: float
    finished_at: float
    ttfb_ms: float | None
    latency_ms: float
    scheduling_delay_ms: float | None
    bytes: int
    sha256_ok: bool
    cached: bool = False
    error_type: str | None = None
    error_message: str | None = None
    model_id: str | None = None
    version: str | None = None
    expected_bytes: int | None = None
    sha256: str | None = None

    @classmethod
    def from_context(cls, ctx: InvocationContext, **measured: Any) -> InvocationResult:
        """The record of ``ctx``'s invocation: its context fields plus what was ``measured``."""
        return cls(**dataclasses.asdict(ctx), **measured)

    @property
    def succeeded(self) -> bool:
        return self.error_type is None and self.sha256_ok

    def to_row(self) -> dict[str, Any]:
        """The record as a flat dict for ``invocations.csv`` (every field, plus ``error`` = the type)."""
        return {**dataclasses.asdict(self), "error": self.error_type}

    def to_item(self) -> dict[str, dict[str, Any]]:
        """The record in DynamoDB's low-level attribute-value format."""
        return {f.name: encode(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_item(cls, item: Mapping[str, Mapping[str, Any]]) -> InvocationResult:
        """The record back from an item (attributes that are not fields, e.g. ``attempts``, ignored)."""
        hints = _field_types()
        values: dict[str, Any] = {}
        for name, kind in hints.items():
            if name in item:
                values[name] = _from_attribute(item[name], kind)
        return cls(**values)


@functools.cache
def _field_types() -> dict[str, type]:
    """Each field's type, ``X | None`` reduced to ``X``."""
    types: dict[str, type] = {}
    for name, hint in typing.get_type_hints(InvocationResult).items():
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        types[name] = args[0] if args else hint
    return types


def _from_attribute(attr: Mapping[str, Any], kind: type) -> object:
    if attr.get("NULL"):
        return None
    if "BOOL" in attr:
        return bool(attr["BOOL"])
    if "S" in attr:
        return str(attr["S"])
    if "N" in attr:
        return int(attr["N"]) if kind is int else float(attr["N"])
    raise ValueError(f"unsupported DynamoDB attribute {dict(attr)!r}")


def cache_path(sha256: str, cache_dir: Path | None = None) -> Path:
    """Where a warm environment keeps its verified copy of the artifact with this digest."""
    root = cache_dir if cache_dir is not None else Path(tempfile.gettempdir()) / "perflab-cache"
    return root / sha256


def download(
    store: ArtifactStore,
    ref: ArtifactRef,
    ctx: InvocationContext,
    *,
    enable_caching: bool = False,
    cache_dir: Path | None = None,
) -> InvocationResult:
    """Stream ``ref`` from ``store`` (or the environment's verified cache), verify it, and measure."""
    started_at = time.time()
    t0 = time.perf_counter_ns()
    digest = hashlib.sha256()
    nbytes = 0
    first_ns: int | None = None
    cached = False
    error: BaseException | None = None
    cache_file = cache_path(ref.sha256, cache_dir) if enable_caching else None
    sink: _CacheSink | None = None
    try:
        chunks: Iterator[memoryview | bytes]
        if cache_file is not None and _cache_usable(cache_file, ref.size):
            chunks, cached = _read_file(cache_file), True
        else:
            chunks = store.stream(ref)
            sink = _CacheSink.open(cache_file) if cache_file is not None else None
        try:
            for chunk in chunks:
                if first_ns is None:
                    first_ns = time.perf_counter_ns()
                digest.update(chunk)
                nbytes += chunk.nbytes if isinstance(chunk, memoryview) else len(chunk)
                if sink is not None:
                    sink.write(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                close()
        got = digest.hexdigest()
        if nbytes != ref.size or got != ref.sha256:
            if cached and cache_file is not None:
                cache_file.unlink(missing_ok=True)
            source = "cached copy" if cached else store.name
            raise ChecksumMismatch(
                f"{source}: read {nbytes} bytes with sha256 {got}; "
                f"registry says {ref.size} bytes with sha256 {ref.sha256}"
            )
        if sink is not None:
            sink.publish()
    except RECORDED_ERRORS as exc:
        error = exc
    finally:
        if sink is not None:
            sink.discard()
    end_ns = time.perf_counter_ns()
    finished_at = time.time()
    return InvocationResult.from_context(
        ctx,
        started_at=started_at,
        finished_at=finished_at,
        ttfb_ms=None if first_ns is None else (first_ns - t0) / 1e6,
        latency_ms=(end_ns - t0) / 1e6,
        scheduling_delay_ms=None if ctx.dispatched_at is None else (started_at - ctx.dispatched_at) * 1000.0,
        bytes=nbytes,
        sha256_ok=error is None,
        cached=cached and error is None,
        error_type=None if error is None else type(error).__name__,
        error_message=None if error is None else (" ".join(str(error).split()) or type(error).__name__),
        model_id=ref.model_id,
        version=ref.version,
        expected_bytes=ref.size,
        sha256=digest.hexdigest(),
    )


def _cache_usable(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def _read_file(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CACHE_READ_BYTES):
            yield chunk


class _CacheSink:
    """A cache file being written next to its final name; a write error just stops caching."""

    def __init__(self, final: Path, part: Path, file: BinaryIO) -> None:
        self.final = final
        self.part = part
        self.file: BinaryIO | None = file

    @classmethod
    def open(cls, final: Path) -> _CacheSink | None:
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=final.name + ".", suffix=".part", dir=final.parent)
        except OSError:
            return None
        return cls(final, Path(name), os.fdopen(fd, "wb"))

    def write(self, chunk: memoryview | bytes) -> None:
        if self.file is None:
            return
        try:
            self.file.write(chunk)
        except OSError:  # e.g. /tmp full: the download goes on, uncached
            self.discard()

    def publish(self) -> None:
        if self.file is None:
            return
        try:
            self.file.close()
            self.file = None
            os.replace(self.part, self.final)
        except OSError:
            self.discard()

    def discard(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()
            self.file = None
        self.part.unlink(missing_ok=True)

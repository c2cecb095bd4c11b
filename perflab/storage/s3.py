"""S3: ``GetObject`` streamed in chunks, optionally as ranged parts fetched in parallel.

One client per execution environment (:func:`shared_s3_client`): boto3 clients are thread-safe and
keep a urllib3 connection pool, so a warm invocation reuses the TCP connection its cold one opened.
The pool is sized to the work: ``max(s3_max_pool_connections, range_parts + 1)`` connections, so
ranged parts never wait for a connection.

Plain mode streams the body with ``iter_chunks(chunk_bytes)``: one chunk in flight. (Reading the
socket straight into per-chunk buffers, skipping urllib3's and botocore's copies, was tried: the
client's CPU per 24.8 MB download stayed at 32.5 ms, of which sha256 is 17.8 ms and the kernel's
socket reads about 10 ms, so the copies are not what costs; see ``reports/perf``.) Ranged mode
(``range_parts > 1``) splits the object into N contiguous byte ranges, fetches them with N threads
and yields them in order; each part's thread hands over chunks through a one-slot queue, so memory
stays bounded by about ``3 * parts * chunk_bytes`` (per part: a chunk waiting in the queue, the one
being read and urllib3's read buffer) whatever the artifact size.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from perflab.aws_errors import error_code
from perflab.storage.base import ArtifactNotFound, ArtifactRef, StorageError

DEFAULT_CHUNK_BYTES = 1_048_576
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_HANDOFF_POLL_S = 0.05


class S3ClientSettings(Protocol):
    """The settings :func:`shared_s3_client` reads (``perflab.config.Settings`` has them)."""

    @property
    def region(self) -> str: ...

    @property
    def s3_max_pool_connections(self) -> int: ...

    @property
    def s3_range_parts(self) -> int: ...


def shared_s3_client(
    settings: S3ClientSettings, *, range_parts: int | None = None, endpoint_url: str | None = None
) -> Any:
    """The environment's S3 client (one per endpoint, region and pool size).

    ``range_parts`` overrides ``settings.s3_range_parts`` (a run may ask for parts); the endpoint is
    ``endpoint_url``, else ``$AWS_ENDPOINT_URL_S3`` / ``$AWS_ENDPOINT_URL``, else AWS.
    """
    parts = settings.s3_range_parts if range_parts is None else range_parts
    pool = max(settings.s3_max_pool_connections, parts + 1, 2)
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    return _client(endpoint, settings.region, pool)


_client_lock = threading.Lock()


@functools.cache
def _client(endpoint_url: str | None, region: str, max_pool_connections: int) -> Any:
    config = Config(
        max_pool_connections=max_pool_connections,
        retries={"mode": "standard", "max_attempts": 3},
        tcp_keepalive=True,
        # The downloader verifies every byte with sha256 in the same pass: botocore's own CRC of the
        # body (sent for objects uploaded with a full-object checksum) would be a second pass.
        response_checksum_validation="when_required",
    )
    with _client_lock:  # boto3 sessions are not thread-safe; clients are
        session = boto3.session.Session()
        return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


def forget_shared_clients() -> None:
    """Drop the cached clients without using them: for a forked process, which must not share its
    parent's connection pool (or credentials resolved in another environment)."""
    _client.cache_clear()


def _translate(exc: Exception, ref: ArtifactRef, bucket: str) -> StorageError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in _NOT_FOUND:
            return ArtifactNotFound(ref.model_id, ref.version, f"no object s3://{bucket}/{ref.s3_key}")
        return StorageError(f"S3 {code}: {error.get('Message', exc)} (s3://{bucket}/{ref.s3_key})")
    return StorageError(f"S3 {type(exc).__name__}: {exc}")


_DONE = object()


class S3ArtifactStore:
    """Streams ``s3://bucket/ref.s3_key``; ``range_parts > 1`` fetches that many ranges in parallel."""

    name = "s3"

    def __init__(
        self, client: Any, bucket: str, chunk_bytes: int = DEFAULT_CHUNK_BYTES, range_parts: int = 0
    ) -> None:
        if chunk_bytes <= 0:
            raise ValueError(f"chunk_bytes must be positive, got {chunk_bytes}")
        if range_parts < 0:
            raise ValueError(f"range_parts must be >= 0, got {range_parts}")
        self.client = client
        self.bucket = bucket
        self.chunk_bytes = chunk_bytes
        self.range_parts = range_parts

    def stream(self, ref: ArtifactRef) -> Iterator[memoryview | bytes]:
        parts = min(self.range_parts, -(-ref.size // self.chunk_bytes))
        if parts > 1:
            return self._ranged(ref, parts)
        return self._plain(ref)

    def _plain(self, ref: ArtifactRef) -> Iterator[memoryview | bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=ref.s3_key)["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise _translate(exc, ref, self.bucket) from exc
        try:
            yield from body.iter_chunks(self.chunk_bytes)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise _translate(exc, ref, self.bucket) from exc
        finally:
            body.close()

    def _ranged(self, ref: ArtifactRef, parts: int) -> Iterator[memoryview | bytes]:
        """N ranges fetched in parallel, yielded in order; each part buffers at most one chunk."""
        step = -(-ref.size // parts)
        ranges = [(start, min(start + step, ref.size) - 1) for start in range(0, ref.size, step)]
        stop = threading.Event()
        queues: list[queue.Queue[object]] = [queue.Queue(maxsize=1) for _ in ranges]
        executor = ThreadPoolExecutor(max_workers=len(ranges), thread_name_prefix="s3-range")
        try:
            for (first, last), q in zip(ranges, queues, strict=True):
                executor.submit(self._fetch_range, ref, first, last, q, stop)
            for q in queues:
                while True:
                    item = q.get()
                    if item is _DONE:
                        break
                    if isinstance(item, Exception):
                        raise _translate(item, ref, self.bucket) from item
                    assert isinstance(item, bytes)
                    yield item
        finally:
            stop.set()
            executor.shutdown(wait=True, cancel_futures=True)

    def _fetch_range(
        self, ref: ArtifactRef, first: int, last: int, q: queue.Queue[object], stop: threading.Event
    ) -> None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=ref.s3_key, Range=f"bytes={first}-{last}")[
                "Body"
            ]
            try:
                for chunk in body.iter_chunks(self.chunk_bytes):
                    if not _hand_over(q, chunk, stop):
                        return
            finally:
                body.close()
            _hand_over(q, _DONE, stop)
        except Exception as exc:  # handed to the consumer, which raises it in order
            _hand_over(q, exc, stop)


def _hand_over(q: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    """Put ``item`` once the consumer has room; False when the consumer has gone away."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_HANDOFF_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def ensure_bucket(s3_client: Any, bucket: str, region: str) -> None:
    """Create ``bucket`` unless it exists (ours): the deployer and the seeder both call it."""
    try:
        s3_client.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3_client.create_bucket(**kwargs)
    except ClientError as exc:
        if error_code(exc) != "BucketAlreadyOwnedByYou":
            raise

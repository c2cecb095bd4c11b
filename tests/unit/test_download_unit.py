"""The measured operation with in-memory stores: verification, recorded failures, timing, DynamoDB items."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from perflab.download import InvocationContext, InvocationResult, download
from perflab.seed import BLOCK_BYTES, ArtifactSource
from perflab.storage.base import ArtifactNotFound, ArtifactRef, StorageError

DATA = bytes(range(256)) * 1000 + b"tail"
REF = ArtifactRef(
    "tiny-llm", "1.0.0", hashlib.sha256(DATA).hexdigest(), len(DATA), "models/tiny-llm/1.0.0/model.bin"
)


class MemoryStore:
    """Serves ``data`` in ``chunk``-byte pieces; can fail after ``fail_after`` chunks."""

    name = "memory"

    def __init__(
        self,
        data: bytes = DATA,
        chunk: int = 10_000,
        fail_after: int | None = None,
        error: Exception | None = None,
    ) -> None:
        self.data, self.chunk, self.fail_after, self.error = data, chunk, fail_after, error
        self.streams = 0
        self.closed = 0

    def stream(self, ref: ArtifactRef) -> Iterator[memoryview | bytes]:
        self.streams += 1
        view = memoryview(self.data)
        try:
            for n, start in enumerate(range(0, len(self.data), self.chunk)):
                if self.fail_after is not None and n == self.fail_after:
                    raise self.error or StorageError("connection reset by peer")
                yield view[start : start + self.chunk]
        finally:
            self.closed += 1


def ctx(**overrides: object) -> InvocationContext:
    base = InvocationContext("run-1", 3, "ecs", "s3", "arn:aws:ecs:task/abc", cold_start=False, init_ms=None)
    for key, value in overrides.items():
        setattr(base, key, value)
    return base


def test_a_good_download_is_verified_and_timed() -> None:
    store = MemoryStore()
    result = download(store, REF, ctx(dispatched_at=1.0))
    assert (result.sha256_ok, result.succeeded, result.error_type, result.error_message) == (
        True,
        True,
        None,
        None,
    )
    assert result.bytes == len(DATA) and result.sha256 == REF.sha256
    assert result.ttfb_ms is not None and 0 <= result.ttfb_ms <= result.latency_ms
    assert result.started_at <= result.finished_at
    assert result.scheduling_delay_ms == pytest.approx((result.started_at - 1.0) * 1000)
    assert store.closed == 1


def test_memoryview_chunks_are_counted_in_bytes() -> None:
    wide = memoryview(DATA[:4000]).cast("I")  # 1000 items of 4 bytes
    ref = ArtifactRef("m", "v", hashlib.sha256(DATA[:4000]).hexdigest(), 4000, "k")

    class Wide:
        name = "wide"

        def stream(self, ref: ArtifactRef) -> Iterator[memoryview | bytes]:
            yield wide

    result = download(Wide(), ref, ctx())
    assert result.succeeded and result.bytes == 4000


def test_no_scheduling_delay_without_a_dispatch_time() -> None:
    assert download(MemoryStore(), REF, ctx()).scheduling_delay_ms is None


def test_wrong_digest_is_a_recorded_checksum_mismatch() -> None:
    tampered = bytearray(DATA)
    tampered[500] ^= 1
    result = download(MemoryStore(bytes(tampered)), REF, ctx())
    assert (result.sha256_ok, result.error_type) == (False, "ChecksumMismatch")
    assert result.bytes == len(DATA)
    assert REF.sha256 in (result.error_message or "")


def test_wrong_size_is_a_recorded_checksum_mismatch() -> None:
    result = download(MemoryStore(DATA[:-1]), REF, ctx())
    assert result.error_type == "ChecksumMismatch"
    assert f"read {len(DATA) - 1} bytes" in (result.error_message or "")


def test_a_failure_mid_stream_is_recorded_with_what_was_read() -> None:
    store = MemoryStore(fail_after=2)
    result = download(store, REF, ctx())
    assert (result.error_type, result.error_message, result.bytes) == (
        "StorageError",
        "connection reset by peer",
        20_000,
    )
    assert not result.sha256_ok and result.ttfb_ms is not None
    assert store.closed == 1


@pytest.mark.parametrize(
    ("error", "type_name"),
    [
        (ArtifactNotFound("tiny-llm", "9.9.9"), "ArtifactNotFound"),
        (ConnectionResetError("reset"), "ConnectionResetError"),
    ],
)
def test_a_failure_before_the_first_byte_is_recorded(error: Exception, type_name: str) -> None:
    result = download(MemoryStore(fail_after=0, error=error), REF, ctx())
    assert (result.error_type, result.bytes, result.ttfb_ms, result.sha256_ok) == (type_name, 0, None, False)
    if type_name == "ArtifactNotFound":
        assert result.error_message == "model 'tiny-llm' version '9.9.9' not found"


def test_programming_errors_propagate() -> None:
    with pytest.raises(TypeError):
        download(MemoryStore(fail_after=1, error=TypeError("bug")), REF, ctx())


def test_caching_in_a_warm_environment(tmp_path: Path) -> None:
    store = MemoryStore()
    first = download(store, REF, ctx(), enable_caching=True, cache_dir=tmp_path)
    second = download(store, REF, ctx(), enable_caching=True, cache_dir=tmp_path)
    assert (first.cached, second.cached) == (False, True)
    assert first.succeeded and second.succeeded and second.bytes == len(DATA)
    assert store.streams == 1
    assert (tmp_path / REF.sha256).read_bytes() == DATA


def test_a_failed_download_is_never_cached(tmp_path: Path) -> None:
    download(MemoryStore(DATA[:-1] + b"X"), REF, ctx(), enable_caching=True, cache_dir=tmp_path)
    download(MemoryStore(fail_after=3), REF, ctx(), enable_caching=True, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_cache_does_not_fail_the_download(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    result = download(MemoryStore(), REF, ctx(), enable_caching=True, cache_dir=blocker)
    assert result.succeeded and not result.cached


def full_result() -> InvocationResult:
    return InvocationResult(
        run_id="run-1",
        index=42,
        compute="lambda",
        storage="rds",
        environment_id="2025/11/28/[$LATEST]abc",
        cold_start=True,
        init_ms=231.25,
        dispatched_at=1764320000.123456,
        attempt=2,
        started_at=1764320000.5,
        finished_at=1764320001.0,
        ttfb_ms=3.5,
        latency_ms=512.0,
        scheduling_delay_ms=376.544,
        bytes=24_800_000,
        sha256_ok=True,
        cached=False,
        error_type=None,
        error_message=None,
        model_id="tiny-llm",
        version="1.0.0",
        expected_bytes=24_800_000,
        sha256="ab" * 32,
    )


def test_item_uses_dynamodb_attribute_values() -> None:
    item = full_result().to_item()
    assert item["run_id"] == {"S": "run-1"} and item["index"] == {"N": "42"}
    assert item["cold_start"] == {"BOOL": True} and item["cached"] == {"BOOL": False}
    assert item["error_type"] == {"NULL": True}
    assert item["init_ms"] == {"N": "231.25"} and item["bytes"] == {"N": "24800000"}
    assert item["dispatched_at"] == {"N": "1764320000.123456"}
    assert all(len(value) == 1 for value in item.values())


def test_item_round_trip() -> None:
    result = full_result()
    assert InvocationResult.from_item(result.to_item()) == result
    failed = download(MemoryStore(fail_after=1), REF, ctx(init_ms=0.0))
    back = InvocationResult.from_item(failed.to_item())
    assert back == failed
    assert (
        isinstance(back.init_ms, float) and isinstance(back.latency_ms, float) and isinstance(back.index, int)
    )


def test_from_item_ignores_extra_attributes_and_fills_optional_ones() -> None:
    item = full_result().to_item()
    item["attempts"] = {"N": "2"}
    for name in ("model_id", "version", "expected_bytes", "sha256"):
        del item[name]
    back = InvocationResult.from_item(item)
    assert back.model_id is None and back.index == 42


def test_csv_row_has_every_field_and_the_error_column() -> None:
    failed = download(MemoryStore(fail_after=1), REF, ctx())
    row = failed.to_row()
    assert row["error"] == "StorageError" == row["error_type"]
    assert {"run_id", "index", "latency_ms", "bytes", "sha256_ok", "cold_start"} <= row.keys()
    assert full_result().to_row()["error"] is None


def test_non_finite_numbers_are_stored_as_null() -> None:
    result = full_result()
    result.init_ms = math.nan
    assert result.to_item()["init_ms"] == {"NULL": True}


def test_synthetic_artifact_is_the_same_bytes_in_any_chunking() -> None:
    source = ArtifactSource(2 * BLOCK_BYTES + 1001, seed=7)
    whole = b"".join(source.chunks(BLOCK_BYTES))
    assert len(whole) == 2 * BLOCK_BYTES + 1001
    assert b"".join(source.chunks(300_007)) == whole
    assert [len(c) for c in source.chunks(BLOCK_BYTES)] == [BLOCK_BYTES, BLOCK_BYTES, 1001]
    assert b"".join(ArtifactSource(BLOCK_BYTES + 5, seed=7).chunks(BLOCK_BYTES)) == whole[: BLOCK_BYTES + 5]
    assert b"".join(ArtifactSource(1000, seed=8).chunks(BLOCK_BYTES)) != whole[:1000]

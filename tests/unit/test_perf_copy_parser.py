"""The binary COPY parser of the RDS store: any split of the stream yields the same values, in order."""

from __future__ import annotations

import os
import struct

import pytest

from perflab.storage.base import StorageError
from perflab.storage.rds import COPY_SIGNATURE, CopyColumnParser


def copy_stream(values: list[bytes], extension: bytes = b"") -> bytes:
    out = COPY_SIGNATURE + struct.pack("!II", 0, len(extension)) + extension
    for value in values:
        out += struct.pack("!hi", 1, len(value)) + value
    return out + struct.pack("!h", -1)


def parse(stream: bytes, split: int) -> bytes:
    parser = CopyColumnParser()
    got = b"".join(
        bytes(piece)
        for start in range(0, len(stream), split)
        for piece in parser.feed(memoryview(stream[start : start + split]))
    )
    parser.finish()
    return got


@pytest.mark.parametrize("split", [1, 2, 5, 6, 19, 1000, 10**9])
def test_any_split_gives_the_values_in_order(split: int) -> None:
    values = [os.urandom(n) for n in (1000, 1, 0, 4096, 333)]
    assert parse(copy_stream(values), split) == b"".join(values)
    assert parse(copy_stream(values, extension=b"ext!"), split) == b"".join(values)


def test_values_are_views_of_the_fed_buffer_not_copies() -> None:
    stream = copy_stream([b"a" * 100, b"b" * 50])
    buffer = memoryview(stream)
    pieces = list(CopyColumnParser().feed(buffer))
    assert [bytes(p) for p in pieces] == [b"a" * 100, b"b" * 50]
    assert all(p.obj is buffer.obj for p in pieces)


def test_malformed_streams_raise_storage_errors() -> None:
    good = copy_stream([b"xyz"])
    with pytest.raises(StorageError, match="not a binary COPY"):
        parse(b"X" + good[1:], 64)
    with pytest.raises(StorageError, match="ended early"):
        parse(good[:-2], 64)
    with pytest.raises(StorageError, match="one column"):
        parse(COPY_SIGNATURE + struct.pack("!IIh", 0, 0, 2), 64)
    with pytest.raises(StorageError, match="NULL"):
        parse(COPY_SIGNATURE + struct.pack("!IIhi", 0, 0, 1, -1), 64)
    with pytest.raises(StorageError, match="after the trailer"):
        parse(good + b"\x00", 64)

"""Fuzzing the IDX reader with hypothesis: whatever the bytes, read_idx either
returns an array that matches its header exactly or raises a DatasetError naming
the file, and never allocates more than the bytes really present (a lying header
claims up to 2^96 bytes)."""

from __future__ import annotations

import gzip
import math
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from digitnet.data.idx import MAX_IDX_BYTES, read_idx
from digitnet.errors import DatasetError

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# A generous ceiling on what reading a file of a few kB may allocate.
MEMORY_CEILING = 2 * 1024 * 1024

sizes = st.one_of(st.integers(0, 40), st.integers(0, 2**32 - 1))
headers = st.builds(
    lambda zero, dtype, dims: (
        struct.pack(">HBB", zero, dtype, len(dims)) + struct.pack(f">{len(dims)}I", *dims)
    ),
    zero=st.sampled_from([0, 0, 0, 1, 0xFFFF]),
    dtype=st.sampled_from([0x08, 0x08, 0x08, 0x09, 0x0D, 0x00]),
    dims=st.lists(sizes, min_size=0, max_size=4),
)


def check(path: Path, payload_len: int | None = None, header: bytes | None = None) -> None:
    """The property: a matching array, or one DatasetError line naming ``path``; little memory.

    An array is only accepted from a header that says unsigned bytes (type 0x08) in 1-3
    dimensions, and its shape is the header's: a reader that let a signed-byte (0x09)
    file through would still give a uint8 array of the right size.
    """
    tracemalloc.start()
    try:
        try:
            array = read_idx(path)
        except DatasetError as exc:
            message = str(exc)
            assert str(path) in message
            assert "\n" not in message
            array = None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_CEILING, peak
    if array is not None:
        assert array.dtype == np.uint8
        assert 1 <= array.ndim <= 3
        if payload_len is not None:
            assert array.size == payload_len
        if header is not None:
            zero, element_type, ndim = struct.unpack(">HBB", header[:4])
            assert (zero, element_type) == (0, 0x08)
            assert array.shape == struct.unpack(f">{ndim}I", header[4 : 4 + 4 * ndim])


@FUZZ
@given(header=headers, payload=st.binary(max_size=2000))
@example(header=struct.pack(">IIII", 0x803, 2**32 - 1, 2**32 - 1, 2**32 - 1), payload=bytes(100))
@example(header=struct.pack(">IIII", 0x803, 2, 28, 28), payload=bytes(2 * 28 * 28))
# found by this test: a zero dimension beside huge ones (product 0, numpy refused the shape)
@example(header=struct.pack(">IIII", 0x803, 0, 0xB504C417, 0xB505), payload=b"")
@example(header=struct.pack(">II", 0x801, 5), payload=bytes(range(5)))
# signed bytes (0x09), sizes consistent: only the header's type check can refuse it
@example(header=struct.pack(">II", 0x901, 5), payload=bytes(range(5)))
def test_any_header_and_payload(tmp_path: Path, header: bytes, payload: bytes) -> None:
    path = tmp_path / "fuzz-idx.gz"
    path.write_bytes(gzip.compress(header + payload))
    check(path, payload_len=len(payload), header=header)


@FUZZ
@given(header=headers, payload=st.binary(max_size=3000), cut=st.integers(0, 4000))
def test_truncated_gzip_stream(tmp_path: Path, header: bytes, payload: bytes, cut: int) -> None:
    path = tmp_path / "cut-idx.gz"
    whole = gzip.compress(header + payload)
    path.write_bytes(whole[: min(cut, len(whole) - 1)])
    with pytest.raises(DatasetError):
        read_idx(path)


@FUZZ
@given(data=st.binary(max_size=3000))
def test_arbitrary_bytes_on_disk(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "random.gz"
    path.write_bytes(data)
    check(path)


@FUZZ
@given(data=st.binary(min_size=1, max_size=3000), flip=st.integers(0, 10**6))
def test_corrupted_byte_inside_a_valid_file(tmp_path: Path, data: bytes, flip: int) -> None:
    path = tmp_path / "flipped-idx.gz"
    good = bytearray(gzip.compress(struct.pack(">II", 0x801, len(data)) + data))
    good[flip % len(good)] ^= 0xFF
    path.write_bytes(bytes(good))
    check(path)


def test_gzip_bomb_behind_an_honest_header_is_refused_unread(tmp_path: Path) -> None:
    """1 GiB of zeros compresses to ~1 MB; its header tells the truth. Refused
    from the header alone, before any of it is inflated."""
    rows = 1 << 30 >> 10  # (2^20, 32, 32) = 1 GiB
    header = struct.pack(">IIII", 0x803, rows, 32, 32)
    assert math.prod((rows, 32, 32)) > MAX_IDX_BYTES
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    parts = [compressor.compress(header)]
    block = bytes(1 << 20)
    parts += [compressor.compress(block) for _ in range(64)]  # 64 MiB is enough to make the point
    parts.append(compressor.flush())
    path = tmp_path / "bomb-idx.gz"
    path.write_bytes(b"".join(parts))
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match="more than the 256 MiB a dataset file may hold"):
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_CEILING

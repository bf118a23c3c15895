"""Reading IDX files (MNIST's format) and a dataset's train/test splits, with checks.

The reader checks structure (IDX header, sizes, label range) before trusting a
file, and caps what a header may claim before reading it, so a lying header or a
gzip bomb cannot exhaust memory. Errors name the file and say what to do.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from digitnet.data.checksum import CHUNK_BYTES, warn_if_modified
from digitnet.data.registry import DatasetSpec, dataset_dir, download_command, get_spec
from digitnet.errors import DatasetError
from digitnet.vocabulary import IMAGE_SIDE, N_CLASSES

# ---------------------------------------------------------------------------
# IDX files

# The IDX format (http://yann.lecun.com/exdb/mnist/, bottom of the page): a
# big-endian header of magic number 0x0000TTNN (TT = element type, NN = number of
# dimensions), then NN uint32 sizes, then the elements in row-major order.
_IDX_UBYTE = 0x08
_IDX_MAX_DIMS = 3  # images (n, rows, cols); labels have 1
# The largest IDX body read: 5 × MNIST's 47 MB train images. A header claiming
# more is refused before any byte is read, so neither a lying header nor a gzip
# bomb behind a header that tells the truth about it can exhaust memory.
MAX_IDX_BYTES = 256 * 1024 * 1024


def read_idx(path: Path, download: str = "digitnet download") -> NDArray[np.uint8]:
    """Read a gzip-compressed IDX file of unsigned bytes (MNIST's format).

    ``download`` is the command that fetches the file again, for the error messages
    (`load_split` gives the one with the dataset and the data folder in use).

    Accepts images (magic 0x00000803, 3 dims) and labels (0x00000801, 1 dim).
    The header's sizes are checked against the bytes actually present, so a
    lying or damaged header cannot trigger a huge allocation, and a file with
    too few or too many bytes is rejected.
    """
    try:
        with gzip.open(path, "rb") as f:
            shape = _read_idx_header(path, f, download)
            expected = math.prod(shape)  # Python ints: no overflow from a lying header
            # A zero dimension makes the product 0 whatever the others claim, and numpy
            # refuses a (0, 3e9, 46341) array; an empty dataset file is damaged anyway.
            if expected == 0:
                size = "x".join(map(str, shape))
                raise _invalid_idx(path, f"header claims {size}: no data", download)
            if expected > MAX_IDX_BYTES:
                size = "x".join(map(str, shape))
                raise _invalid_idx(
                    path,
                    f"header claims {size} = {expected} bytes, more than the"
                    f" {MAX_IDX_BYTES // 2**20} MiB a dataset file may hold",
                    download,
                )
            data = _read_at_most(f, expected + 1)
    except FileNotFoundError:
        raise DatasetError(f"{path} not found — run `{download}` (or check --data-dir)") from None
    except EOFError:
        raise _invalid_idx(path, "gzip data is truncated", download) from None
    except (zlib.error, gzip.BadGzipFile):
        raise _invalid_idx(path, "not gzip data, or corrupt", download) from None
    except OSError as exc:
        raise DatasetError(
            f"cannot read {path}: {exc.strerror or exc} — check that it is a readable file"
        ) from None
    if len(data) != expected:
        size = "x".join(map(str, shape))
        raise _invalid_idx(
            path, f"header says {size} = {expected} bytes, file holds {len(data)}", download
        )
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _read_idx_header(path: Path, f: gzip.GzipFile, download: str) -> tuple[int, ...]:
    """Parse the magic number and dimension sizes; return the shape."""
    magic = f.read(4)
    if len(magic) < 4:
        raise _invalid_idx(path, "file is shorter than an IDX header", download)
    zero, dtype, ndim = struct.unpack(">HBB", magic)
    if zero != 0 or not 1 <= ndim <= _IDX_MAX_DIMS:
        raise _invalid_idx(path, f"bad magic number 0x{magic.hex()}", download)
    if dtype != _IDX_UBYTE:
        raise _invalid_idx(
            path, f"element type 0x{dtype:02x} is not unsigned byte (0x08)", download
        )
    sizes = f.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise _invalid_idx(path, "header is truncated", download)
    return struct.unpack(f">{ndim}I", sizes)


def _read_at_most(f: gzip.GzipFile, limit: int) -> bytearray:
    """Read up to ``limit`` bytes in chunks, growing only with what is really there.

    A bytearray keeps the array writable for callers (np.frombuffer on bytes
    would be read-only).
    """
    data = bytearray()
    while len(data) < limit:
        chunk = f.read(min(CHUNK_BYTES * 16, limit - len(data)))
        if not chunk:
            break
        data += chunk
    return data


def _invalid_idx(path: Path, why: str, download: str) -> DatasetError:
    return DatasetError(f"{path} is not a valid IDX file: {why} — delete it and run `{download}`")


# ---------------------------------------------------------------------------
# Splits


def load_split(
    dataset: str, data_dir: Path, split: str
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Load one split as ``(images, labels)``.

    ``images`` is (n, 28, 28) uint8 gray levels (0 = background); ``labels`` is
    (n,) uint8 in 0..9. Files are checked for structure first; one whose MD5
    differs from the published file (placed by hand, say) is then used with a
    one-line warning.
    """
    spec = get_spec(dataset)
    if split not in spec.splits:
        raise DatasetError(f"unknown split {split!r} — choose one of: {', '.join(spec.splits)}")
    images_name, labels_name = spec.splits[split]
    folder = dataset_dir(dataset, data_dir)
    images_path, labels_path = folder / images_name, folder / labels_name
    fetch = download_command(dataset, data_dir)
    for path in (images_path, labels_path):
        if not path.is_file():
            raise DatasetError(f"{path} not found — {_how_to_get(spec, fetch)}")

    images = read_idx(images_path, fetch)
    labels = read_idx(labels_path, fetch)
    _check_images(images_path, images, fetch)
    _check_labels(labels_path, labels, len(images), fetch)

    warn_if_modified(images_path, spec.checksums[images_name])
    warn_if_modified(labels_path, spec.checksums[labels_name])
    return images, labels


def _how_to_get(spec: DatasetSpec, fetch: str) -> str:
    if not spec.subdir:
        return f"run `{fetch}`, or point --data-dir at the folder that holds the {spec.name} files"
    return (
        f"run `{fetch}`, or point --data-dir at the "
        f"folder whose {spec.subdir}/ sub-folder holds the {spec.name} files"
    )


def _check_images(path: Path, images: NDArray[np.uint8], fetch: str) -> None:
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise _invalid_idx(
            path,
            f"expected images of shape (n, {IMAGE_SIDE}, {IMAGE_SIDE}), got {images.shape}",
            fetch,
        )


def _check_labels(path: Path, labels: NDArray[np.uint8], n_images: int, fetch: str) -> None:
    if labels.ndim != 1:
        why = f"expected a 1-D array of labels, got shape {labels.shape}"
    elif len(labels) != n_images:
        why = f"{len(labels)} labels for {n_images} images"
    elif len(labels) and int(labels.max()) >= N_CLASSES:
        why = f"label {int(labels.max())} is out of range 0..{N_CLASSES - 1}"
    else:
        return
    raise _invalid_idx(path, why, fetch)

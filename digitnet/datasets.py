"""Datasets: a registry of where they live, a checked downloader, and an IDX reader.

Three promises drive the code below:

* **Downloads never leave anything half-written.** Each file is streamed into a
  hidden temp file beside its destination, checked against its published MD5 and
  only then renamed into place (``os.replace`` is atomic on one filesystem). The
  temp file is removed on every other way out, Ctrl-C included.
* **Files a user put in the data directory by hand are theirs.** The downloader
  never overwrites them; the reader checks their structure (IDX header, sizes,
  label range) and, if their checksum differs from the published one, says so in
  one warning line and uses them anyway.
* **Errors say what to do.** Everything a user can cause raises a
  :class:`~digitnet.errors.DatasetError` whose one-line message names the file.

Adding a dataset with the MNIST layout (Fashion-MNIST, KMNIST) is a data-only
change: one more :class:`DatasetSpec` in :data:`DATASETS`. Such datasets reuse
MNIST's file names, so each needs its own data directory; this module reads and
writes exactly the ``data_dir`` it is given.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import os
import re
import struct
import sys
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import numpy as np
import requests
from numpy.typing import NDArray
from tqdm import tqdm

from digitnet.errors import ChecksumError, DatasetError

logger = logging.getLogger("digitnet")

# MNIST geometry: every image is IMAGE_SIDE × IMAGE_SIDE 8-bit gray levels, one of
# NUM_CLASSES digits (http://yann.lecun.com/exdb/mnist/).
IMAGE_SIDE = 28
IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE  # 784, the size of a^(1)
NUM_CLASSES = 10

DATA_DIR_ENV = "DIGITNET_DATA_DIR"
MIRROR_ENV = "DIGITNET_MIRROR"

# requests timeouts in seconds: (connect, read between two chunks). A mirror that
# does not answer within 10 s is skipped; a stalled transfer gives up after 60 s.
TIMEOUT = (10, 60)
CHUNK_BYTES = 1 << 16


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset is published and how to recognise its genuine files.

    ``checksums`` maps each file name to its published MD5 (in download order);
    ``splits`` maps ``"train"``/``"test"`` to its (images, labels) file names.
    A mirror is a base URL: a file's URL is ``base.rstrip("/") + "/" + name``.
    """

    name: str
    mirrors: tuple[str, ...]
    checksums: Mapping[str, str]
    splits: Mapping[str, tuple[str, str]]

    @property
    def files(self) -> list[str]:
        """The dataset's file names, in download order."""
        return list(self.checksums)


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        # Widely used copies first (ossci-datasets is torchvision's own mirror);
        # the original site comes last because scripts have often found it slow
        # or refusing (HTTP 403/503).
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        # yann.lecun.com publishes no checksums; these MD5s are the ones
        # torchvision pins in `MNIST.resources` (torchvision/datasets/mnist.py).
        # Whatever mirror serves a file, its bytes must match them.
        checksums={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        splits={
            "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
            "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
        },
    ),
}


# ---------------------------------------------------------------------------
# Defaults and lookups


def get_spec(dataset: str) -> DatasetSpec:
    """Return the registry entry for ``dataset`` or explain which names exist."""
    try:
        return DATASETS[dataset]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise DatasetError(f"unknown dataset {dataset!r} — choose one of: {known}") from None


def default_data_dir() -> Path:
    """``$DIGITNET_DATA_DIR`` if set and non-empty, else ``./data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or "data")


def default_mirrors(dataset: str) -> list[str]:
    """Mirrors to try, in order: those in ``$DIGITNET_MIRROR``, then the registry's.

    The variable may hold several base URLs separated by whitespace or commas.
    They are tried *before* the registry's rather than instead of them, so that a
    local or company mirror that lacks a file still falls back to the public
    ones. (An explicit ``mirrors`` argument to :func:`download`, i.e.
    ``--mirror``, is used on its own.)
    """
    from_env = re.split(r"[\s,]+", os.environ.get(MIRROR_ENV, ""))
    return _unique([m for m in from_env if m] + list(get_spec(dataset).mirrors))


def missing_files(dataset: str, data_dir: Path) -> list[str]:
    """Names of the dataset's files that are not in ``data_dir``."""
    return [name for name in get_spec(dataset).files if not (data_dir / name).is_file()]


# ---------------------------------------------------------------------------
# Checksums


_md5_cache: dict[tuple[str, int, int, int], str] = {}
_warned_modified: set[tuple[str, str]] = set()


def file_md5(path: Path) -> str:
    """Hex MD5 of ``path``, hashed in chunks so a large file never sits in memory.

    Results are cached per (path, inode, size, mtime) for the life of the process, so
    loading a split repeatedly does not hash 10 MB every time.
    """
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if key not in _md5_cache:
            digest = hashlib.md5(usedforsecurity=False)
            with path.open("rb") as f:
                for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
                    digest.update(chunk)
            _md5_cache[key] = digest.hexdigest()
    except OSError as exc:
        raise DatasetError(
            f"cannot read {path}: {exc.strerror or exc} — check that it is a readable file"
        ) from None
    return _md5_cache[key]


def _warn_if_modified(path: Path, expected_md5: str) -> None:
    """Warn when ``path`` is not the published file: once per file and content.

    Used for files found in the data directory, which may have been put there by
    hand on purpose; they are never rejected on their checksum alone.
    """
    actual = file_md5(path)
    if actual != expected_md5 and (str(path), actual) not in _warned_modified:
        _warned_modified.add((str(path), actual))
        logger.warning(
            "%s differs from the published file (MD5 %s, expected %s) — using it as is; "
            "delete it and run `digitnet download` to get the original",
            path,
            actual,
            expected_md5,
        )


# ---------------------------------------------------------------------------
# Download


def download(
    dataset: str,
    data_dir: Path,
    mirrors: Sequence[str] | None = None,
    *,
    progress: bool = True,
) -> list[Path]:
    """Fetch the dataset's files that are not already in ``data_dir``.

    A file already present is kept, whatever it holds: if its MD5 differs from
    the published one it was probably placed by hand, so it gets a warning
    rather than being overwritten. Each missing file is tried on every mirror in
    turn (``mirrors``, or :func:`default_mirrors` when None) until one serves
    it with the published checksum.

    Returns the paths written by this call (empty when nothing was missing).
    Raises DatasetError (ChecksumError if every mirror served wrong bytes) when a
    file cannot be fetched; files completed before that stay in place.
    """
    spec = get_spec(dataset)
    bases = _unique(list(mirrors)) if mirrors is not None else default_mirrors(dataset)
    _make_dir(data_dir)
    written = []
    with requests.Session() as session:
        for name, md5 in spec.checksums.items():
            dest = data_dir / name
            if dest.is_file():
                _warn_if_modified(dest, md5)
                continue
            _fetch_from_mirrors(session, name, md5, bases, dest, progress)
            written.append(dest)
    return written


def ensure_dataset(
    dataset: str,
    data_dir: Path,
    mirrors: Sequence[str] | None = None,
    *,
    progress: bool = True,
) -> None:
    """Download the dataset only if some of its files are missing.

    This is what `train` and `evaluate` call: with all files present it touches
    neither the network nor the files' contents.
    """
    if missing_files(dataset, data_dir):
        download(dataset, data_dir, mirrors, progress=progress)


class _MirrorError(Exception):
    """One mirror could not serve one file; ``str()`` is a short reason."""


def _fetch_from_mirrors(
    session: requests.Session,
    name: str,
    md5: str,
    bases: Sequence[str],
    dest: Path,
    progress: bool,
) -> None:
    """Try each mirror for ``name`` until one serves the published bytes."""
    failures = []
    for base in bases:
        url = base.rstrip("/") + "/" + name
        try:
            _fetch(session, url, md5, dest, progress)
            return
        except _MirrorError as failure:
            failures.append(str(failure))
            logger.debug("%s: %s", url, failure)
    raise _all_mirrors_failed(name, len(bases), failures, dest.parent)


def _all_mirrors_failed(
    name: str, n_mirrors: int, failures: list[str], data_dir: Path
) -> DatasetError:
    """The one-line error for a file that no mirror could serve."""
    plural = "mirror" if n_mirrors == 1 else "mirrors"
    reasons = f" ({', '.join(failures)})" if failures else ""
    message = (
        f"could not download {name} from {n_mirrors} {plural}{reasons} — "
        f"download it by hand into {data_dir}/ or pass --mirror URL"
    )
    if failures and all(f.endswith("checksum mismatch") for f in failures):
        return ChecksumError(message)
    return DatasetError(message)


def _fetch(session: requests.Session, url: str, md5: str, dest: Path, progress: bool) -> None:
    """Stream ``url`` into a temp file beside ``dest``; rename it into place if its MD5 matches.

    Raises _MirrorError for anything the next mirror might not suffer (HTTP
    error, connection problem, wrong bytes) and DatasetError for local problems
    (disk full, no permission) that another mirror would not fix.
    """
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            actual = _stream(session, url, out, dest.name, progress)
        if actual != md5:
            raise _MirrorError(f"{_host(url)}: checksum mismatch")
        os.replace(tmp, dest)
    except OSError as exc:
        raise DatasetError(
            f"could not write {dest}: {exc.strerror or exc} — check the space and "
            f"permissions of {dest.parent}"
        ) from exc
    finally:
        # Runs on success too, when the temp file has already been renamed.
        with suppress(FileNotFoundError):
            tmp.unlink()


def _stream(session: requests.Session, url: str, out: BinaryIO, label: str, progress: bool) -> str:
    """Copy the body of ``url`` into ``out`` chunk by chunk; return its hex MD5."""
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with session.get(url, stream=True, timeout=TIMEOUT) as response:
            if not response.ok:
                raise _MirrorError(f"{_host(url)}: {response.status_code}")
            total = int(response.headers.get("Content-Length", 0)) or None
            with tqdm(
                total=total,
                desc=label,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                disable=not progress,
                leave=True,
            ) as bar:
                for chunk in response.iter_content(chunk_size=CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except requests.Timeout:
        raise _MirrorError(f"{_host(url)}: timeout") from None
    except requests.ConnectionError:
        raise _MirrorError(f"{_host(url)}: connection failed") from None
    except requests.exceptions.ChunkedEncodingError:
        raise _MirrorError(f"{_host(url)}: transfer cut short") from None
    except requests.RequestException as exc:
        raise _MirrorError(f"{_host(url)}: {type(exc).__name__}") from None
    return digest.hexdigest()


def _host(url: str) -> str:
    """The host part of ``url``: short enough to list several in one line."""
    return urlsplit(url).netloc or url


def _make_dir(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(
            f"cannot create data directory {data_dir}: {exc.strerror or exc} — "
            "pass --data-dir with a writable folder"
        ) from exc


def _unique(items: list[str]) -> list[str]:
    """``items`` without repeats, first occurrence kept."""
    return list(dict.fromkeys(items))


# ---------------------------------------------------------------------------
# IDX files

# The IDX format (http://yann.lecun.com/exdb/mnist/, bottom of the page): a
# big-endian header of magic number 0x0000TTNN (TT = element type, NN = number of
# dimensions), then NN uint32 sizes, then the elements in row-major order.
_IDX_UBYTE = 0x08
_IDX_MAX_DIMS = 3  # images (n, rows, cols); labels have 1


def read_idx(path: Path) -> NDArray[np.uint8]:
    """Read a gzip-compressed IDX file of unsigned bytes (MNIST's format).

    Accepts images (magic 0x00000803, 3 dims) and labels (0x00000801, 1 dim).
    The header's sizes are checked against the bytes actually present, so a
    lying or damaged header cannot trigger a huge allocation, and a file with
    too few or too many bytes is rejected.
    """
    try:
        with gzip.open(path, "rb") as f:
            shape = _read_idx_header(path, f)
            expected = math.prod(shape)  # Python ints: no overflow from a lying header
            data = _read_at_most(f, expected + 1)
    except FileNotFoundError:
        raise DatasetError(
            f"{path} not found — run `digitnet download` (or check --data-dir)"
        ) from None
    except EOFError:
        raise _invalid_idx(path, "gzip data is truncated") from None
    except (zlib.error, gzip.BadGzipFile):
        raise _invalid_idx(path, "not gzip data, or corrupt") from None
    except OSError as exc:
        raise DatasetError(
            f"cannot read {path}: {exc.strerror or exc} — check that it is a readable file"
        ) from None
    if len(data) != expected:
        size = "x".join(map(str, shape))
        raise _invalid_idx(path, f"header says {size} = {expected} bytes, file holds {len(data)}")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _read_idx_header(path: Path, f: gzip.GzipFile) -> tuple[int, ...]:
    """Parse the magic number and dimension sizes; return the shape."""
    magic = f.read(4)
    if len(magic) < 4:
        raise _invalid_idx(path, "file is shorter than an IDX header")
    zero, dtype, ndim = struct.unpack(">HBB", magic)
    if zero != 0 or not 1 <= ndim <= _IDX_MAX_DIMS:
        raise _invalid_idx(path, f"bad magic number 0x{magic.hex()}")
    if dtype != _IDX_UBYTE:
        raise _invalid_idx(path, f"element type 0x{dtype:02x} is not unsigned byte (0x08)")
    sizes = f.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise _invalid_idx(path, "header is truncated")
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


def _invalid_idx(path: Path, why: str) -> DatasetError:
    return DatasetError(
        f"{path} is not a valid IDX file: {why} — delete it and run `digitnet download`"
    )


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
    images_path, labels_path = data_dir / images_name, data_dir / labels_name
    for path in (images_path, labels_path):
        if not path.is_file():
            raise DatasetError(
                f"{path} not found — run `digitnet download`, or point --data-dir at the "
                f"folder that holds the {dataset} files"
            )

    images = read_idx(images_path)
    labels = read_idx(labels_path)
    _check_images(images_path, images)
    _check_labels(labels_path, labels, n_images=len(images))

    _warn_if_modified(images_path, spec.checksums[images_name])
    _warn_if_modified(labels_path, spec.checksums[labels_name])
    return images, labels


def _check_images(path: Path, images: NDArray[np.uint8]) -> None:
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise _invalid_idx(
            path, f"expected images of shape (n, {IMAGE_SIDE}, {IMAGE_SIDE}), got {images.shape}"
        )


def _check_labels(path: Path, labels: NDArray[np.uint8], n_images: int) -> None:
    if labels.ndim != 1:
        raise _invalid_idx(path, f"expected a 1-D array of labels, got shape {labels.shape}")
    if len(labels) != n_images:
        raise _invalid_idx(path, f"{len(labels)} labels for {n_images} images")
    if len(labels) and int(labels.max()) >= NUM_CLASSES:
        raise _invalid_idx(path, f"label {int(labels.max())} is out of range 0..{NUM_CLASSES - 1}")

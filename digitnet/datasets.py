"""Datasets: a registry of where they live, a checked downloader, and an IDX reader.

Four promises drive the code below:

* **Only complete, verified files ever carry a dataset file's name.** Each file
  is streamed into a hidden partial file beside its destination
  (``.<name>.part``), checked against its published MD5 and only then renamed
  into place (``os.replace`` is atomic on one filesystem). A process killed at
  any moment therefore leaves the finished files and at most one partial.
* **Interrupted work is not thrown away.** The partial keeps a deterministic
  name, so the next run (or the next attempt after a dropped connection) asks
  the server for the rest with an HTTP ``Range`` request. A server that ignores
  ``Range`` sends the whole file and the partial is rewritten from byte 0; the
  MD5 check at the end catches any mix-up either way.
* **Files a user put in the data directory by hand are theirs.** The downloader
  never overwrites them; the reader checks their structure (IDX header, sizes,
  label range) and, if their checksum differs from the published one, says so in
  one warning line and uses them anyway.
* **Errors say what to do.** Everything a user can cause raises a
  :class:`~digitnet.errors.DatasetError` whose one-line message names the file.

Where each dataset lives: ``data_dir`` (``--data-dir``, ``$DIGITNET_DATA_DIR`` or
``./data``) is a root. MNIST's files sit directly in it, as they always have;
every other dataset gets its own sub-folder named after it
(``data/fashion-mnist/``, ``data/kmnist/``), because Fashion-MNIST and KMNIST
reuse MNIST's file names. :func:`dataset_dir` is the one place that decides
this, and every function here that takes ``(dataset, data_dir)`` goes through
it. (Debian's ``dataset-fashion-mnist`` package installs into
``/usr/share/datasets/fashion-mnist``, so ``--data-dir /usr/share/datasets``
finds it.)

Network faults are handled in two layers. urllib3's ``Retry`` (mounted on the
requests ``Session``) retries a request that fails before its body arrives:
connection refused or reset, a timeout, or a 429/5xx status, with exponential
backoff. A transfer cut short *during* the body is outside urllib3's reach; it
is resumed here from the bytes already on disk, :data:`RESUME_ATTEMPTS` times
per mirror, before the next mirror is tried. Two ``download`` processes aimed at
the same folder take turns: each holds an exclusive ``flock`` on a lock file in
the dataset's folder while it works, so they never write the same partial at
once, and the second finds the files the first completed.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import logging
import math
import os
import re
import struct
import sys
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np
from numpy.typing import NDArray

from digitnet.errors import ChecksumError, DatasetError

if TYPE_CHECKING:  # requests is imported lazily: `digitnet predict` must start fast
    import requests

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
# urllib3 Retry for one request: this many retries of a refused/reset connection,
# a timeout or a RETRY_STATUSES answer. urllib3 waits BACKOFF_SECONDS × 2^(k−1)
# before retry k ≥ 2 (none before the first), i.e. 0, 1, 2 s here.
RETRIES = 3
BACKOFF_SECONDS = 0.5
RETRY_STATUSES = (429, 500, 502, 503, 504)
# A body cut short mid-transfer is resumed (Range request) this many times per mirror.
RESUME_ATTEMPTS = 4
LOCK_NAME = ".digitnet-download.lock"


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset is published and how to recognise its genuine files.

    ``checksums`` maps each file name to its published MD5 (in download order);
    ``splits`` maps ``"train"``/``"test"`` to its (images, labels) file names.
    A mirror is a base URL: a file's URL is ``base.rstrip("/") + "/" + name``.
    ``subdir`` is the dataset's folder under the data directory ("" = the data
    directory itself, MNIST's historical place).
    """

    name: str
    mirrors: tuple[str, ...]
    checksums: Mapping[str, str]
    splits: Mapping[str, tuple[str, str]]
    subdir: str = ""

    @property
    def files(self) -> list[str]:
        """The dataset's file names, in download order."""
        return list(self.checksums)


# All three datasets use MNIST's four file names and IDX layout.
_MNIST_SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

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
        splits=_MNIST_SPLITS,
    ),
    # Zalando's clothing images (Xiao, Rasul & Vollgraf 2017). Mirrors and MD5s are
    # the ones in the "Get the Data" table of github.com/zalandoresearch/fashion-mnist
    # (README.md); the repository also holds the files under data/fashion/.
    # Debian's dataset-fashion-mnist package ships the same images and labels,
    # but recompressed without the gzip header's file name, so its .gz files have
    # other MD5s: placed by hand they are used with a warning, as any modified file.
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        checksums={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        splits=_MNIST_SPLITS,
        subdir="fashion-mnist",
    ),
    # Kuzushiji-MNIST (Clanuwat et al. 2018, arXiv:1812.01718), ten classical
    # Japanese characters. The download links are those of
    # github.com/rois-codh/kmnist (README.md), which publishes no checksums; these
    # MD5s are the ones torchvision pins in `KMNIST.resources`.
    "kmnist": DatasetSpec(
        name="kmnist",
        mirrors=(
            "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
            "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        ),
        checksums={
            "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
            "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
            "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
            "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
        },
        splits=_MNIST_SPLITS,
        subdir="kmnist",
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


def dataset_dir(dataset: str, data_dir: Path) -> Path:
    """The folder that holds ``dataset``'s files: ``data_dir`` for MNIST, else a sub-folder.

    ``dataset_dir("fashion-mnist", Path("data")) == Path("data/fashion-mnist")``.
    """
    subdir = get_spec(dataset).subdir
    return data_dir / subdir if subdir else data_dir


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
    """Names of the dataset's files that are not in its folder under ``data_dir``."""
    folder = dataset_dir(dataset, data_dir)
    return [name for name in get_spec(dataset).files if not (folder / name).is_file()]


def partial_path(dest: Path) -> Path:
    """Where the download of ``dest`` keeps its resumable partial: ``.<name>.part``."""
    return dest.with_name(f".{dest.name}.part")


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
            _md5_cache[key] = _hash_file(path)
    except OSError as exc:
        raise DatasetError(
            f"cannot read {path}: {exc.strerror or exc} — check that it is a readable file"
        ) from None
    return _md5_cache[key]


def _hash_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    """Fetch the dataset's files that are not already in its folder under ``data_dir``.

    A file already present is kept, whatever it holds: if its MD5 differs from
    the published one it was probably placed by hand, so it gets a warning
    rather than being overwritten. Each missing file is tried on every mirror in
    turn (``mirrors``, or :func:`default_mirrors` when None) until one serves
    it with the published checksum; a partial left by an earlier, interrupted
    run is resumed.

    Returns the paths written by this call (empty when nothing was missing).
    Raises DatasetError (ChecksumError if every mirror served wrong bytes) when a
    file cannot be fetched; files completed before that stay in place.
    """
    spec = get_spec(dataset)
    folder = dataset_dir(dataset, data_dir)
    bases = _unique(list(mirrors)) if mirrors is not None else default_mirrors(dataset)
    _make_dir(folder)
    written = []
    with _DownloadLock(folder), _session() as session:
        # Checked only once the lock is ours: files another process completed
        # while we waited count as present.
        for name, md5 in spec.checksums.items():
            dest = folder / name
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


def _session() -> requests.Session:
    """A requests Session whose every request is retried by urllib3 (see the module doc)."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(
        total=RETRIES,
        connect=RETRIES,
        read=RETRIES,
        status=RETRIES,
        backoff_factor=BACKOFF_SECONDS,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,  # the last 5xx answer comes back and is reported
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class _DownloadLock:
    """An exclusive ``flock`` on ``<folder>/.digitnet-download.lock`` while downloading.

    The kernel drops the lock when its holder dies, even by SIGKILL, so a crashed
    run never blocks the next one. The holder removes the file when done; a
    waiter that then wakes up holding a lock on the removed file (a different
    inode from whatever the path names now) opens the path again. On systems
    without ``fcntl`` (Windows) this does nothing, and the atomic renames alone
    keep finished files whole.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self.fd: int | None = None

    def __enter__(self) -> _DownloadLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        while self.fd is None:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise DatasetError(
                    f"cannot write to {self.path.parent}: {exc.strerror or exc} — "
                    "pass --data-dir with a writable folder"
                ) from None
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    logger.info("waiting for another download into %s to finish", self.path.parent)
                    fcntl.flock(fd, fcntl.LOCK_EX)
                mine, named = os.fstat(fd), os.stat(self.path)
                if (mine.st_dev, mine.st_ino) == (named.st_dev, named.st_ino):
                    self.fd = fd
                    continue
            except FileNotFoundError:
                pass  # removed by the previous holder: open it afresh
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.fd is not None:
            with suppress(FileNotFoundError):
                self.path.unlink()  # while still locked, so no one else holds this inode
            os.close(self.fd)  # releases the lock
            self.fd = None


class _MirrorError(Exception):
    """One mirror could not serve one file; ``str()`` is a short reason."""


class _CutShortError(Exception):
    """The body stopped before the end; the partial on disk can be resumed."""


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
    """Bring ``dest``'s partial to completion from ``url``; rename it into place if its MD5 matches.

    Raises _MirrorError for anything the next mirror might not suffer (HTTP
    error, connection problem, wrong bytes) and DatasetError for local problems
    (disk full, read-only folder) that another mirror would not fix.
    """
    part = partial_path(dest)
    try:
        resumed = part.exists() and part.stat().st_size > 0
        reason = ""
        for attempt in range(1 + RESUME_ATTEMPTS):
            if attempt:
                logger.debug("%s: %s; resuming (attempt %d)", url, reason, attempt + 1)
                time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
            try:
                _transfer(session, url, part, dest.name, progress)
                break
            except _CutShortError as cut:
                reason = str(cut)
        else:
            # The partial stays: the next mirror, or the next run, resumes it.
            raise _MirrorError(f"{_host(url)}: {reason}")
        if _hash_file(part) != md5:
            part.unlink()
            if resumed:
                # The bytes kept from before may be what is wrong (a different
                # mirror's file, say): fetch this one whole before blaming it.
                _fetch(session, url, md5, dest, progress)
                return
            raise _MirrorError(f"{_host(url)}: checksum mismatch")
        os.replace(part, dest)
        _fsync_dir(dest.parent)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            with suppress(OSError):
                part.unlink()  # give the space back
        raise _local_write_error(dest, exc) from exc


def _transfer(session: requests.Session, url: str, part: Path, label: str, progress: bool) -> None:
    """One GET of ``url``: append the rest of the file to ``part`` (or rewrite it whole).

    Raises _CutShortError when the body stops early (the partial holds what arrived),
    _MirrorError when this mirror cannot serve the file, OSError for local trouble.
    """
    import requests
    from tqdm import tqdm

    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        response = session.get(url, stream=True, timeout=TIMEOUT, headers=headers)
    except requests.Timeout:
        raise _MirrorError(f"{_host(url)}: timeout") from None
    except requests.ConnectionError:
        raise _MirrorError(f"{_host(url)}: connection failed") from None
    except requests.RequestException as exc:
        raise _MirrorError(f"{_host(url)}: {type(exc).__name__}") from None
    with response:
        if response.status_code == 416 and have:
            # The server has fewer bytes than our partial: it is not a prefix of
            # this file. Start again from byte 0.
            part.unlink()
            raise _CutShortError("range not satisfiable")
        if not response.ok:
            raise _MirrorError(f"{_host(url)}: {response.status_code}")
        if "html" in response.headers.get("Content-Type", "").lower():
            raise _MirrorError(f"{_host(url)}: served an HTML page, not the file")
        start, total = _body_span(response, have)
        if start != have and response.status_code == 206:
            part.unlink()  # a range we did not ask for: unusable, start over
            raise _CutShortError("unexpected Content-Range")
        chunks = _body(response)
        first = next(chunks, b"")
        if start == 0 and first.lstrip()[:1] == b"<":
            # No Content-Type said so, but gzip data never starts with "<".
            raise _MirrorError(f"{_host(url)}: served an HTML page, not the file")
        with (
            part.open("ab" if start else "wb") as out,
            tqdm(
                total=total,
                initial=start,
                desc=label,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                disable=not progress,
                leave=True,
            ) as bar,
        ):
            broken = ""
            try:
                for chunk in _chain(first, chunks):
                    out.write(chunk)
                    bar.update(len(chunk))
            except _CutShortError as cut:
                broken = str(cut)
            finally:
                # Whatever arrived is on disk before anyone resumes from it.
                out.flush()
                os.fsync(out.fileno())
    size = part.stat().st_size
    if total is not None and size < total:
        raise _CutShortError(f"transfer cut short at {size} of {total} bytes")
    if broken:
        raise _CutShortError(broken)
    if total is not None and size > total:
        part.unlink()
        raise _MirrorError(f"{_host(url)}: sent more bytes than it announced")


def _body_span(response: requests.Response, have: int) -> tuple[int, int | None]:
    """(offset the body starts at, total file size or None) from the answer's headers.

    206 Partial Content carries ``Content-Range: bytes START-END/TOTAL``; a 200 is
    the whole file from byte 0 (also what a server that ignores Range sends).
    """
    if response.status_code == 206:
        match = re.fullmatch(
            r"bytes\s+(\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", "").strip()
        )
        if match is None:
            return -1, None
        total = match.group(2)
        return int(match.group(1)), int(total) if total != "*" else None
    length = response.headers.get("Content-Length", "")
    return 0, int(length) if length.isdigit() else None


def _body(response: requests.Response) -> Iterator[bytes]:
    """The raw bytes of the body (never un-gzipped: we want the file as published).

    Network trouble while reading becomes _CutShortError; only reading happens in
    this generator, so an OSError here is the socket's, not the disk's.
    """
    import requests
    import urllib3

    try:
        yield from response.raw.stream(CHUNK_BYTES, decode_content=False)
    except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
        raise _CutShortError(f"transfer cut short ({type(exc).__name__})") from None


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); a no-op where directories can't be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _local_write_error(dest: Path, exc: OSError) -> DatasetError:
    """A one-line message for a local problem, with the fix that matches it."""
    why = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "free some space on that disk, or pass --data-dir with a folder on another one"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        fix = f"{dest.parent} is not writable; pass --data-dir with a writable folder"
    else:
        fix = f"check the space and permissions of {dest.parent}"
    return DatasetError(f"could not write {dest}: {why} — {fix}")


def _host(url: str) -> str:
    """The host part of ``url``: short enough to list several in one line."""
    return urlsplit(url).netloc or url


def _make_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(
            f"cannot create data directory {folder}: {exc.strerror or exc} — "
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
# The largest IDX body read: 5 × MNIST's 47 MB train images. A header claiming
# more is refused before any byte is read, so neither a lying header nor a gzip
# bomb behind a header that tells the truth about it can exhaust memory.
MAX_IDX_BYTES = 256 * 1024 * 1024


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
            # A zero dimension makes the product 0 whatever the others claim, and numpy
            # refuses a (0, 3e9, 46341) array; an empty dataset file is damaged anyway.
            if expected == 0:
                size = "x".join(map(str, shape))
                raise _invalid_idx(path, f"header claims {size}: no data")
            if expected > MAX_IDX_BYTES:
                size = "x".join(map(str, shape))
                raise _invalid_idx(
                    path,
                    f"header claims {size} = {expected} bytes, more than the"
                    f" {MAX_IDX_BYTES // 2**20} MiB a dataset file may hold",
                )
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
    folder = dataset_dir(dataset, data_dir)
    images_path, labels_path = folder / images_name, folder / labels_name
    for path in (images_path, labels_path):
        if not path.is_file():
            raise DatasetError(f"{path} not found — {_how_to_get(spec)}")

    images = read_idx(images_path)
    labels = read_idx(labels_path)
    _check_images(images_path, images)
    _check_labels(labels_path, labels, n_images=len(images))

    _warn_if_modified(images_path, spec.checksums[images_name])
    _warn_if_modified(labels_path, spec.checksums[labels_name])
    return images, labels


def _how_to_get(spec: DatasetSpec) -> str:
    if not spec.subdir:
        return (
            "run `digitnet download`, or point --data-dir at the folder that holds "
            f"the {spec.name} files"
        )
    return (
        f"run `digitnet download --dataset {spec.name}`, or point --data-dir at the "
        f"folder whose {spec.subdir}/ sub-folder holds the {spec.name} files"
    )


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

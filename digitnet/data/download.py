"""The checked downloader: mirrors, retries, resumable partial files, a lock.

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
import logging
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from digitnet.data.checksum import CHUNK_BYTES, hash_file, warn_if_modified
from digitnet.data.registry import (
    DATA_DIR_ENV,
    DEFAULT_DATA_DIR,
    dataset_dir,
    default_mirrors,
    download_command,
    get_spec,
    missing_files,
    unique,
)
from digitnet.errors import ChecksumError, DatasetError

if TYPE_CHECKING:  # requests is imported lazily: `digitnet predict` must start fast
    import requests

logger = logging.getLogger("digitnet")

# requests timeouts in seconds: (connect, read between two chunks). A mirror that
# does not answer within 10 s is skipped; a stalled transfer gives up after 60 s.
TIMEOUT = (10, 60)
# urllib3 Retry for one request: this many retries of a refused/reset connection,
# a timeout or a RETRY_STATUSES answer. urllib3 waits BACKOFF_SECONDS × 2^(k−1)
# before retry k ≥ 2 (none before the first), i.e. 0, 1, 2 s here.
RETRIES = 3
BACKOFF_SECONDS = 0.5
RETRY_STATUSES = (429, 500, 502, 503, 504)
# A body cut short mid-transfer is resumed (Range request) this many times per mirror.
RESUME_ATTEMPTS = 4
CHECKSUM_MISMATCH = "checksum mismatch"
LOCK_NAME = ".digitnet-download.lock"


def partial_path(dest: Path) -> Path:
    """Where the download of ``dest`` keeps its resumable partial: ``.<name>.part``."""
    return dest.with_name(f".{dest.name}.part")


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
    A file no mirror can serve does not stop the others: every file that can be
    fetched is, and then one DatasetError (ChecksumError if every mirror served
    wrong bytes) names each file that could not be, with each mirror's reason.
    A local problem (disk full, read-only folder) stops at once.
    """
    spec = get_spec(dataset)
    folder = dataset_dir(dataset, data_dir)
    bases = unique(list(mirrors)) if mirrors is not None else default_mirrors(dataset)
    _make_dir(folder)
    written = []
    failed: list[_UnservedFileError] = []
    unreachable: dict[str, str] = {}  # mirror -> why, once it could not be reached at all
    with _DownloadLock(folder), _session() as session:
        # Checked only once the lock is ours: files another process completed
        # while we waited count as present.
        for name, md5 in spec.checksums.items():
            dest = folder / name
            if dest.is_file():
                warn_if_modified(dest, md5)
                continue
            try:
                _fetch_from_mirrors(session, name, md5, bases, dest, progress, unreachable)
            except _UnservedFileError as failure:
                failed.append(failure)
                continue
            written.append(dest)
    if failed:
        raise _download_failed(failed, len(spec.checksums), folder)
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
    neither the network nor the files' contents. A data folder the user chose
    (``--data-dir``, ``$DIGITNET_DATA_DIR``, ``data_dir:``) that does not exist is
    most likely a typo, so it is not created and filled with a fresh download:
    only the default ``./data`` is (and `digitnet download` creates any folder).
    """
    if not data_dir.is_dir() and data_dir != DEFAULT_DATA_DIR:
        raise DatasetError(
            f"data folder {data_dir} does not exist — check --data-dir (or"
            f" ${DATA_DIR_ENV}), or fetch the dataset into it with"
            f" `{download_command(dataset, data_dir)}`"
        )
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
    """One mirror could not serve one file; ``str()`` is a short reason naming the mirror."""

    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.unreachable = unreachable  # no answer at all: the mirror will not serve other files


class _UnservedFileError(Exception):
    """No mirror could serve one file: its name, how many mirrors, and each one's reason."""

    def __init__(self, name: str, n_mirrors: int, reasons: list[str]) -> None:
        super().__init__(name)
        self.name, self.n_mirrors, self.reasons = name, n_mirrors, reasons

    @property
    def checksums_only(self) -> bool:
        return bool(self.reasons) and all(CHECKSUM_MISMATCH in r for r in self.reasons)

    def describe(self) -> str:
        plural = "mirror" if self.n_mirrors == 1 else "mirrors"
        reasons = f" ({', '.join(self.reasons)})" if self.reasons else ""
        return f"{self.name} from {self.n_mirrors} {plural}{reasons}"


class _CutShortError(Exception):
    """The body stopped before the end; the partial on disk can be resumed."""


def _fetch_from_mirrors(
    session: requests.Session,
    name: str,
    md5: str,
    bases: Sequence[str],
    dest: Path,
    progress: bool,
    unreachable: dict[str, str],
) -> None:
    """Try each mirror for ``name`` until one serves the published bytes.

    A mirror in ``unreachable`` (no connection for an earlier file) is not asked
    again: with every mirror down, four files would wait out four rounds of retries.
    Raises _UnservedFileError with every mirror's reason when none served the file.
    """
    failures = []
    for base in bases:
        if base in unreachable:
            failures.append(unreachable[base])
            continue
        url = base.rstrip("/") + "/" + name
        try:
            _fetch(session, url, md5, dest, progress)
            return
        except _MirrorError as failure:
            failures.append(str(failure))
            if failure.unreachable:
                unreachable[base] = str(failure)
            logger.debug("%s: %s", url, failure)
    raise _UnservedFileError(name, len(bases), failures)


def _download_failed(
    failed: list[_UnservedFileError], n_files: int, data_dir: Path
) -> DatasetError:
    """The one-line error for the files that no mirror could serve."""
    if len(failed) == 1:
        message = (
            f"could not download {failed[0].describe()} — "
            f"download it by hand into {data_dir}/ or pass --mirror URL"
        )
    else:
        message = (
            f"could not download {len(failed)} of {n_files} files:"
            f" {'; '.join(f.describe() for f in failed)} — "
            f"download them by hand into {data_dir}/ or pass --mirror URL"
        )
    if all(f.checksums_only for f in failed):
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
            raise _MirrorError(f"{_mirror_of(url)}: {reason}")
        received = hash_file(part)
        if received != md5:
            part.unlink()
            if resumed:
                # The bytes kept from before may be what is wrong (a different
                # mirror's file, say): fetch this one whole before blaming it.
                _fetch(session, url, md5, dest, progress)
                return
            raise _MirrorError(
                f"{_mirror_of(url)}: {CHECKSUM_MISMATCH} (MD5 {received}, expected {md5})"
            )
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
        raise _MirrorError(f"{_mirror_of(url)}: timeout", unreachable=True) from None
    except requests.ConnectionError:
        raise _MirrorError(f"{_mirror_of(url)}: connection failed", unreachable=True) from None
    except requests.RequestException as exc:
        raise _MirrorError(f"{_mirror_of(url)}: {type(exc).__name__}") from None
    with response:
        if response.status_code == 416 and have:
            # The server has fewer bytes than our partial: it is not a prefix of
            # this file. Start again from byte 0.
            part.unlink()
            raise _CutShortError("range not satisfiable")
        if not response.ok:
            raise _MirrorError(f"{_mirror_of(url)}: {response.status_code}")
        if "html" in response.headers.get("Content-Type", "").lower():
            raise _MirrorError(f"{_mirror_of(url)}: served an HTML page, not the file")
        start, total = _body_span(response, have)
        if start != have and response.status_code == 206:
            part.unlink()  # a range we did not ask for: unusable, start over
            raise _CutShortError("unexpected Content-Range")
        chunks = _body(response)
        first = next(chunks, b"")
        if start == 0 and first.lstrip()[:1] == b"<":
            # No Content-Type said so, but gzip data never starts with "<".
            raise _MirrorError(f"{_mirror_of(url)}: served an HTML page, not the file")
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
        raise _MirrorError(f"{_mirror_of(url)}: sent more bytes than it announced")


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


def _mirror_of(url: str) -> str:
    """The mirror a file's URL came from (its base URL, as given to --mirror): two mirrors
    on one host differ only by their path, so the host alone cannot tell them apart."""
    return url.rsplit("/", 1)[0] + "/"


def _make_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(
            f"cannot create data directory {folder}: {exc.strerror or exc} — "
            "pass --data-dir with a writable folder"
        ) from exc

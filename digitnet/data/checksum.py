"""MD5s of dataset files: hashed in chunks, cached, and a warning for files that differ.

Files a user put in the data directory by hand are theirs: they are never
rejected on their checksum alone, only warned about once.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from digitnet.errors import DatasetError

logger = logging.getLogger("digitnet")
CHUNK_BYTES = 1 << 16

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
            _md5_cache[key] = hash_file(path)
    except OSError as exc:
        raise DatasetError(
            f"cannot read {path}: {exc.strerror or exc} — check that it is a readable file"
        ) from None
    return _md5_cache[key]


def hash_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def warn_if_modified(path: Path, expected_md5: str) -> None:
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

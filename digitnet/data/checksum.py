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


def accepted_path(path: Path) -> Path:
    """Where the MD5 the user accepted for a hand-placed ``path`` is kept."""
    return path.with_name(f".{path.name}.accepted-md5")


def is_accepted(path: Path, actual_md5: str) -> bool:
    """Did the user accept ``path`` with exactly this content (`download --accept-modified`)?"""
    try:
        return accepted_path(path).read_text(encoding="ascii").strip() == actual_md5
    except (OSError, UnicodeDecodeError):
        return False


def accept(path: Path) -> str:
    """Remember ``path``'s current MD5 as accepted by the user; return it.

    Only the user's own command writes this (`digitnet download --accept-modified`):
    a warning the user has read is not repeated on every command, and a file that
    changes again is warned about again, since its MD5 no longer matches.
    """
    from digitnet.atomic import write_text

    actual = file_md5(path)
    write_text(accepted_path(path), actual + "\n")
    return actual


def warn_if_modified(path: Path, expected_md5: str) -> None:
    """Warn when ``path`` is not the published file: once per file and content, and not at
    all once the user accepted that content (`digitnet download --accept-modified`).

    Used for files found in the data directory, which may have been put there by
    hand on purpose; they are never rejected on their checksum alone.
    """
    actual = file_md5(path)
    if actual == expected_md5 or (str(path), actual) in _warned_modified:
        return
    _warned_modified.add((str(path), actual))
    if is_accepted(path, actual):
        return
    logger.warning(
        "%s differs from the published file (MD5 %s, expected %s) — using it as is;"
        " `digitnet download --accept-modified` (same --data-dir) stops this warning, or"
        " delete the file and run `digitnet download` to get the original",
        path,
        actual,
        expected_md5,
    )

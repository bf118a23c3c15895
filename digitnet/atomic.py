"""Atomic file writes: a temp file in the target's folder, fsync, then ``os.replace``.

A crash or Ctrl-C at any moment leaves either the old file or the new one, never
half of one, because ``os.replace`` within one filesystem is atomic.

A process killed outright (SIGKILL, power cut) cannot remove its temp file. The
temp file's name carries the writer's process id (``.model.npz.<pid>.<random>.tmp``),
so the next write to the same path removes temp files whose writer is gone,
while leaving alone those of a writer that is still running.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temp file beside ``path``; on success it replaces ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    import tempfile  # here: `predict` writes nothing, and its cold start skips this import

    fd, tmp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp"
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); give it the permissions a plain
        # open() would have, so the result looks like any other file the user writes.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    with atomic_write(path, "w") as handle:
        handle.write(text)


def remove_own_temps(folder: Path) -> list[Path]:
    """Delete this process's temp files in ``folder``; return them.

    For Ctrl-C: the ``finally`` above removes a temp file whenever the interrupt lands
    inside the write, but one landing in contextlib's own ``__enter__``/``__exit__``
    leaves the generator suspended, and it may never be finalised before the process
    exits. The caller that handles the interrupt sweeps up after it.
    """
    removed = []
    for candidate in folder.glob(f".*.{os.getpid()}.*.tmp"):
        with contextlib.suppress(OSError):
            candidate.unlink()
            removed.append(candidate)
    return removed


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete temp files left beside ``path`` by writers that no longer run; return them."""
    removed = []
    prefix = f".{path.name}."
    for candidate in path.parent.glob(glob.escape(prefix) + "*.tmp"):
        pid = candidate.name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            with contextlib.suppress(OSError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def _running(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without sending anything)."""
    if pid == os.getpid() or os.name != "posix":
        return True  # elsewhere signal 0 is not a harmless probe
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but is not ours, or we cannot tell: leave its file alone
    return True

"""Keep freed memory in the process during training, so fresh arrays cost no page faults.

Distorting a mini-batch (data/augment.py) makes a few dozen temporary arrays of m × 784
values (300-600 KB each) per batch. glibc's malloc serves blocks of that size with a
fresh ``mmap`` and returns them with ``munmap`` when freed, or trims the heap's top back
to the system, so every temporary starts as untouched pages, each costing a page fault
on first write. Measured on the 2-core AMD EPYC (issue 12): one batch of 100 images with
configs/best.yaml's distortions took 6-7 ms that way and 2.8 ms once malloc kept its
freed memory for reuse. The training step itself writes into preallocated arrays
(network.Workspace) and is unaffected.

``keep_freed_memory`` raises glibc's mmap threshold (blocks up to ``MMAP_THRESHOLD``
come from the heap and are reused) and its trim threshold (freed memory is kept up to
``TRIM_THRESHOLD``), through ``mallopt``. Only glibc has it: elsewhere (musl, macOS,
Windows) nothing is changed. The setting is for the rest of the process; what it keeps
is at most the largest set of temporaries a batch needs, not a growth per batch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 16 << 20  # blocks below 16 MiB from the heap (glibc's ceiling is 32 MiB)
TRIM_THRESHOLD = 128 << 20  # keep up to 128 MiB of freed heap before giving it back


@cache
def keep_freed_memory() -> bool:
    """Tell glibc's malloc to reuse freed blocks (see the module's docstring).

    Returns True when glibc accepted both settings. Done once per process.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    accepted = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    accepted = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and accepted
    log.debug("malloc keeps freed memory for reuse: %s", accepted)
    return bool(accepted)

"""training/allocator.py: with glibc, fresh temporaries reuse freed memory (no page faults)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from digitnet.training.allocator import keep_freed_memory

# A distortion-like batch: ten 600 KB temporaries written and freed, fifty times over.
PROGRAM = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    if sys.argv[1] == "keep":
        from digitnet.training.allocator import keep_freed_memory
        assert keep_freed_memory()
    def batch():
        arrays = [np.ones(150_000, np.float32) for _ in range(10)]
        return sum(float(a[0]) for a in arrays)
    batch()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        batch()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


def page_faults(mode: str) -> int:
    run = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, check=True
    )
    return int(run.stdout)


@pytest.mark.skipif(not keep_freed_memory(), reason="needs glibc's mallopt (Linux with glibc)")
def test_temporaries_stop_costing_page_faults():
    # Without the setting each batch's 6 MB come back from the system as fresh pages
    # (~1,500 faults a batch); with it the freed blocks are reused.
    assert page_faults("default") > 10_000
    assert page_faults("keep") < 500


def test_keep_freed_memory_is_done_once_and_answers_the_same():
    assert keep_freed_memory() == keep_freed_memory()

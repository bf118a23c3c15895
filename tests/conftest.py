"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI gates a change; it should not fail because hypothesis happened to draw, this time,
# an input no earlier run drew. With DIGITNET_CI set (.ci/run sets it) every property
# test draws the same examples on every run; local runs keep exploring new ones (and
# hypothesis replays the failures it finds there from its .hypothesis database).
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("DIGITNET_CI"):
    settings.load_profile("ci")


@pytest.fixture
def mnist_dir() -> Path:
    """The folder of real MNIST files named by $DIGITNET_TEST_MNIST (tests skip without it).

    `t10k-*` and `train-labels-*` there are the genuine files; `train-images-*` is
    a reconstruction whose MD5 differs from the published one (see shared/mnist/README.md).
    """
    folder = os.environ.get("DIGITNET_TEST_MNIST")
    if not folder:
        pytest.skip("DIGITNET_TEST_MNIST is not set (folder of the MNIST *-ubyte.gz files)")
    path = Path(folder)
    if not path.is_dir():
        pytest.skip(f"DIGITNET_TEST_MNIST={folder} is not a directory")
    return path

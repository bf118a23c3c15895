"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


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

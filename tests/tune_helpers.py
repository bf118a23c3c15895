"""Shared pieces of the tune tests: a small MNIST subset and a quick base config."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

from digitnet.data.idx import read_idx

SUBSET = 2000  # training images (the last VALIDATION of them held out): quick, learnable
VALIDATION = 500

# A quick base: a few hundred ms per trial on the subset
BASE_YAML = f"""\
hidden_size: 16
activation: relu
learning_rate: 0.1
l2: 0.5
validation_size: {VALIDATION}
epochs: 3
batch_size: 50
"""


def write_idx(path: Path, array: np.ndarray) -> None:
    magic = 0x0803 if array.ndim == 3 else 0x0801
    header = struct.pack(">I" + "I" * array.ndim, magic, *array.shape)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + array.astype(np.uint8).tobytes())


def make_subset(source: Path, out: Path) -> Path:
    """The first SUBSET training images as IDX files (tune never reads the test split,
    but the dataset is complete only with it, so it is copied too)."""
    out.mkdir(parents=True, exist_ok=True)
    for kind in ("images-idx3", "labels-idx1"):
        name = f"train-{kind}-ubyte.gz"
        write_idx(out / name, read_idx(source / name)[:SUBSET])
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (out / name).write_bytes((source / name).read_bytes())
    return out


def tune_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "digitnet", "tune", *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env.pop("DIGITNET_DEBUG", None)
    return env


def run_tune(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tune_command(*args), capture_output=True, text=True, env=child_env(), timeout=timeout
    )

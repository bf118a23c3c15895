"""The project's words, defined once: MNIST's geometry and the network's fixed sizes.

Every module that needs 28, 784 or 10 imports them from here.
"""

from __future__ import annotations

from pathlib import Path

# MNIST geometry: every image is IMAGE_SIDE × IMAGE_SIDE 8-bit gray levels, one of
# N_CLASSES digits (http://yann.lecun.com/exdb/mnist/).
IMAGE_SIDE = 28
N_INPUTS = IMAGE_SIDE * IMAGE_SIDE  # 784, the size of a^(1)
N_CLASSES = 10  # the size of a^(3)

#: where `digitnet train` saves, and where the other commands and load_model() look first
DEFAULT_CHECKPOINT = Path("checkpoints/model.npz")

"""Checkpoints that read every image the same way, and images of plain strokes: for tests
of what `digitnet predict` prints, independent of what a trained network would say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from digitnet import checkpoint
from digitnet.config import Config
from digitnet.nn import network

#: the readings' distribution by default: 3 most likely, then 8, then 5
PROBABILITIES = np.array([0.01, 0.01, 0.02, 0.6, 0.01, 0.1, 0.01, 0.01, 0.2, 0.03])


def fixed_checkpoint(path: Path, probabilities=None, temperature: float | None = None) -> Path:
    """Every image reads as ``probabilities`` (default ``PROBABILITIES``): W = 0, b = 0,
    b2 = log p (softmax(log p) = p)."""
    if probabilities is None:
        probabilities = PROBABILITIES
    params = network.init_params(4, "sigmoid", np.random.default_rng(0))
    for name in ("W1", "b1", "W2", "b2"):
        getattr(params, name)[...] = 0
    params.b2[...] = np.log(probabilities)
    metrics = {} if temperature is None else {"temperature": temperature}
    ckpt = checkpoint.Checkpoint(params=params, config=Config(hidden_size=4), metrics=metrics)
    checkpoint.save(path, ckpt)
    return path


def stroke_png(path: Path, bars: int = 1) -> Path:
    """Dark vertical strokes on white: one digit per stroke."""
    image = Image.new("L", (60 * bars, 80), 255)
    draw = ImageDraw.Draw(image)
    for i in range(bars):
        draw.rectangle([60 * i + 25, 10, 60 * i + 35, 70], fill=0)
    image.save(path)
    return path

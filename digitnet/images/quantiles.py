"""Medians and percentiles of pixel values, as numpy computes them, by a partial sort.

Why not ``np.median`` and ``np.percentile``: on their first call both import
``numpy.ma`` (to check for masked arrays), about 12 ms that `digitnet predict`'s cold
start would pay for nothing. These give the same values for the arrays the reader
passes (finite numbers, any shape; integers and booleans counted as float64, as numpy
does); ``tests/test_quantiles.py`` compares them with numpy's.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray


def _values(values: ArrayLike) -> NDArray[np.floating]:
    flat = np.asarray(values).ravel()
    if flat.size == 0:
        raise ValueError("no values to take a median or percentile of")
    if not np.issubdtype(flat.dtype, np.floating):
        return flat.astype(np.float64)  # numpy's mean of two middle integers is float64 too
    return flat


def median(values: ArrayLike) -> float:
    """The middle value, or the mean of the two middle ones (in the values' own precision)."""
    flat = _values(values)
    half = flat.size // 2
    if flat.size % 2:
        return float(np.partition(flat, half)[half])
    part = np.partition(flat, (half - 1, half))
    return float((part[half - 1] + part[half]) / 2)


def percentile(values: ArrayLike, q: float) -> float:
    """numpy's default ("linear") percentile: between the two ranks around q/100 · (n − 1),
    interpolated from the nearer one, as numpy's ``_lerp`` does."""
    flat = _values(values)
    position = q / 100 * (flat.size - 1)
    low = math.floor(position)
    high = min(low + 1, flat.size - 1)
    part = np.partition(flat, (low, high) if high != low else low)
    below, above = part[low], part[high]
    t = flat.dtype.type(position - low)  # numpy interpolates in the values' own precision
    step = above - below
    if t >= 0.5:
        return float(above - step * (1 - t))
    return float(below + step * t)

"""digitnet/images/quantiles.py gives numpy's medians and percentiles without numpy.ma."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from digitnet.images.quantiles import median, percentile

DTYPES = [np.float32, np.float64, np.uint8, np.int64, np.bool_]


def sample(rng: np.random.Generator, n: int, dtype: type) -> np.ndarray:
    if dtype is np.bool_:
        return rng.random(n) < 0.3
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 256, n).astype(dtype)
    return (rng.standard_normal(n) * 40 + 100).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 1000, 1001])
def test_median_is_numpys(dtype, n):
    rng = np.random.default_rng(n)
    for _ in range(20):
        values = sample(rng, n, dtype)
        assert median(values) == float(np.median(values))


@pytest.mark.parametrize("dtype", DTYPES[:-1])  # numpy refuses booleans here
@pytest.mark.parametrize("q", [0.0, 10.0, 25.0, 50.0, 75.0, 99.5, 100.0])
def test_percentile_is_numpys(dtype, q):
    rng = np.random.default_rng(int(q * 10))
    for n in (1, 2, 7, 100, 1001):
        values = sample(rng, n, dtype)
        assert percentile(values, q) == float(np.percentile(values, q)), (n, q)


def test_any_shape_counts_every_value():
    values = np.arange(24, dtype=np.float32).reshape(2, 3, 4)[:, ::-1]
    assert median(values) == float(np.median(values))
    assert percentile(values, 30) == float(np.percentile(values, 30))


def test_no_values_is_an_error_not_a_nan():
    with pytest.raises(ValueError, match="no values"):
        median(np.empty(0))


def test_they_leave_numpy_ma_unloaded():
    code = (
        "import sys, numpy as np\n"
        "from digitnet.images.quantiles import median, percentile\n"
        "median(np.arange(5.0)); percentile(np.arange(5.0), 25)\n"
        "print('numpy.ma' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

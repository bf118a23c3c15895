"""Temperature scaling: confidences that mean what they say.

A network trained to low cross-entropy is often over-confident: of the digits it reads
with 99% confidence, fewer than 99% are right. Guo et al., "On Calibration of Modern
Neural Networks" (2017, §4.2) fix this with one scalar T > 0 that divides the output
layer's inputs before the softmax,

    h_θ(x) = softmax(z^(3) / T),

fitted on the validation split alone by minimising its negative log-likelihood
NLL(T) = −(1/v) Σ_i log h_θ(x_i)_{y_i}. Dividing every z^(3) by the same T keeps the
largest one largest, so the predicted digits (and every accuracy) are unchanged; only
the confidences move. With sigmoid outputs the same T divides z^(3) before the
sigmoids, whose outputs are then normalised to sum to one, as `predict_proba` does.

The fitted T is stored in the checkpoint's metrics (``temperature``, with what it was
fitted on in ``temperature_fitted_on``; training/calibrate.py, at the end of a run on the
validation split, or later on any sets of logits, as scripts/calibrate_reader.py does for
the bundled model on real-looking development digits); a checkpoint without one (older
files) reads with T = 1, i.e. as before.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from digitnet.errors import CheckpointError

#: T is searched in [e^−3, e^3]: far beyond any temperature a trained network needs
LOG_T_BOUNDS = (-3.0, 3.0)
#: rows per forward pass in ``logits``: bounds memory, big enough for BLAS
LOGIT_BATCH = 2000


def probabilities(Z3: NDArray[np.floating], output: str, temperature: float = 1.0) -> NDArray[Any]:
    """h_θ(x) from the output layer's inputs z^(3) (m, 10), each divided by ``temperature``."""
    z = np.asarray(Z3, dtype=np.float64) / temperature
    if output == "softmax":
        z = z - z.max(axis=1, keepdims=True)  # stable: e^(z − max) ≤ 1
        e = np.exp(z)
        p: NDArray[Any] = e / e.sum(axis=1, keepdims=True)
        return p
    # sigmoid outputs, read as probabilities after normalising (network.predict_proba)
    s = 0.5 * (1.0 + np.tanh(0.5 * z))  # σ(z) without overflow for large |z|
    q: NDArray[Any] = s / s.sum(axis=1, keepdims=True)
    return q


def nll(
    Z3: NDArray[np.floating],
    labels: NDArray[np.integer],
    output: str,
    t: float,
    weights: NDArray[np.floating] | None = None,
) -> float:
    """Mean −log h_θ(x)_y at temperature ``t``; with ``weights`` (m,), their weighted mean."""
    p = probabilities(Z3, output, t)[np.arange(len(labels)), labels]
    return float(-np.average(np.log(np.maximum(p, 1e-300)), weights=weights))


def fit_temperature(
    Z3: NDArray[np.floating],
    labels: NDArray[np.integer],
    output: str,
    weights: NDArray[np.floating] | None = None,
) -> float:
    """The T minimising the (weighted) NLL of (Z3, labels), searched over log T (a smooth
    1-D problem). ``weights`` let sets of different sizes count the same
    (training/calibrate.fit_on)."""
    from scipy.optimize import minimize_scalar

    if len(labels) == 0:
        return 1.0
    result = minimize_scalar(
        lambda log_t: nll(Z3, labels, output, math.exp(log_t), weights),
        bounds=LOG_T_BOUNDS,
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(math.exp(result.x))


def temperature_of(metrics: dict[str, Any], where: str = "the checkpoint") -> float:
    """The stored T, 1.0 when absent; anything but a positive finite number is refused."""
    value = metrics.get("temperature", 1.0)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise CheckpointError(
            f"{where} has temperature {value!r}, not a positive number"
            " — retrain it, or remove the temperature entry"
        )
    return float(value)


def predict_proba(
    params: Any, A1: NDArray[np.float32], activation: str, output: str, temperature: float
) -> NDArray[np.float32]:
    """h_θ(x) at temperature T for each row of A1: (m, 10), as the reader shows them.

    T = 1 gives network.predict_proba's values (up to float32 rounding).
    """
    from digitnet.nn.network import forward

    Z3 = forward(params, A1, activation, output).Z3
    return probabilities(Z3, output, temperature).astype(np.float32)


def logits(params: Any, X: NDArray[np.float32], activation: str, output: str) -> NDArray[Any]:
    """z^(3) for every row of X (n, 784), in batches: (n, 10)."""
    from digitnet.nn.network import forward

    out = np.empty((len(X), 10), dtype=np.float32)
    for start in range(0, len(X), LOGIT_BATCH):
        stop = min(start + LOGIT_BATCH, len(X))
        out[start:stop] = forward(params, X[start:stop], activation, output).Z3
    return out

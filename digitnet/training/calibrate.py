"""Temperature scaling for a trained checkpoint: T fitted on given sets, stored with them.

The runner calls ``calibrate_checkpoint`` after the last epoch: T is fitted to the
kept parameters on the validation split (nn/calibration.py) and stored in the
checkpoint's metrics. ``fit_on`` and ``store_temperature`` do the same for any sets of
logits z^(3) with their labels: scripts/calibrate_reader.py gathers them from
real-looking development digits read exactly as `predict` reads a file, for the
bundled model. The stored ``temperature_fitted_on`` says which sets informed T, with
each set's NLL at T = 1 and at the fitted T, so `digitnet info` shows where T comes
from and what it cost or bought on each set.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from digitnet import checkpoint
from digitnet.nn.calibration import fit_temperature, logits, nll

#: what the runner's T is fitted on (inputs.split_validation holds out the last images)
VALIDATION_SET = "MNIST validation split"
#: metrics that describe an earlier fit on the validation split only
_VALIDATION_NLL_KEYS = ("validation_nll", "validation_nll_calibrated")


@dataclass(frozen=True)
class CalibrationSet:
    """Digits' output-layer inputs z^(3) (n, 10) and their true labels (n,), named."""

    name: str
    Z3: NDArray[np.floating]
    labels: NDArray[np.integer]


@dataclass(frozen=True)
class SetFit:
    name: str
    count: int
    nll_before: float  # at T = 1
    nll_after: float  # at the fitted T


@dataclass(frozen=True)
class TemperatureFit:
    temperature: float
    sets: tuple[SetFit, ...]

    def describe(self) -> str:
        """One line: each set, its size and its NLL at T = 1 → at T."""
        parts = [
            f"{s.name} ({s.count:,} digits, NLL {s.nll_before:.4f} → {s.nll_after:.4f})"
            for s in self.sets
        ]
        weighting = "; each set weighs the same" if len(self.sets) > 1 else ""
        return "; ".join(parts) + weighting


def fit_on(sets: list[CalibrationSet], output: str) -> TemperatureFit:
    """The T minimising the NLL over all ``sets`` together, each set weighing the same.

    Equal weights per set (each example 1/(S·n_s)) keep a large set (MNIST's 5,000
    validation digits) from drowning a small one (a few hundred real-looking digits);
    with one set this is the plain mean NLL of nn/calibration.fit_temperature.
    """
    sets = [s for s in sets if len(s.labels)]
    if not sets:
        raise ValueError("fit_on needs at least one set with digits")
    Z3 = np.concatenate([np.asarray(s.Z3, dtype=np.float64) for s in sets])
    labels = np.concatenate([np.asarray(s.labels) for s in sets])
    weights = np.concatenate([np.full(len(s.labels), 1.0 / len(s.labels)) for s in sets])
    t = fit_temperature(Z3, labels, output, weights)
    fits = tuple(
        SetFit(
            s.name, len(s.labels), nll(s.Z3, s.labels, output, 1.0), nll(s.Z3, s.labels, output, t)
        )
        for s in sets
    )
    return TemperatureFit(t, fits)


def store_temperature(
    path: Path, fit: TemperatureFit, fitted_by: str, figures: dict[str, float] | None = None
) -> None:
    """Store ``fit``'s T and what it was fitted on (by ``fitted_by``) in the checkpoint,
    with any other ``figures`` of the fit.

    Written atomically (checkpoint.save); the parameters are stored in the dtype they
    had (a float16 checkpoint stays float16, bit for bit). Figures of an earlier fit on
    the validation split alone are dropped: they described another T.
    """
    ckpt = checkpoint.load(path)
    metrics: dict[str, Any] = {
        k: v for k, v in ckpt.metrics.items() if k not in _VALIDATION_NLL_KEYS
    }
    metrics["temperature"] = fit.temperature
    metrics["temperature_fitted_on"] = f"{fit.describe()} ({fitted_by})"
    metrics.update(figures or {})
    stored = ckpt.params.astype(np.dtype(ckpt.param_dtype))
    checkpoint.save(path, replace(ckpt, params=stored, metrics=metrics))


def calibrate_checkpoint(
    path: Any, X_val: NDArray[np.float32], y_val: NDArray[np.integer]
) -> float:
    """Fit T on the validation split for the checkpoint at ``path`` and store it there.

    Also stores the validation NLL before and after, so `digitnet info` shows what the
    fit bought. Returns T.
    """
    ckpt = checkpoint.load(path)
    Z3 = logits(ckpt.params, X_val, ckpt.config.activation, ckpt.config.output)
    fit = fit_on([CalibrationSet(VALIDATION_SET, Z3, y_val)], ckpt.config.output)
    validation = fit.sets[0]
    figures = {
        "validation_nll": validation.nll_before,
        "validation_nll_calibrated": validation.nll_after,
    }
    store_temperature(path, fit, "at the end of training", figures)
    return fit.temperature

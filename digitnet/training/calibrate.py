"""Temperature scaling for a trained checkpoint, on its validation split only.

The runner calls ``calibrate_checkpoint`` after the last epoch: T is fitted to the
kept parameters (nn/calibration.py) and stored in the checkpoint's metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from digitnet import checkpoint
from digitnet.nn.calibration import fit_temperature, logits, nll


def calibrate_checkpoint(
    path: Any, X_val: NDArray[np.float32], y_val: NDArray[np.integer]
) -> float:
    """Fit T on the validation split for the checkpoint at ``path`` and store it there.

    Also stores the validation NLL before and after, so `digitnet info` shows what the
    fit bought. Returns T.
    """
    ckpt = checkpoint.load(path)
    Z3 = logits(ckpt.params, X_val, ckpt.config.activation, ckpt.config.output)
    t = fit_temperature(Z3, y_val, ckpt.config.output)
    ckpt.metrics["temperature"] = t
    ckpt.metrics["validation_nll"] = nll(Z3, y_val, ckpt.config.output, 1.0)
    ckpt.metrics["validation_nll_calibrated"] = nll(Z3, y_val, ckpt.config.output, t)
    checkpoint.save(path, ckpt)
    return t

"""What the live page computes, without any web code: reading, looking inside, teaching.

A `Session` holds the network the page works on: the checkpoint's θ as loaded, and a
working copy that the page's "teach" steps change. Nothing here writes the checkpoint;
`save_copy` writes the working θ to a NEW file whose name the session chooses.

* `read` takes an uploaded or drawn image's bytes and reads it exactly as
  ``digitnet predict`` does (`preprocess.load_for_prediction`, the same image-bomb
  refusals, segmentation into digits left to right), then, per digit, the forward pass
  (B1)-(B4) with a^(1), a^(2), a^(3), and each hidden unit's share of the top class's
  z^(3): θ^(2)_{top,j} a^(2)_j.
* `teach` takes one a^(1) and its true label y and runs the project's own backprop
  (``network.forward``, ``network.backprop``: (B6)-(B8)) on that single example (m = 1),
  then one gradient step θ ← θ − η ∂J/∂θ on the working copy, and reports y, δ^(3),
  δ^(2), ‖∂J/∂θ^(1)‖ per hidden unit and a^(3) after the step.

Every method is safe to call from several threads: the working θ is replaced as a whole
under a lock, never changed in place, so a reading always sees one consistent θ.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from digitnet import checkpoint as checkpoint_io
from digitnet.api import Model
from digitnet.checkpoint import Checkpoint
from digitnet.errors import CheckpointError, DigitnetError, ImageError
from digitnet.images.decode import load_bytes_for_prediction
from digitnet.images.preprocess import to_mnist_digits_boxed
from digitnet.images.reading import UNCERTAIN_BELOW
from digitnet.insight.explain import n_train_of
from digitnet.nn import network
from digitnet.nn.calibration import probabilities
from digitnet.nn.network import Params
from digitnet.vocabulary import N_CLASSES, N_INPUTS

#: hidden units shown as pushing the top class up (and as many pushing it down)
TOP_UNITS = 6
#: η accepted by `teach`: one step with η above this says nothing a learner can read
MAX_ETA = 10.0
#: digits read in one image; more is a page of text, not a drawing
MAX_DIGITS = 12
#: a tile's values are sent as integers in [−TILE_SCALE, TILE_SCALE] (compact JSON)
TILE_SCALE = 100
#: what error messages call an upload (never a name the client chose)
UPLOAD_NAME = "the uploaded image"

Array = NDArray[np.float32]


def one_blas_thread() -> Any:
    """Limit numpy's BLAS to one thread for this process (the server's).

    The page computes one example at a time: a (1, 784) × (784, 800) product takes
    0.06 ms on one thread, and 20 ms with OpenBLAS's two threads on the busy 2-core
    machine of benchmarks/serve_latency.py (waking and waiting for a worker for a
    microsecond's work). Returns threadpoolctl's limiter (keep it; it can undo the limit).
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


class RequestError(DigitnetError):
    """A request to the page's API is not valid (a value missing, of the wrong kind, …)."""


def tile(values: NDArray[np.floating]) -> list[int]:
    """A 784-vector as integers in [−TILE_SCALE, TILE_SCALE], scaled by its largest |·|,
    so the page can draw θ^(1) rows and gradients as 28×28 tiles with one colour scale
    per tile (the sign is what matters: blue for +, red for −)."""
    peak = float(np.max(np.abs(values)))
    if peak == 0.0 or not math.isfinite(peak):
        return [0] * int(values.size)
    scaled: list[int] = np.rint(values * (TILE_SCALE / peak)).astype(np.int64).tolist()
    return scaled


def _rounded(values: NDArray[np.floating], digits: int = 5) -> list[float]:
    """Values to ``digits`` decimals: compact JSON for numbers of order one (a, p)."""
    rounded: list[float] = np.round(values.astype(np.float64), digits).tolist()
    return rounded


def _significant(values: NDArray[np.floating], digits: int = 6) -> list[float]:
    """Values to ``digits`` significant figures: errors and gradients span many decades."""
    return [float(f"{float(v):.{digits}g}") for v in values]


@dataclass(frozen=True)
class _Network:
    """The working θ with a count of the taught steps behind it (replaced, never mutated)."""

    params: Params
    steps: int


class Session:
    """The network the page shows and teaches: the checkpoint's θ and a working copy."""

    def __init__(self, model: Model) -> None:
        # A model built in memory has no file: its copies go to ./checkpoints, as the
        # bundled model's do.
        self.checkpoint_path = model.path or Path("checkpoints") / "model.npz"
        self.bundled = model.bundled or model.path is None
        self.checkpoint: Checkpoint = model.checkpoint
        self.config = self.checkpoint.config
        # n in (λ/2n) Σ θ²: the training set size the checkpoint records (explain does the same)
        self.n_train = n_train_of(self.checkpoint.metrics, self.config.validation_size)
        self._lock = threading.Lock()
        self._network = _Network(self.checkpoint.params.copy(), 0)

    # -- what is loaded ---------------------------------------------------------------

    @property
    def hidden_size(self) -> int:
        return self.checkpoint.params.hidden_size

    def summary(self) -> dict[str, Any]:
        """What ``digitnet info`` shows, plus the taught steps not yet saved."""
        return {
            "checkpoint": self.checkpoint_path.name,
            "bundled": self.bundled,
            "architecture": f"784-{self.hidden_size}-10",
            "activation": self.config.activation,
            "output": self.config.output,
            "created": self.checkpoint.created,
            "digitnet_version": self.checkpoint.version,
            "config": self.config.to_dict(),
            "metrics": self.checkpoint.metrics,
            "taught_steps": self._network.steps,
            "uncertain_below": UNCERTAIN_BELOW,
            "l2": self.config.l2,
            "n_train": self.n_train,
        }

    # -- reading ----------------------------------------------------------------------

    def read(self, data: bytes, single: bool = False) -> dict[str, Any]:
        """Every digit in the image ``data`` (a file's bytes), as ``predict`` reads it.

        Raises
        ------
        ImageError
            Not an image, too large to decode safely, or no digit in it.
        """
        if not data:
            raise ImageError("the image is empty — draw a digit or choose an image file")
        # predict's loader, from memory: the same decompression-bomb refusal and reduction.
        image = load_bytes_for_prediction(data, UPLOAD_NAME)
        digits, regions = to_mnist_digits_boxed(image, name="the image", single=single)
        if len(digits) > MAX_DIGITS:
            raise ImageError(
                f"the image holds {len(digits)} digits, more than {MAX_DIGITS}"
                " — crop it to the digits you want read"
            )
        A1 = np.stack(digits).reshape(len(digits), N_INPUTS)  # (k, 784) a^(1), left to right
        network_now = self._network
        results = self._look(network_now.params, A1)
        width, height = image.size
        for result, region in zip(results, regions, strict=True):
            # Where the digit is, as fractions of the image, for the page to outline it.
            result["box"] = [
                region.left / width,
                region.top / height,
                region.right / width,
                region.bottom / height,
            ]
        return {
            "number": "".join(str(r["digit"]) for r in results),
            "confidence": min(r["confidence"] for r in results),
            "uncertain": any(r["uncertain"] for r in results),
            "taught_steps": network_now.steps,
            "digits": results,
        }

    def _look(self, params: Params, A1: Array) -> list[dict[str, Any]]:
        """Forward pass (B1)-(B4) for each row of A1, and the hidden units behind the top class."""
        activation, output = self.config.activation, self.config.output
        cache = network.forward(params, A1, activation, output)  # (B1)-(B4)
        A2 = cache.A2  # (k, H)  a^(2)
        # (k, 10) a^(3) at the checkpoint's temperature T (nn/calibration.py), as `predict`
        # shows them; sigmoid rows renormalised
        P = probabilities(cache.Z3, output, self.checkpoint.temperature)
        results = []
        for a1, a2, p in zip(A1, A2, P, strict=True):
            top = int(np.argmax(p))
            confidence = float(p[top])
            # z^(3)_top = Σ_j θ^(2)_{top,j} a^(2)_j + bias (B3): each term is one hidden
            # unit's push on the top class, up (> 0) or down (< 0).
            contribution = params.W2[top] * a2  # (H,)
            order = np.argsort(contribution, kind="stable")
            up = [int(j) for j in order[::-1][:TOP_UNITS] if contribution[j] > 0]
            down = [int(j) for j in order[:TOP_UNITS] if contribution[j] < 0]
            results.append(
                {
                    "digit": top,
                    "confidence": confidence,
                    "uncertain": confidence < UNCERTAIN_BELOW,
                    "a1": _rounded(a1, 4),
                    "a2": _rounded(a2, 4),
                    "a3": _rounded(p, 6),
                    "contribution": _rounded(contribution, 5),
                    "bias": float(params.b2[top]),
                    "units_up": [self._unit(params, j, a2, contribution) for j in up],
                    "units_down": [self._unit(params, j, a2, contribution) for j in down],
                }
            )
        return results

    @staticmethod
    def _unit(params: Params, j: int, a2: Array, contribution: Array) -> dict[str, Any]:
        return {
            "unit": j,
            "a2": float(a2[j]),
            "contribution": float(contribution[j]),
            "tile": tile(params.W1[j]),  # θ^(1) row j: the pattern unit j responds to
        }

    # -- teaching ---------------------------------------------------------------------

    def teach(self, a1: Any, label: Any, eta: Any) -> dict[str, Any]:
        """One backprop step on the single example (a1, label) with learning rate η.

        The step changes the working θ only (the page's later readings use it); the
        checkpoint file is never written.
        """
        A1 = _input_row(a1)  # (1, 784)
        y_label = _label(label)
        step = _eta(eta)
        activation, output = self.config.activation, self.config.output
        l2, n = self.config.l2, self.n_train
        y = np.array([y_label])  # m = 1
        with self._lock:
            before = self._network
            params = before.params
            cache = network.forward(params, A1, activation, output)  # (B1)-(B4)
            cost_before = network.data_cost(cache.Z3, y, output) + network.l2_penalty(params, l2, n)
            a3_before = network.predict_proba(params, A1, activation, output)[0]
            delta3 = network.output_error(cache.A3, y)[0]  # (10,)  (B6) δ^(3) = a^(3) − y
            workspace = network.Workspace.allocate(1, self.hidden_size, np.float32)
            grads = network.backprop(params, cache, y, activation, l2, n, workspace)  # (B6)-(B8)
            # backprop leaves δ^(2)/m in the workspace (B7); with m = 1 that is δ^(2) itself.
            delta2 = workspace.delta2[0].copy()  # (H,)
            # ‖∂J/∂θ^(1)_j‖: the size of the change asked of hidden unit j's row of θ^(1)
            # (its 784 weights and its bias), (B8) with m = 1: δ^(2)_j a^(1) + (λ/n) θ^(1)_j.
            grad_norm = np.sqrt(np.einsum("ij,ij->i", grads.W1, grads.W1) + grads.b1 * grads.b1)
            # One step of gradient descent, θ ← θ − η ∂J/∂θ, into new arrays: the θ that
            # concurrent readings hold stays as it was.
            taught = Params(
                W1=params.W1 - np.float32(step) * grads.W1,
                b1=params.b1 - np.float32(step) * grads.b1,
                W2=params.W2 - np.float32(step) * grads.W2,
                b2=params.b2 - np.float32(step) * grads.b2,
            )
            cache_after = network.forward(taught, A1, activation, output)
            cost_after = network.data_cost(cache_after.Z3, y, output) + network.l2_penalty(
                taught, l2, n
            )
            a3_after = network.predict_proba(taught, A1, activation, output)[0]
            self._network = _Network(taught, before.steps + 1)
        strongest = np.argsort(-grad_norm, kind="stable")[:TOP_UNITS]
        one_hot = np.zeros(N_CLASSES, dtype=np.float32)
        one_hot[y_label] = 1.0
        return {
            "label": y_label,
            "eta": step,
            "y": _rounded(one_hot, 1),
            "a3_before": _rounded(a3_before, 6),
            "delta3": _significant(delta3, 6),
            "delta2": _significant(delta2, 6),
            "grad_norm": _significant(grad_norm, 6),
            "grad_units": [
                {
                    "unit": int(j),
                    "norm": float(grad_norm[j]),
                    "delta2": float(delta2[j]),
                    "tile": tile(grads.W1[j]),  # ∂J/∂θ^(1) row j = δ^(2)_j a^(1) (+ λ term)
                }
                for j in strongest
            ],
            "a3_after": _rounded(a3_after, 6),
            "digit_after": int(np.argmax(a3_after)),
            "cost_before": cost_before,
            "cost_after": cost_after,
            "taught_steps": before.steps + 1,
        }

    def reset(self) -> dict[str, Any]:
        """Forget the taught steps: the working θ is the checkpoint's again."""
        with self._lock:
            self._network = _Network(self.checkpoint.params.copy(), 0)
        return {"taught_steps": 0}

    # -- saving -----------------------------------------------------------------------

    def save_copy(self, folder: Path | None = None) -> dict[str, Any]:
        """Write the working θ as a new checkpoint; return its name and where it is.

        The file goes beside the loaded checkpoint (the bundled model lives inside the
        installed package, so its copies go to ``folder``, the server's
        ./checkpoints), under a name the session chooses: ``<stem>.taught-<UTC
        time>.npz``, with ``-2``, ``-3``… if taken. It never replaces a file.

        Raises
        ------
        CheckpointError
            The folder cannot be written.
        """
        with self._lock:
            current = self._network
            target_dir = (
                (folder or Path("checkpoints")) if self.bundled else self.checkpoint_path.parent
            )
            path = _new_name(target_dir, self.checkpoint_path.stem)
            metrics: dict[str, Any] = {
                "taught_from": self.checkpoint_path.name,
                "taught_steps": current.steps,
                "n_train": self.n_train,  # keeps (λ/2n) of later teaching the same
            }
            copy = Checkpoint(params=current.params, config=self.config, metrics=metrics)
            try:
                checkpoint_io.save(path, copy)
            except OSError as exc:
                raise CheckpointError(
                    f"cannot write a copy in {target_dir} ({exc.strerror or type(exc).__name__})"
                    " — start the server with a checkpoint in a folder you can write to"
                ) from None
        return {"saved": path.name, "folder": str(path.parent.resolve()), "steps": current.steps}


def _new_name(folder: Path, stem: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = f"{re.sub(r'[^A-Za-z0-9_.-]', '_', stem)}.taught-{stamp}"
    path = folder / f"{base}.npz"
    count = 1
    while path.exists():
        count += 1
        path = folder / f"{base}-{count}.npz"
    return path


# -- validating what a client sends ------------------------------------------------------


def _input_row(a1: Any) -> Array:
    """a^(1) from JSON: 784 numbers in [0, 1] (what `read` returned for a digit)."""
    if not isinstance(a1, list) or len(a1) != N_INPUTS:
        raise RequestError(
            f"a1 must be a list of {N_INPUTS} numbers (a digit's a^(1)) — read an image first"
        )
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in a1):
        raise RequestError("a1 must hold numbers only — send the a1 the reading returned")
    row = np.array(a1, dtype=np.float64)
    if not np.all(np.isfinite(row)) or row.min() < 0.0 or row.max() > 1.0:
        raise RequestError("a1 values must lie in [0, 1] — send the a1 the reading returned")
    return row.astype(np.float32).reshape(1, N_INPUTS)


def _label(label: Any) -> int:
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
        raise RequestError("label must be a digit 0-9 — say which digit the drawing really is")
    return label


def _eta(eta: Any) -> float:
    if isinstance(eta, bool) or not isinstance(eta, int | float):
        raise RequestError(f"eta must be a number in (0, {MAX_ETA:g}] — e.g. 0.5")
    value = float(eta)
    if not (math.isfinite(value) and 0.0 < value <= MAX_ETA):
        raise RequestError(f"eta must be a number in (0, {MAX_ETA:g}] — e.g. 0.5")
    return value

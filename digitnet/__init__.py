"""digitnet: a single-hidden-layer digit classifier with hand-written backpropagation.

The Python surface (documented in README.md, "Use from Python"); everything else in
the package is internal::

    load_model, bundled_model, Model   a trained network: predict_proba, predict, read, save
    evaluate, Evaluation               accuracy, per-class figures, confusion matrix on a split
    train, TrainingResult, EpochRecord a training run from a Config or YAML file
    Config, Architecture               settings, and the network's shape
    Reading, DigitReading              what an image says
    DigitnetError                      every error a user can cause

The names are loaded on first use (PEP 562), so ``import digitnet`` and the command
line's start-up do not pay for numpy until something needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "DEFAULT_CHECKPOINT": "digitnet.vocabulary",
    "Evaluation": "digitnet.api",
    "Model": "digitnet.api",
    "TrainingResult": "digitnet.api",
    "bundled_model": "digitnet.api",
    "evaluate": "digitnet.api",
    "load_model": "digitnet.api",
    "train": "digitnet.api",
    "Config": "digitnet.config",
    "DigitnetError": "digitnet.errors",
    "DigitReading": "digitnet.images.reading",
    "Reading": "digitnet.images.reading",
    "Architecture": "digitnet.nn.network",
    "EpochRecord": "digitnet.training.train",
}

__all__ = [
    "DEFAULT_CHECKPOINT",
    "Architecture",
    "Config",
    "DigitReading",
    "DigitnetError",
    "EpochRecord",
    "Evaluation",
    "Model",
    "Reading",
    "TrainingResult",
    "__version__",
    "bundled_model",
    "evaluate",
    "load_model",
    "train",
]

if TYPE_CHECKING:
    from digitnet.api import (
        Evaluation,
        Model,
        TrainingResult,
        bundled_model,
        evaluate,
        load_model,
        train,
    )
    from digitnet.config import Config
    from digitnet.errors import DigitnetError
    from digitnet.images.reading import DigitReading, Reading
    from digitnet.nn.network import Architecture
    from digitnet.training.train import EpochRecord
    from digitnet.vocabulary import DEFAULT_CHECKPOINT


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'digitnet' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

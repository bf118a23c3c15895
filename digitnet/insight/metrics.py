"""Accuracy, confusion matrix and per-class precision and recall."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from digitnet.vocabulary import N_CLASSES


def accuracy(predicted: NDArray[np.integer], labels: NDArray[np.integer]) -> float:
    return float(np.mean(predicted == labels)) if len(labels) else 0.0


def confusion_matrix(
    labels: NDArray[np.integer], predicted: NDArray[np.integer], n_classes: int = N_CLASSES
) -> NDArray[np.int64]:
    """counts[true, predicted]."""
    flat = labels.astype(np.int64) * n_classes + predicted.astype(np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


@dataclass
class Report:
    accuracy: float
    precision: list[float]  # per class: of those predicted as c, the fraction that are c
    recall: list[float]  # per class: of the true c, the fraction predicted as c
    support: list[int]  # per class: how many true c
    confusion: list[list[int]]

    @property
    def error(self) -> float:
        """wrong / n, counted: 1 − accuracy in floats prints 0.046499999999999986 for 0.0465."""
        n = sum(map(sum, self.confusion))
        wrong = n - sum(row[c] for c, row in enumerate(self.confusion))
        return wrong / n if n else 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "accuracy": self.accuracy,
            "error": self.error,
            "precision": self.precision,
            "recall": self.recall,
            "support": self.support,
            "confusion_matrix": self.confusion,
        }


def report(labels: NDArray[np.integer], predicted: NDArray[np.integer]) -> Report:
    counts = confusion_matrix(labels, predicted)
    correct = np.diag(counts).astype(np.float64)
    predicted_as = counts.sum(axis=0)
    actual = counts.sum(axis=1)
    # A class never predicted (or absent) has no precision (recall); report 0, not NaN.
    precision = np.divide(correct, predicted_as, out=np.zeros(N_CLASSES), where=predicted_as > 0)
    recall = np.divide(correct, actual, out=np.zeros(N_CLASSES), where=actual > 0)
    return Report(
        accuracy=accuracy(predicted, labels),
        precision=[float(p) for p in precision],
        recall=[float(r) for r in recall],
        support=[int(s) for s in actual],
        confusion=counts.tolist(),
    )

"""The learning curve: J(θ) and accuracy per epoch, training and validation, as a PNG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from digitnet.figures import pyplot as _pyplot
from digitnet.figures import save_png

TRAIN_COLOUR = "#2b6cb0"
VALIDATION_COLOUR = "#dd6b20"


def learning_curve(history: Sequence[Mapping[str, float]], path: Path) -> None:
    """Cost J(θ) and accuracy per epoch, training and validation (EpochRecord dicts)."""
    plt = _pyplot()
    epochs = [int(r["epoch"]) for r in history]
    fig, (ax_cost, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
    panels = [
        (ax_cost, "cost", "J(θ)", "train_cost", "validation_cost"),
        (ax_acc, "accuracy", "accuracy", "train_accuracy", "validation_accuracy"),
    ]
    marker = "o" if len(epochs) <= 40 else None
    for ax, title, ylabel, train_key, val_key in panels:
        ax.plot(
            epochs,
            [r[train_key] for r in history],
            marker=marker,
            ms=3.5,
            color=TRAIN_COLOUR,
            label="training (mini-batches as trained)",
        )
        ax.plot(
            epochs,
            [r[val_key] for r in history],
            marker=marker,
            ms=3.5,
            color=VALIDATION_COLOUR,
            label="validation",
        )
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if len(epochs) == 1:
            ax.set_xlim(0.5, 1.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
    best = max(history, key=lambda r: r["validation_accuracy"])
    ax_acc.axvline(best["epoch"], color="#718096", ls=":", lw=1)
    ax_acc.annotate(
        f"best {best['validation_accuracy']:.2%} (epoch {int(best['epoch'])})",
        (best["epoch"], best["validation_accuracy"]),
        textcoords="offset points",
        xytext=(-8, -18),
        ha="right",
        fontsize=9,
        color="#4a5568",
    )
    ax_acc.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    save_png(fig, path)

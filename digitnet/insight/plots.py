"""Figures: confusion heatmap, mistakes gallery, per-class bars,
reliability diagram and θ^(1) weight tiles.

Each function takes plain arrays and writes one PNG atomically. matplotlib is
imported on first use with the Agg backend (no display needed), so importing
this module is free and ``digitnet predict`` never loads matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from digitnet.figures import pyplot as _pyplot
from digitnet.figures import save_png
from digitnet.vocabulary import IMAGE_SIDE

PRECISION_COLOUR = "#2b6cb0"
RECALL_COLOUR = "#38a169"


def confusion_heatmap(confusion: NDArray[np.integer], path: Path) -> None:
    """counts[true, predicted] as a heatmap, each cell labelled with its count."""
    plt = _pyplot()
    counts = np.asarray(confusion)
    n = len(counts)
    fig, ax = plt.subplots(figsize=(7.2, 6.2))
    # Log-ish colour scale: the diagonal holds ~1000 per class, errors a handful.
    shown = np.log1p(counts)
    image = ax.imshow(shown, cmap="Blues")
    for i in range(n):
        for j in range(n):
            light = shown[i, j] > 0.6 * shown.max()
            ax.text(
                j,
                i,
                str(counts[i, j]),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if light else ("#1a202c" if counts[i, j] else "#a0aec0"),
            )
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(
        f"confusion matrix ({int(counts.sum()):,} images, {int(np.trace(counts)):,} right)"
    )
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("log(1 + count)")
    fig.tight_layout()
    save_png(fig, path)


def mistakes_gallery(
    images: NDArray[np.uint8],
    true: Sequence[int],
    predicted: Sequence[int],
    confidence: Sequence[float],
    path: Path,
    columns: int = 8,
) -> None:
    """A grid of images, each titled "true t → p (confidence)"."""
    plt = _pyplot()
    k = len(images)
    columns = max(1, min(columns, k))
    rows = max(1, -(-k // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.35 * columns, 1.55 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, t, p, c in zip(axes.flat, images, true, predicted, confidence, strict=False):
        ax.imshow(image.reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(f"{t} → {p}  {c:.0%}", fontsize=9, color="#c0392b")
    if k == 0:
        axes[0, 0].text(0.5, 0.5, "no mistakes", ha="center", va="center")
    fig.suptitle("most confident mistakes (true → predicted, confidence)", fontsize=10)
    fig.tight_layout()
    save_png(fig, path)


def per_class_bars(precision: Sequence[float], recall: Sequence[float], path: Path) -> None:
    """Precision and recall for each digit, side by side."""
    plt = _pyplot()
    classes = np.arange(len(precision))
    fig, ax = plt.subplots(figsize=(8, 3.8))
    width = 0.4
    bars_p = ax.bar(
        classes - width / 2, precision, width, label="precision", color=PRECISION_COLOUR
    )
    bars_r = ax.bar(classes + width / 2, recall, width, label="recall", color=RECALL_COLOUR)
    low = min([*precision, *recall, 1.0])
    ax.set_ylim(max(0.0, low - 0.05), 1.04)  # room for the labels of bars at 100%
    for bars in (bars_p, bars_r):
        ax.bar_label(
            bars, labels=[f"{v:.1%}" for v in bars.datavalues], fontsize=6.5, rotation=90, padding=2
        )
    ax.set_xticks(classes)
    ax.set_xlabel("digit")
    ax.set_title("per-class precision and recall")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=9, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_png(fig, path)


def reliability_diagram(
    bin_edges: Sequence[float],
    bin_confidence: Sequence[float],
    bin_accuracy: Sequence[float],
    bin_counts: Sequence[int],
    ece: float,
    path: Path,
) -> None:
    """Accuracy against confidence per bin, with the diagonal of perfect calibration."""
    plt = _pyplot()
    edges = np.asarray(bin_edges, dtype=float)
    counts = np.asarray(bin_counts)
    used = counts > 0
    fig, (ax, ax_count) = plt.subplots(
        2, 1, figsize=(5.6, 6.4), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    widths = np.diff(edges)
    ax.bar(
        edges[:-1][used],
        np.asarray(bin_accuracy)[used],
        widths[used],
        align="edge",
        color="#90cdf4",
        edgecolor="#2b6cb0",
        label="accuracy in bin",
    )
    ax.plot([0, 1], [0, 1], ls="--", color="#718096", label="perfect calibration")
    ax.plot(
        np.asarray(bin_confidence)[used],
        np.asarray(bin_accuracy)[used],
        "o",
        color="#c0392b",
        ms=4,
        label="mean confidence in bin",
    )
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(f"reliability diagram — ECE {ece:.2%}")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    ax_count.bar(edges[:-1], counts, widths, align="edge", color="#a0aec0")
    ax_count.set_yscale("symlog")
    ax_count.set_xlabel("confidence (probability of the predicted digit)")
    ax_count.set_ylabel("images")
    ax_count.set_xlim(0, 1)
    fig.tight_layout()
    save_png(fig, path)


def weight_tiles(w1: NDArray[np.floating], path: Path, title: str = "") -> None:
    """Each hidden unit's row of θ^(1) (784 weights) as a 28×28 tile, in one mosaic.

    Every tile has its own symmetric colour scale (red +, blue −), so the pattern
    each unit responds to is visible whatever its weights' size.
    """
    plt = _pyplot()
    weights = np.asarray(w1, dtype=np.float64)
    hidden = len(weights)
    columns = int(np.ceil(np.sqrt(hidden * 1.5)))  # a little wider than tall
    rows = -(-hidden // columns)
    cell = IMAGE_SIDE + 1  # one pixel of gap
    mosaic = np.full((rows * cell + 1, columns * cell + 1), np.nan)
    scale = np.abs(weights).max(axis=1, keepdims=True)
    tiles = np.divide(weights, scale, out=np.zeros_like(weights), where=scale > 0)
    for unit, tile in enumerate(tiles):
        r, c = divmod(unit, columns)
        top, left = 1 + r * cell, 1 + c * cell
        mosaic[top : top + IMAGE_SIDE, left : left + IMAGE_SIDE] = tile.reshape(
            IMAGE_SIDE, IMAGE_SIDE
        )
    size = min(18.0, max(6.0, 0.62 * columns))  # about 60 px per tile at DPI
    fig, ax = plt.subplots(figsize=(size, size * rows / columns + 0.6))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="white")  # NaN gaps between tiles
    ax.imshow(np.ma.masked_invalid(mosaic), cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    ax.axis("off")
    ax.set_title(
        title or f"θ⁽¹⁾ rows: {hidden} hidden units, 784 weights each as 28×28 (red +, blue −)"
    )
    fig.tight_layout()
    save_png(fig, path)

"""``evaluate --report DIR``: figures, the list of mistakes, calibration, one HTML page.

Writes into DIR:

* ``confusion.png`` — the confusion matrix as a heatmap;
* ``mistakes.png`` — the most confident mistakes (image, true, predicted, confidence);
* ``per_class.png`` — precision and recall per digit;
* ``reliability.png`` — accuracy against confidence, with the expected calibration error;
* ``report.json`` — every figure's numbers, and every mistake (index, true, predicted,
  confidence);
* ``report.html`` — all of it on one self-contained page (images base64-embedded).

Calibration follows Guo et al., "On Calibration of Modern Neural Networks" (2017):
confidence is the probability of the predicted class, binned into equal-width
bins; ECE = Σ_b (n_b / N) |accuracy_b − confidence_b|.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from digitnet.atomic import write_text
from digitnet.insight import plots
from digitnet.insight.metrics import Report

N_BINS = 15  # Guo et al. use 15 equal-width confidence bins
GALLERY_SIZE = 32  # mistakes shown in the gallery (report.json lists all of them)
FIGURES = {
    "confusion.png": "Confusion matrix",
    "mistakes.png": "Most confident mistakes",
    "per_class.png": "Per-class precision and recall",
    "reliability.png": "Reliability diagram",
}


@dataclass
class Calibration:
    bin_edges: list[float]
    counts: list[int]
    confidence: list[float]  # mean confidence per bin (0 for an empty bin)
    accuracy: list[float]  # accuracy per bin (0 for an empty bin)
    ece: float


def calibration(
    confidence: NDArray[np.floating], correct: NDArray[np.bool_], n_bins: int = N_BINS
) -> Calibration:
    """Reliability bins and the expected calibration error (ECE)."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bins are (lo, hi]; a confidence of exactly 0 joins the first bin.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    conf_sum = np.bincount(which, weights=confidence, minlength=n_bins)
    right = np.bincount(which, weights=correct.astype(np.float64), minlength=n_bins)
    mean_conf = np.divide(conf_sum, counts, out=np.zeros(n_bins), where=counts > 0)
    accuracy = np.divide(right, counts, out=np.zeros(n_bins), where=counts > 0)
    total = max(len(confidence), 1)
    ece = float(np.sum(counts / total * np.abs(accuracy - mean_conf)))
    return Calibration(
        bin_edges=[float(e) for e in edges],
        counts=[int(c) for c in counts],
        confidence=[float(c) for c in mean_conf],
        accuracy=[float(a) for a in accuracy],
        ece=ece,
    )


@dataclass
class Mistake:
    index: int  # row in the evaluated split
    true: int
    predicted: int
    confidence: float  # probability given to the (wrong) prediction


def mistakes(
    labels: NDArray[np.integer], predicted: NDArray[np.integer], probabilities: NDArray[np.floating]
) -> list[Mistake]:
    """Every misclassified example, most confident first (ties by index)."""
    wrong = np.flatnonzero(np.asarray(predicted) != np.asarray(labels))
    confidence = probabilities[wrong, predicted[wrong]]
    order = np.lexsort((wrong, -confidence))
    return [
        Mistake(
            int(wrong[i]), int(labels[wrong[i]]), int(predicted[wrong[i]]), float(confidence[i])
        )
        for i in order
    ]


def write(
    folder: Path,
    images: NDArray[np.uint8],
    labels: NDArray[np.integer],
    predicted: NDArray[np.integer],
    probabilities: NDArray[np.floating],
    metrics: Report,
    about: dict[str, Any],
) -> Path:
    """Write every figure, report.json and report.html into ``folder``; return the HTML path."""
    folder.mkdir(parents=True, exist_ok=True)
    confidence = probabilities[np.arange(len(predicted)), predicted]
    calib = calibration(confidence, predicted == labels)
    wrong = mistakes(labels, predicted, probabilities)
    shown = wrong[:GALLERY_SIZE]

    plots.confusion_heatmap(np.asarray(metrics.confusion), folder / "confusion.png")
    plots.mistakes_gallery(
        images[[m.index for m in shown]],
        [m.true for m in shown],
        [m.predicted for m in shown],
        [m.confidence for m in shown],
        folder / "mistakes.png",
    )
    plots.per_class_bars(metrics.precision, metrics.recall, folder / "per_class.png")
    plots.reliability_diagram(
        calib.bin_edges,
        calib.confidence,
        calib.accuracy,
        calib.counts,
        calib.ece,
        folder / "reliability.png",
    )
    data = {
        **about,
        "n": len(labels),
        **metrics.to_dict(),
        "n_mistakes": len(wrong),
        "calibration": asdict(calib),
        "mistakes": [asdict(m) for m in wrong],
        "figures": list(FIGURES),
    }
    write_text(folder / "report.json", json.dumps(data, indent=1) + "\n")
    page = folder / "report.html"
    write_text(page, _html(folder, data))
    return page


def _html(folder: Path, data: dict[str, Any]) -> str:
    title = f"digitnet report — {data.get('checkpoint', '')} on {data.get('split', '')}"
    figures = []
    for name, caption in FIGURES.items():
        encoded = base64.b64encode((folder / name).read_bytes()).decode("ascii")
        figures.append(
            f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    summary = (
        f"{data['n']:,} images · accuracy {data['accuracy']:.2%} · "
        f"{data['n_mistakes']:,} mistakes · ECE {data['calibration']['ece']:.2%}"
    )
    pretty = json.dumps(data, indent=1)
    # Inside <script> only "</" could end the element early; JSON allows "<\/".
    embedded = json.dumps(data).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #1a202c; }}
figure {{ display: inline-block; margin: 0 1.5rem 1.5rem 0; vertical-align: top; }}
img {{ max-width: 100%; border: 1px solid #e2e8f0; }}
figcaption {{ color: #4a5568; font-size: 0.9rem; }}
pre {{ background: #f7fafc; padding: 1rem; overflow: auto; max-height: 30rem; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(summary)}</p>
{"".join(figures)}
<details><summary>All figures as JSON (report.json)</summary>
<pre>{html.escape(pretty)}</pre>
</details>
<script type="application/json" id="report-data">{embedded}</script>
</body>
</html>
"""


def write_for_checkpoint(
    folder: Path,
    ckpt: Any,
    images: NDArray[np.uint8],
    labels: NDArray[np.integer],
    predicted: NDArray[np.integer],
    metrics: Report,
    about: dict[str, Any],
) -> Path:
    """``write`` for a checkpoint: h_θ(x) for every image (in batches), then the report."""
    from digitnet.data.inputs import to_inputs
    from digitnet.nn.calibration import predict_proba
    from digitnet.training.train import EVAL_BATCH

    probabilities = np.empty((len(images), 10), dtype=np.float64)
    for start in range(0, len(images), EVAL_BATCH):
        stop = min(start + EVAL_BATCH, len(images))
        probabilities[start:stop] = predict_proba(
            ckpt.params,
            to_inputs(images[start:stop]),
            ckpt.config.activation,
            ckpt.config.output,
            ckpt.temperature,
        )
    return write(folder, images, labels, predicted, probabilities, metrics, about)

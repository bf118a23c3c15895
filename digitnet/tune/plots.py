"""A study's figures: optimisation history, parameter importances, and validation
accuracy against each searched parameter (Ng's validation curve when the
parameter is λ). Each is one PNG, written atomically (digitnet.figures.save_png);
matplotlib is imported on first use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from digitnet.figures import pyplot as _pyplot
from digitnet.figures import save_png
from digitnet.training.curve import VALIDATION_COLOUR
from digitnet.tune.space import Choices, Range, SearchSpace
from digitnet.tune.study import TrialRow

PRUNED_COLOUR = "#a0aec0"
BEST_COLOUR = "#2b6cb0"
HISTORY_FILE = "history.png"
IMPORTANCE_FILE = "importance.png"
PARAMS_FILE = "params.png"


def history(rows: Sequence[TrialRow], path: Path, title: str) -> None:
    """Each trial's validation accuracy by trial number, and the best so far."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    done = [r for r in rows if r.value is not None and r.state in ("COMPLETE", "PRUNED")]
    for state, colour, marker, label in (
        ("COMPLETE", VALIDATION_COLOUR, "o", "complete"),
        ("PRUNED", PRUNED_COLOUR, "x", "pruned (value when stopped)"),
    ):
        picked = [r for r in done if r.state == state]
        if picked:
            ax.scatter(
                [r.number for r in picked],
                [r.value for r in picked],
                c=colour,
                marker=marker,
                label=label,
                zorder=3,
            )
    complete = sorted((r for r in done if r.state == "COMPLETE"), key=lambda r: r.number)
    if complete:
        best, xs, ys = float("-inf"), [], []
        for r in complete:
            assert r.value is not None
            best = max(best, r.value)
            xs.append(r.number)
            ys.append(best)
        ax.step(xs, ys, where="post", color=BEST_COLOUR, label="best so far")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trials are whole numbers
    ax.set_xlabel("trial")
    ax.set_ylabel("validation accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    save_png(fig, path)


def importances(values: Mapping[str, float], path: Path, title: str) -> None:
    """Horizontal bars: each parameter's share of the variance in validation accuracy
    (fANOVA, Hutter et al. 2014, as optuna.importance computes it)."""
    plt = _pyplot()
    names = sorted(values, key=lambda k: values[k])
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(names) + 1.6))
    ax.barh(names, [values[n] for n in names], color=BEST_COLOUR)
    for i, n in enumerate(names):
        ax.text(values[n], i, f" {values[n]:.2f}", va="center")
    ax.set_xlabel("importance (share of variance in validation accuracy)")
    ax.set_xlim(0, max(1.0, max(values.values()) * 1.15))
    ax.set_title(title)
    save_png(fig, path)


def against_params(rows: Sequence[TrialRow], space: SearchSpace, path: Path, title: str) -> None:
    """One panel per searched parameter: validation accuracy of every complete trial."""
    plt = _pyplot()
    n = len(space.params)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.8), squeeze=False, sharey=True)
    complete = [r for r in rows if r.state == "COMPLETE" and r.value is not None]
    pruned = [r for r in rows if r.state == "PRUNED" and r.value is not None]
    for ax, param in zip(axes[0], space.params, strict=True):
        for picked, colour, marker in (
            (pruned, PRUNED_COLOUR, "x"),
            (complete, VALIDATION_COLOUR, "o"),
        ):
            picked = [r for r in picked if param.key in r.params]
            if not picked:
                continue
            if isinstance(param, Choices):
                labels = [str(v) for v in param.values]
                xs = [labels.index(str(r.params[param.key])) for r in picked]
            else:
                xs = [r.params[param.key] for r in picked]
            ax.scatter(xs, [r.value for r in picked], c=colour, marker=marker, zorder=3)
        if isinstance(param, Range) and param.log:
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # labels at powers of ten only
        if isinstance(param, Choices):
            ax.set_xticks(range(len(param.values)), [str(v) for v in param.values])
        ax.set_xlabel(param.key)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation accuracy (x: pruned)")
    fig.suptitle(title)
    save_png(fig, path)


def write_all(
    rows: Sequence[TrialRow],
    space: SearchSpace,
    importance: Mapping[str, float] | None,
    folder: Path,
    study_name: str,
) -> list[Path]:
    """Every figure the data allows; returns the files written."""
    written = []
    if any(r.value is not None for r in rows):
        history(rows, folder / HISTORY_FILE, f"study {study_name}: optimisation history")
        written.append(folder / HISTORY_FILE)
        against_params(
            rows, space, folder / PARAMS_FILE, f"study {study_name}: validation accuracy"
        )
        written.append(folder / PARAMS_FILE)
    if importance:
        importances(importance, folder / IMPORTANCE_FILE, f"study {study_name}: importances")
        written.append(folder / IMPORTANCE_FILE)
    return written

"""A study's results for people: the trials table, the best config as YAML, the
parameter importances, and the figures (plots.py)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from digitnet.atomic import write_text
from digitnet.config import Config
from digitnet.tune.study import TrialRow

BEST_CONFIG_FILE = "best.yaml"


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(rows: Sequence[TrialRow]) -> str:
    """The trials, one per line: number, state, value, epochs, seconds, params, note."""
    lines = [f"{'trial':>5}  {'state':<8}  {'val acc':>7}  {'epochs':>6}  {'seconds':>7}  params"]
    for r in rows:
        value = f"{r.value:.4f}" if r.value is not None and math.isfinite(r.value) else "-"
        epochs = str(r.epochs) if r.epochs is not None else "-"
        seconds = f"{r.seconds:.1f}" if r.seconds is not None else "-"
        params = ", ".join(f"{k}={format_value(v)}" for k, v in r.params.items())
        note = f"  ({r.note})" if r.note and r.state != "PRUNED" else ""
        lines.append(
            f"{r.number:>5}  {r.state:<8}  {value:>7}  {epochs:>6}  {seconds:>7}  {params}{note}"
        )
    return "\n".join(lines)


def write_best_config(
    path: Path, config: Config, row: TrialRow, study_name: str, searched: Sequence[str]
) -> None:
    """The best trial's full config, which ``digitnet train --config`` trains again."""
    header = [
        f"# Best trial of study '{study_name}' (digitnet tune): trial {row.number},",
        f"# best validation accuracy {row.value:.4f} in a run of {row.epochs} epochs.",
        "# Searched: " + "; ".join(searched),
        f"# Train it again: digitnet train --config {path.name}",
        "# (the same seed and BLAS thread count give the same numbers)",
        "",
    ]
    body = yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=False)
    write_text(path, "\n".join(header) + body)


def importances(study: Any) -> dict[str, float] | None:
    """fANOVA importances of the searched parameters, or None when the study has too
    few complete trials (or too little variation) to say."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a parameter that never varied
            values = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError):
        return None
    clean = {k: float(v) for k, v in values.items() if math.isfinite(v)}
    return clean or None


def trial_line(row: TrialRow, worker: int | None = None) -> str:
    """One line as a trial ends, e.g. ``trial 3: COMPLETE val acc 0.9612, 8 epochs, 12.4 s``."""
    who = f"[worker {worker}] " if worker is not None else ""
    value = f" val acc {row.value:.4f}," if row.value is not None else ""
    epochs = f" {row.epochs} epochs," if row.epochs is not None else ""
    seconds = f" {row.seconds:.1f} s" if row.seconds is not None else ""
    params = ", ".join(f"{k}={format_value(v)}" for k, v in row.params.items())
    note = f" ({row.note})" if row.note and row.state != "PRUNED" else ""
    return f"{who}trial {row.number}: {row.state}{value}{epochs}{seconds}  {params}{note}"

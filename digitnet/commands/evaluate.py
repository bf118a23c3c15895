"""``digitnet evaluate``: accuracy, per-class figures and the confusion matrix of a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from digitnet.commands.options import (
    bars_wanted,
    checkpoint_option,
    data_dir_option,
    json_option,
    load_checkpoint,
    resolve_data_dir,
)


@click.command()
@checkpoint_option
@data_dir_option
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@json_option
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write figures (confusion, mistakes, per-class, reliability), report.json and"
    " a self-contained report.html into DIR.",
)
def evaluate(
    checkpoint_path: Path, data_dir: Path | None, split: str, as_json: bool, report_dir: Path | None
) -> None:
    """Accuracy, per-class precision and recall, and the confusion matrix."""
    import digitnet

    model = digitnet.Model(load_checkpoint(checkpoint_path), checkpoint_path)
    folder = resolve_data_dir(data_dir)
    rep = digitnet.evaluate(model, folder, split, progress=bars_wanted(as_json))
    labels = rep.labels
    ckpt = model.checkpoint
    if report_dir is not None:  # issue 6: figures and HTML (digitnet/insight/report.py)
        from digitnet.data import idx
        from digitnet.insight import report

        images, _ = idx.load_split(ckpt.config.dataset, folder, split)
        about = {"checkpoint": str(checkpoint_path), "dataset": ckpt.config.dataset, "split": split}
        page = report.write_for_checkpoint(
            report_dir, ckpt, images, labels, rep.predicted, rep, about
        )
        click.echo(f"wrote the report {page}", err=True)
    if as_json:
        out: dict[str, Any] = {
            "checkpoint": str(checkpoint_path),
            "dataset": ckpt.config.dataset,
            "split": split,
        }
        out.update({"n": len(labels), **rep.to_dict()})
        click.echo(json.dumps(out))
        return
    click.echo(_format_report(rep, f"{ckpt.config.dataset} {split} split", len(labels)))


def _format_report(rep: Any, title: str, n: int) -> str:
    lines = [
        f"{title}: {n:,} images",
        f"accuracy {rep.accuracy:.2%}  (error {1 - rep.accuracy:.2%})",
        "",
        "class  precision  recall  support",
    ]
    for c in range(len(rep.precision)):
        lines.append(
            f"{c:>5}  {rep.precision[c]:>9.2%}  {rep.recall[c]:>6.2%}  {rep.support[c]:>7,}"
        )
    lines += ["", "confusion matrix (rows: true digit, columns: predicted)"]
    lines.append("      " + "".join(f"{c:>6}" for c in range(len(rep.confusion))))
    for c, row in enumerate(rep.confusion):
        lines.append(f"{c:>5} " + "".join(f"{v:>6}" for v in row))
    return "\n".join(lines)

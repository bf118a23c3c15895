"""``digitnet lr-find``: the learning-rate range test."""

from __future__ import annotations

import json
from pathlib import Path

import click

from digitnet.commands.options import (
    bars_wanted,
    config_option,
    data_dir_option,
    json_option,
    resolve_data_dir,
)

POSITIVE = click.FloatRange(min=0, min_open=True)


@click.command("lr-find")
@config_option
@data_dir_option
@click.option(
    "--min-lr", type=click.FloatRange(min=0, min_open=True), default=1e-4, show_default=True
)
@click.option(
    "--max-lr", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True
)
@click.option(
    "--steps", type=click.IntRange(min=10), default=200, show_default=True, help="Mini-batches."
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("lr-find.png"),
    show_default=True,
    help="Where to write the plot of cost against learning rate.",
)
@json_option
def lr_find(
    config_file: Path | None,
    data_dir: Path | None,
    min_lr: float,
    max_lr: float,
    steps: int,
    output: Path,
    as_json: bool,
) -> None:
    """Learning-rate range test: cost against η on a log scale, and a suggested η.

    Trains a fresh network for --steps mini-batches while η grows geometrically
    from --min-lr to --max-lr (Smith 2017) and suggests a tenth of the η with the
    lowest smoothed cost. Uses the training split only.
    """
    from digitnet import config as config_module
    from digitnet.data.inputs import split_validation
    from digitnet.training import lrfind, runner

    overrides = {"data_dir": str(data_dir)} if data_dir is not None else {}
    config = config_module.load(config_file, overrides)
    images, labels = runner.load_training_data(
        config, resolve_data_dir(Path(config.data_dir)), None, bars_wanted(as_json)
    )
    data = split_validation(images, labels, config.validation_size)
    result = lrfind.range_test(config, data, min_lr, max_lr, steps)
    lrfind.plot(result, output)
    if as_json:
        click.echo(json.dumps({"plot": str(output), **result.to_dict()}))
        return
    click.echo(
        f"tried η from {result.learning_rates[0]:.3g} to {result.learning_rates[-1]:.3g}"
        f" over {len(result.costs)} mini-batches; plot: {output}"
    )
    if result.warning is not None:
        click.echo(f"Warning: {result.warning}", err=True)
    else:
        click.echo(f"suggested learning_rate: {result.suggestion:.3g}")

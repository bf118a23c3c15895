"""Tuning aids: ``lr-find`` (learning-rate range test) and ``augment-preview``.

Registered on ``cli.main`` by the import at the end of cli.py. Like cli.py this
module only parses, calls the library and prints; numpy, matplotlib and the
library modules are imported inside the commands, so ``digitnet predict`` does
not pay for them at start-up.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from digitnet.cli import _resolve_data_dir, data_dir_option, json_option, main

POSITIVE = click.FloatRange(min=0, min_open=True)
config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML config (see configs/default.yaml); its settings are used.",
)


@main.command("lr-find")
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
    from digitnet.training import lrfind, runner
    from digitnet.training.train import split_validation

    overrides = {"data_dir": str(data_dir)} if data_dir is not None else {}
    config = config_module.load(config_file, overrides)
    images, labels = runner.load_training_data(
        config, _resolve_data_dir(Path(config.data_dir)), None, not as_json
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
    click.echo(f"suggested learning_rate: {result.suggestion:.3g}")


@main.command("augment-preview")
@config_option
@data_dir_option
@click.option(
    "--samples", type=click.IntRange(1, 50), default=8, show_default=True, help="Images (rows)."
)
@click.option(
    "--variants",
    type=click.IntRange(1, 20),
    default=7,
    show_default=True,
    help="Random distortions of each image (columns after the original).",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("augment-preview.png"),
    show_default=True,
)
def augment_preview(
    config_file: Path | None,
    data_dir: Path | None,
    samples: int,
    variants: int,
    seed: int,
    output: Path,
) -> None:
    """A PNG grid of training images as the network sees them with the config's
    augmentation: the original first in each row, then random distortions."""
    import numpy as np
    from PIL import Image

    from digitnet import config as config_module
    from digitnet.atomic import atomic_write
    from digitnet.data import download, idx
    from digitnet.data.augment import Distortion, preview_grid
    from digitnet.training.train import to_inputs

    overrides = {"data_dir": str(data_dir)} if data_dir is not None else {}
    config = config_module.load(config_file, overrides)
    distortion = Distortion.from_config(config)
    if not distortion.enabled:
        raise click.UsageError(
            "this config has no augmentation — pass e.g. --config configs/best.yaml"
        )
    folder = _resolve_data_dir(Path(config.data_dir))
    download.ensure_dataset(config.dataset, folder)
    images, _ = idx.load_split(config.dataset, folder, "train")
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(images), size=samples, replace=False)
    grid = preview_grid(to_inputs(images[picked]), rng, distortion, variants)
    picture = Image.fromarray(grid).resize(
        (grid.shape[1] * 3, grid.shape[0] * 3), Image.Resampling.NEAREST
    )
    with atomic_write(output) as handle:
        picture.save(handle, format="PNG")
    click.echo(
        f"wrote {output}: {samples} training images, each followed by {variants} distortions"
    )

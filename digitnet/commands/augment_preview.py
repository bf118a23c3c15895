"""``digitnet augment-preview``: training images as the network sees them with distortions."""

from __future__ import annotations

from pathlib import Path

import click

from digitnet.commands.options import (
    config_option,
    data_dir_option,
    resolve_data_dir,
)

POSITIVE = click.FloatRange(min=0, min_open=True)


@click.command("augment-preview")
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
    from digitnet.data.inputs import to_inputs

    overrides = {"data_dir": str(data_dir)} if data_dir is not None else {}
    config = config_module.load(config_file, overrides)
    distortion = Distortion.from_config(config)
    if not distortion.enabled:
        raise click.UsageError(
            "this config has no augmentation — pass e.g. --config configs/best.yaml"
        )
    folder = resolve_data_dir(Path(config.data_dir))
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

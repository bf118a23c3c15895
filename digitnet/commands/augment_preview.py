"""``digitnet augment-preview``: training images as the network sees them with distortions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from digitnet.commands.options import (
    bars_wanted,
    config_option,
    data_dir_option,
    resolve_data_dir,
)

POSITIVE = click.FloatRange(min=0, min_open=True)
ZOOM = 3  # each grid pixel becomes ZOOM × ZOOM, so a 28-px digit is visible on a screen
TITLE_BAND = 24  # pixels of white above the grid for the column titles


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
    download.ensure_dataset(config.dataset, folder, progress=bars_wanted(False))
    images, labels = idx.load_split(config.dataset, folder, "train")
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(images), size=samples, replace=False)
    grid = preview_grid(to_inputs(images[picked]), rng, distortion, variants, labels=labels[picked])
    picture = Image.fromarray(grid).resize(
        (grid.shape[1] * ZOOM, grid.shape[0] * ZOOM), Image.Resampling.NEAREST
    )
    picture = _with_titles(picture, variants)
    with atomic_write(output) as handle:
        picture.save(handle, format="PNG")
    click.echo(
        f"wrote {output}: {samples} training images, each followed by {variants} distortions"
    )


def _with_titles(picture: Any, variants: int) -> Any:
    """The grid under a band that names its columns: "original" above the first,
    "distortions" above the others, with a rule between them."""
    from PIL import Image, ImageDraw, ImageFont

    from digitnet.data.augment import SIDE

    gap = (picture.width // ZOOM - (variants + 1) * SIDE) // (variants + 2)
    column = (SIDE + gap) * ZOOM  # one cell and its gap, zoomed
    titled = Image.new("L", (picture.width, picture.height + TITLE_BAND), 255)
    titled.paste(picture, (0, TITLE_BAND))
    draw = ImageDraw.Draw(titled)
    font = ImageFont.load_default()
    edge = gap * ZOOM // 2 + column
    draw.line([(edge, 2), (edge, titled.height - 1)], fill=128)
    for text, left, right in (
        ("original", 0, edge),
        ("distortions" if variants > 1 else "distortion", edge, picture.width),
    ):
        width = draw.textlength(text, font=font)
        draw.text(((left + right - width) / 2, 6), text, fill=0, font=font)
    return titled

"""``digitnet weights``: each hidden unit's row of θ^(1) as a 28×28 tile."""

from __future__ import annotations

from pathlib import Path

import click

from digitnet.commands.options import checkpoint_argument, load_checkpoint


@click.command()
@checkpoint_argument
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="PNG file to write.",
)
def weights(checkpoint_path: Path, output: Path) -> None:
    """Show each hidden unit's row of θ^(1) as a 28x28 tile: what each unit looks for.

    CKPT defaults to checkpoints/model.npz.
    """
    from digitnet.errors import DigitnetError
    from digitnet.insight import plots

    if output.suffix.lower() != ".png":
        raise DigitnetError(f"cannot write {output.name!r} — name the output file .png")
    ckpt = load_checkpoint(checkpoint_path, "an argument: `digitnet weights CKPT`")
    plots.weight_tiles(ckpt.params.W1, output)
    click.echo(f"wrote {output} ({ckpt.params.hidden_size} tiles)")

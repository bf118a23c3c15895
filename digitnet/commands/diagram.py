"""``digitnet diagram``: the network drawn in the derivation's notation."""

from __future__ import annotations

from pathlib import Path

import click

from digitnet.commands.options import (
    config_option,
    config_or_checkpoint,
    optional_checkpoint_option,
)


@click.command()
@config_option
@optional_checkpoint_option
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the diagram: FILE.svg or FILE.png.",
)
def diagram(config_file: Path | None, checkpoint_path: Path | None, output: Path) -> None:
    """Draw the 784-H-10 network in the derivation's notation: layers, θ shapes,
    the forward pass and δ^(3), δ^(2) flowing back with the gradient formulas."""
    from digitnet.insight import diagram as diagram_module

    diagram_module.check_path(output)
    config, _ = config_or_checkpoint(config_file, checkpoint_path)
    net = diagram_module.NetworkShape(
        hidden_size=config.hidden_size,
        activation=config.activation,
        output=config.output,
        l2=config.l2,
    )
    diagram_module.draw(net, output)
    click.echo(f"wrote {output} (784-{config.hidden_size}-10)")

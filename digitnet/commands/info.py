"""``digitnet info``: how a checkpoint was made."""

from __future__ import annotations

import json
from pathlib import Path

import click

from digitnet.commands.options import checkpoint_argument, json_option, load_checkpoint


@click.command()
@checkpoint_argument
@json_option
def info(checkpoint_path: Path, as_json: bool) -> None:
    """Show how the checkpoint CKPT was made: architecture, settings, figures.

    CKPT defaults to checkpoints/model.npz.
    """
    ckpt = load_checkpoint(checkpoint_path, "an argument: `digitnet info CKPT`")
    data = {
        "checkpoint": str(checkpoint_path),
        "created": ckpt.created,
        "digitnet_version": ckpt.version,
        "architecture": f"784-{ckpt.params.hidden_size}-10",
        "config": ckpt.config.to_dict(),
        "metrics": ckpt.metrics,
    }
    if as_json:
        click.echo(json.dumps(data))
        return
    click.echo(
        f"{checkpoint_path}: {data['architecture']} network, digitnet {ckpt.version},"
        f" created {ckpt.created}"
    )
    for key, value in ckpt.config.to_dict().items():
        click.echo(f"  {key:<16} {value}")
    for key, value in ckpt.metrics.items():
        click.echo(
            f"  {key:<16} {value:.4f}" if isinstance(value, float) else f"  {key:<16} {value}"
        )

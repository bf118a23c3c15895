"""``digitnet explain``: one image traced through the network in the derivation's notation."""

from __future__ import annotations

import json
from pathlib import Path

import click

from digitnet.commands.options import (
    checkpoint_option,
    json_option,
)


@click.command()
@click.argument("image", type=click.Path(path_type=Path))
@checkpoint_option
@click.option(
    "--label",
    type=click.IntRange(0, 9),
    default=None,
    help="The digit y the image shows, for J(θ) and δ^(3) [default: the prediction].",
)
@json_option
def explain(image: Path, checkpoint_path: Path, label: int | None, as_json: bool) -> None:
    """Trace one IMAGE through the network in the derivation's notation.

    Shows the shape and a few values of a^(1), z^(2), a^(2), z^(3), a^(3), the
    cost J(θ) for the label, δ^(3), δ^(2) and the gradient blocks, each with its
    equation number in docs/backprop.md.
    """
    from dataclasses import asdict

    from digitnet import checkpoint
    from digitnet.images.preprocess import image_to_input
    from digitnet.insight import explain as explain_module

    ckpt = checkpoint.load(checkpoint_path)
    x = image_to_input(image)
    config = ckpt.config
    n = explain_module.n_train_of(ckpt.metrics, config.validation_size)
    result = explain_module.trace(
        ckpt.params, x, config.activation, config.output, config.l2, n, label
    )
    if as_json:
        click.echo(json.dumps({"file": str(image), **asdict(result)}))
        return
    click.echo(
        f"{image} through {checkpoint_path} (784-{ckpt.params.hidden_size}-10,"
        f" g = {config.activation}, {config.output} output), one example: m = 1"
    )
    given = "" if result.label_given else " (no --label: using the prediction)"
    click.echo(
        f"prediction {result.predicted} ({result.probabilities[result.predicted]:.1%});"
        f" label y = {result.label}{given}"
    )
    click.echo("")
    for step in result.steps:
        shape = "(" + ", ".join(str(d) for d in step.shape) + ("," if len(step.shape) == 1 else "")
        shape += ")"
        values = " ".join(f"{v:+.4g}" for v in step.values)
        extra = "".join(f"  {k} {v:g}" for k, v in step.extra.items())
        click.echo(f"{step.symbol:<7} = {step.formula:<30} {step.equation:<5} {shape}")
        click.echo(f"          ‖·‖ {step.norm:.4g}  {step.which}: {values}{extra}")
        if step.symbol == "a^(3)":
            click.echo(
                f"J(θ)    = {result.data_cost:.4f} (data term for y = {result.label})"
                f" + {result.l2_cost:.4f} ((λ/2n) Σ θ², λ = {config.l2:g}, n = {result.n})"
                f" = {result.cost:.4f}   (B5)"
            )

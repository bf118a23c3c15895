"""``digitnet explain``: an image traced through the network in the derivation's notation.

The model is chosen as `predict` chooses it (--checkpoint, else checkpoints/model.npz,
else the bundled model), and the image is read as `predict` reads it: a number is cut
into its digits and each digit is traced, left to right, so the two commands never
disagree about what an image holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from digitnet.commands.options import json_option, model_option, say_bundled


@click.command()
@click.argument("image", type=click.Path(path_type=Path))
@model_option
@click.option(
    "--label",
    type=click.IntRange(0, 9),
    default=None,
    help="The digit y the image shows, for J(θ) and δ^(3) [default: the prediction].",
)
@click.option("--single", is_flag=True, help="Trace the whole image as one digit.")
@json_option
def explain(
    image: Path, checkpoint_path: Path | None, label: int | None, single: bool, as_json: bool
) -> None:
    """Trace IMAGE through the network in the derivation's notation.

    Shows the shape and a few values of a^(1), z^(2), a^(2), z^(3), a^(3), the
    cost J(θ) for the label, δ^(3), δ^(2) and the gradient blocks, each with its
    equation number in docs/backprop.md. An image holding several digits is read
    as `predict` reads it and each digit is traced in turn, left to right.
    """
    from dataclasses import asdict

    import numpy as np

    import digitnet
    from digitnet.images.preprocess import image_to_inputs
    from digitnet.insight import explain as explain_module

    model = digitnet.load_model(checkpoint_path)  # as predict: None is model.npz, else bundled
    ckpt, path = model.checkpoint, model.path
    if model.bundled:
        say_bundled(path)
    inputs = image_to_inputs(image, single=single)  # (k, 784): k digits, left to right
    if label is not None and len(inputs) > 1:
        raise click.UsageError(
            f"--label names one digit, but {image} holds {len(inputs)} — add --single to"
            " trace the whole image as one digit, or crop one digit out"
        )
    config = ckpt.config
    n = explain_module.n_train_of(ckpt.metrics, config.validation_size)
    traces = [
        explain_module.trace(ckpt.params, x, config.activation, config.output, config.l2, n, label)
        for x in np.asarray(inputs)
    ]
    k = len(traces)
    if as_json:
        for i, result in enumerate(traces, start=1):
            where = {"digit_index": i, "digits_in_image": k}
            click.echo(json.dumps({"file": str(image), **where, **asdict(result)}))
        return
    click.echo(
        f"{image} through {path} (784-{ckpt.params.hidden_size}-10,"
        f" g = {config.activation}, {config.output} output), one example: m = 1"
    )
    if k > 1:
        number = "".join(str(t.predicted) for t in traces)
        click.echo(f"{image} holds {k} digits, read as {number}: each is traced, left to right")
    for i, result in enumerate(traces, start=1):
        click.echo("")
        if k > 1:
            click.echo(f"digit {i} of {k}:")
        _echo_trace(result, config.l2)


def _echo_trace(result: Any, l2: float) -> None:
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
                f" + {result.l2_cost:.4f} ((λ/2n) Σ θ², λ = {l2:g}, n = {result.n})"
                f" = {result.cost:.4f}   (B5)"
            )

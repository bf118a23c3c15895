"""Seeing inside: ``gradcheck``, ``diagram``, ``explain`` and ``weights``.

Registered on ``cli.main`` by the import at the end of cli.py. Like cli.py this
module only parses, calls the library and prints; numpy, matplotlib and the
library modules are imported inside the commands, so ``digitnet predict`` does
not pay for them at start-up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from digitnet.cli import _resolve_data_dir, data_dir_option, json_option, main

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML config (see configs/default.yaml) giving H, the activation, the output and λ.",
)
optional_checkpoint_option = click.option(
    "--checkpoint",
    "checkpoint_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Use this checkpoint's network (.npz) instead of a config.",
)


def _config_or_checkpoint(config_file: Path | None, checkpoint_path: Path | None) -> Any:
    """(config, checkpoint or None): the settings to draw or check."""
    from digitnet import checkpoint
    from digitnet import config as config_module

    if config_file is not None and checkpoint_path is not None:
        raise click.UsageError("give --config or --checkpoint, not both")
    if checkpoint_path is not None:
        ckpt = checkpoint.load(checkpoint_path)
        return ckpt.config, ckpt
    return config_module.load(config_file), None


# -- gradcheck ----------------------------------------------------------------------


@main.command()
@config_option
@optional_checkpoint_option
@data_dir_option
@click.option(
    "--hidden-size",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="H of the small network checked entry by entry (ignored with --checkpoint).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="m, examples in the mini-batch.",
)
@click.option(
    "--all-combinations",
    is_flag=True,
    help="Check every activation × output pair, not just the configured one.",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@json_option
def gradcheck(
    config_file: Path | None,
    checkpoint_path: Path | None,
    data_dir: Path | None,
    hidden_size: int,
    batch_size: int,
    all_combinations: bool,
    seed: int,
    as_json: bool,
) -> None:
    """Compare backprop's gradients with centred finite differences of J(θ).

    Runs in float64 on a mini-batch of real training images (a synthetic batch
    when the dataset is not downloaded), for each parameter block W1, b1, W2, b2
    (θ^(1) and θ^(2) split into weights and bias), with the configured
    activation, output and λ. The L2 term uses n = m, so λ's part of the
    gradient is as large as the data's and is checked too. Exits with status 1
    when any relative error is above 1e-7.
    """
    import numpy as np

    from digitnet.insight import gradcheck as gc
    from digitnet.nn.network import OUTPUTS

    config, ckpt = _config_or_checkpoint(config_file, checkpoint_path)
    rng = np.random.default_rng(seed)
    folder = _resolve_data_dir(data_dir)
    batch = gc.mnist_batch(config.dataset, folder, batch_size, rng)
    if batch is None:
        inputs, labels = gc.synthetic_batch(batch_size, rng)
        source = f"a synthetic batch (no {config.dataset} files in {folder}; `digitnet download`)"
    else:
        inputs, labels = batch
        source = f"{len(inputs)} {config.dataset} training images from {folder}"
    if ckpt is not None:
        pairs = [(config.activation, config.output)]
        if all_combinations:
            raise click.UsageError("--all-combinations needs a config, not --checkpoint")
    elif all_combinations:
        pairs = [(a, o) for a in ("sigmoid", "tanh", "relu") for o in OUTPUTS]
    else:
        pairs = [(config.activation, config.output)]

    results = []
    for activation, output in pairs:
        if ckpt is not None:
            params = ckpt.params
        else:
            params = gc.small_params(hidden_size, activation, np.random.default_rng(seed))
        # The small network is checked entry by entry; a trained one on samples of each block.
        max_entries = gc.MAX_ENTRIES if ckpt is not None else None
        results.append(
            gc.run(
                params,
                inputs,
                labels,
                activation,
                output,
                config.l2,
                seed=seed,
                max_entries=max_entries,
            )
        )

    if as_json:
        for result in results:
            click.echo(json.dumps(_gradcheck_dict(result, source)))
    else:
        click.echo(f"gradient check in float64, ε = {gc.EPSILON:g}, on {source}")
        for result in results:
            click.echo("")
            click.echo(_format_gradcheck(result))
    failed = [r for r in results if not r.passed]
    if failed:
        worst = max(failed, key=lambda r: r.worst)
        raise click.ClickException(
            f"gradient check failed: relative error {worst.worst:.2e} > {worst.threshold:g}"
            f" ({worst.activation} hidden, {worst.output} output) — backprop does not match"
            " J(θ); see docs/backprop.md (B6)–(B8)"
        )


def _gradcheck_dict(result: Any, source: str) -> dict[str, Any]:
    return {
        "activation": result.activation,
        "output": result.output,
        "l2": result.l2,
        "m": result.m,
        "n": result.n,
        "hidden_size": result.hidden_size,
        "batch": source,
        "threshold": result.threshold,
        "passed": result.passed,
        "groups": [
            {
                "name": g.name,
                "description": g.description,
                "shape": list(g.shape),
                "checked": g.checked,
                "relative_error": g.relative_error,
                "max_abs_difference": g.max_abs_difference,
            }
            for g in result.groups
        ],
    }


def _format_gradcheck(result: Any) -> str:
    lines = [
        f"784-{result.hidden_size}-10, g = {result.activation}, output {result.output},"
        f" λ = {result.l2:g} (n = {result.n}), m = {result.m}",
        f"  {'block':<5}  {'':<14}  {'shape':<10}  {'checked':>13}  {'relative error':>14}"
        f"  {'max |diff|':>10}",
    ]
    for g in result.groups:
        shape = " × ".join(str(n) for n in g.shape)
        flag = "" if g.relative_error <= result.threshold else "  FAIL"
        lines.append(
            f"  {g.name:<5}  {g.description:<14}  {shape:<10}  {g.checked:>6}/{g.total:<6}"
            f"  {g.relative_error:>14.2e}  {g.max_abs_difference:>10.2e}{flag}"
        )
    verdict = "passed" if result.passed else "FAILED"
    lines.append(
        f"  {verdict}: largest relative error {result.worst:.2e} (threshold {result.threshold:g})"
    )
    return "\n".join(lines)


# -- diagram ------------------------------------------------------------------------


@main.command()
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
    config, _ = _config_or_checkpoint(config_file, checkpoint_path)
    net = diagram_module.NetworkShape(
        hidden_size=config.hidden_size,
        activation=config.activation,
        output=config.output,
        l2=config.l2,
    )
    diagram_module.draw(net, output)
    click.echo(f"wrote {output} (784-{config.hidden_size}-10)")


# -- explain ------------------------------------------------------------------------


@main.command()
@click.argument("image", type=click.Path(path_type=Path))
@click.option(
    "--checkpoint",
    "checkpoint_path",
    type=click.Path(path_type=Path),
    default=Path("checkpoints/model.npz"),
    show_default=True,
    help="Checkpoint (.npz) to use.",
)
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


# -- weights ------------------------------------------------------------------------


@main.command()
@click.argument(
    "checkpoint_path",
    metavar="CKPT",
    type=click.Path(path_type=Path),
    default=Path("checkpoints/model.npz"),
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="PNG file to write.",
)
def weights(checkpoint_path: Path, output: Path) -> None:
    """Show each hidden unit's row of θ^(1) as a 28x28 tile: what each unit looks for."""
    from digitnet import checkpoint
    from digitnet.errors import DigitnetError
    from digitnet.insight import plots

    if output.suffix.lower() != ".png":
        raise DigitnetError(f"cannot write {output.name!r} — name the output file .png")
    ckpt = checkpoint.load(checkpoint_path)
    plots.weight_tiles(ckpt.params.W1, output)
    click.echo(f"wrote {output} ({ckpt.params.hidden_size} tiles)")

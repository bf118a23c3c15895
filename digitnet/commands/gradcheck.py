"""``digitnet gradcheck``: the hand-written gradients against centred differences."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from digitnet.commands.options import (
    config_option,
    config_or_checkpoint,
    data_dir_option,
    json_option,
    optional_checkpoint_option,
    resolve_data_dir,
)


@click.command()
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

    config, ckpt = config_or_checkpoint(config_file, checkpoint_path)
    rng = np.random.default_rng(seed)
    folder = resolve_data_dir(data_dir)
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

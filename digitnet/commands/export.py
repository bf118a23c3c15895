"""``digitnet export CKPT FILE.onnx``: the network as a standard ONNX graph.

It parses, calls ``onnx_export`` and prints; ``onnx`` itself is imported only when
the command runs.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("checkpoint_path", metavar="CKPT", type=click.Path(path_type=Path))
@click.argument("output", metavar="FILE.onnx", type=click.Path(path_type=Path))
def export(checkpoint_path: Path, output: Path) -> None:
    """Write the network of checkpoint CKPT as an ONNX model to FILE.onnx.

    \b
    Graph: Gemm (θ^(1)), the activation, Gemm (θ^(2)), Softmax (or Sigmoid, rows
    renormalised, for sigmoid outputs). Input "a1": N×784 float32 in [0, 1], MNIST's
    form; output "probabilities": N×10. The input contract and the training config are
    in the model's metadata. Needs: pip install 'digitnet[export]'.
    """
    import digitnet
    from digitnet import onnx_export

    model = digitnet.load_model(checkpoint_path)
    ckpt = model.checkpoint
    size = onnx_export.export(ckpt, output)
    click.echo(
        f"wrote {output} ({size / 1024:.0f} KiB): 784-{ckpt.params.hidden_size}-10"
        f" {ckpt.config.activation}, {ckpt.config.output} outputs, ONNX opset"
        f" {onnx_export.OPSET}; input a1 (N, 784) float32 in [0, 1]"
    )

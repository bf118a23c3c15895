"""The network as a standard ONNX graph, so a digitnet model can run anywhere ONNX runs.

The graph is the forward pass of network.py, one ONNX operator per equation:

    a1 (N, 784) ──Gemm(W1, b1, transB)──▶ z2 ──g──▶ a2 ──Gemm(W2, b2, transB)──▶ z3 ──▶ a^(3)
                       (B1)                    (B2)         (B3)                    (B4)

A calibrated checkpoint (temperature T ≠ 1) adds one Div of z^(3) by T before (B4).
g is Sigmoid, Tanh or Relu (the checkpoint's activation). (B4) is Softmax over the ten
classes; for the seed's sigmoid outputs it is Sigmoid followed by a division by the row
sum, because that is what ``network.predict_proba`` returns (rows that sum to one), so
an ONNX runtime and digitnet give the same probabilities.

Gemm computes A·Bᵀ + C with ``transB=1``: θ^(l)'s weight block is stored (out, in), as in
the checkpoint, and the bias column is Gemm's C, broadcast over the N rows.

The model's metadata (``metadata_props``) states the input contract (MNIST form: N×784
float32 in [0, 1], light ink on black, digit centred by mass in 28×28) and carries the
checkpoint's training config and figures as JSON, so the file explains itself.

``onnx`` is an optional dependency (``pip install 'digitnet[export]'``), imported here
only, inside the functions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from digitnet import __version__
from digitnet.atomic import atomic_write
from digitnet.checkpoint import INPUT_NORMALISATION, Checkpoint
from digitnet.errors import ExportError, MissingExtraError
from digitnet.vocabulary import N_CLASSES, N_INPUTS

if TYPE_CHECKING:  # pragma: no cover - typing only
    import onnx

#: ONNX operator set used: 17 has Gemm, Softmax over one axis, and ReduceSum with axes
#: as an input; every ONNX runtime of the last years runs it.
OPSET = 17
#: IR version 8 goes with opset 17 (onnx's versioning table); set explicitly because a
#: newer onnx package would otherwise stamp an IR version older runtimes refuse.
IR_VERSION = 8
INPUT_NAME = "a1"
OUTPUT_NAME = "probabilities"
_ACTIVATION_OPS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}

INPUT_CONTRACT = (
    "a1: float32 tensor of shape (N, 784), N >= 1 (one row per digit); each row is a 28x28"
    " image in MNIST's form flattened row by row: light ink on a black background, pixel"
    " values / 255 so in [0, 1], the digit's longer side fitted to 20 px and its centre of"
    " mass at the centre of the 28x28 field (what `digitnet predict --save-preprocessed`"
    " writes). Output probabilities: (N, 10), row i column d = P(digit d | row i)."
)


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise MissingExtraError("onnx", "export") from None
    return onnx


def build_model(ckpt: Checkpoint) -> onnx.ModelProto:
    """The ONNX model of ``ckpt``'s network (checked by onnx's checker)."""
    onnx = _require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    config = ckpt.config
    params = ckpt.params
    hidden = params.hidden_size

    def initializer(name: str, array: np.ndarray) -> Any:
        return numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name)

    initializers = [
        initializer("W1", params.W1),  # (H, 784)  θ^(1) without its bias column
        initializer("b1", params.b1),  # (H,)      θ^(1) bias column
        initializer("W2", params.W2),  # (10, H)   θ^(2) without its bias column
        initializer("b2", params.b2),  # (10,)     θ^(2) bias column
    ]
    calibrated = ckpt.temperature != 1.0
    nodes = [
        helper.make_node("Gemm", [INPUT_NAME, "W1", "b1"], ["z2"], name="B1", transB=1),
        helper.make_node(_ACTIVATION_OPS[config.activation], ["z2"], ["a2"], name="B2"),
        helper.make_node(
            "Gemm", ["a2", "W2", "b2"], ["z3_raw" if calibrated else "z3"], name="B3", transB=1
        ),
    ]
    if calibrated:
        # A calibrated model reads z^(3) / T (nn/calibration.py), as `digitnet predict` and
        # Model.predict_proba do: the exported confidences are the calibrated ones.
        initializers.append(initializer("temperature", np.array(ckpt.temperature)))
        nodes.append(helper.make_node("Div", ["z3_raw", "temperature"], ["z3"], name="calibrate"))
    if config.output == "softmax":
        nodes.append(helper.make_node("Softmax", ["z3"], [OUTPUT_NAME], name="B4", axis=1))
    else:
        # Sigmoid outputs are not a distribution; predict_proba divides each row by its
        # sum, and so does the graph, so both give the same numbers.
        initializers.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "class_axis"))
        nodes += [
            helper.make_node("Sigmoid", ["z3"], ["a3"], name="B4"),
            helper.make_node("ReduceSum", ["a3", "class_axis"], ["a3_sum"], keepdims=1),
            helper.make_node("Div", ["a3", "a3_sum"], [OUTPUT_NAME], name="renormalise"),
        ]
    graph = helper.make_graph(
        nodes,
        f"digitnet-784-{hidden}-10",
        inputs=[helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", N_INPUTS])],
        outputs=[helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", N_CLASSES])],
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="digitnet",
        producer_version=__version__,
        doc_string=(
            f"784-{hidden}-10 digit classifier trained by digitnet: a^(3) = {config.output}("
            f"θ^(2) {config.activation}(θ^(1) a^(1)))."
        ),
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(model, metadata(ckpt))
    onnx.checker.check_model(model)
    return model


def metadata(ckpt: Checkpoint) -> dict[str, str]:
    """The model's ``metadata_props``: input contract, architecture, training config."""
    return {
        "input_contract": INPUT_CONTRACT,
        "input_normalisation": json.dumps(INPUT_NORMALISATION),
        "architecture": json.dumps(
            {
                "inputs": N_INPUTS,
                "hidden": ckpt.params.hidden_size,
                "outputs": N_CLASSES,
                "activation": ckpt.config.activation,
                "output": ckpt.config.output,
            }
        ),
        "training_config": json.dumps(ckpt.config.to_dict()),
        "metrics": json.dumps(ckpt.metrics),
        "checkpoint_created": ckpt.created,
        "digitnet_version": ckpt.version,
    }


def export(ckpt: Checkpoint, path: Path) -> int:
    """Write ``ckpt``'s network to ``path`` as ONNX, atomically; return the size in bytes.

    Raises
    ------
    ExportError
        ``path`` is a directory or cannot be written.
    MissingExtraError
        The ``onnx`` package is not installed.
    """
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"{path} is a directory — give a file name such as model.onnx")
    data = build_model(ckpt).SerializeToString()
    try:
        with atomic_write(path) as handle:
            handle.write(data)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ExportError(
            f"cannot write {path} ({reason}) — choose a folder you can write to"
        ) from None
    return len(data)

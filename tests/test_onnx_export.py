"""`digitnet export`: the ONNX graph gives digitnet's own probabilities, in onnxruntime."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from digitnet import checkpoint, load_model
from digitnet.cli import main
from digitnet.config import Config
from digitnet.data.idx import load_split
from digitnet.data.inputs import to_inputs
from digitnet.images.reading import bundled_checkpoint
from digitnet.nn.network import init_params, predict_proba

onnx = pytest.importorskip("onnx", reason="pip install 'digitnet[export]' for the ONNX tests")
ort = pytest.importorskip("onnxruntime", reason="pip install 'digitnet[export]'")


def run_onnx(path: Path, A1: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(["probabilities"], {"a1": A1})
    return np.asarray(probabilities)


def export(ckpt_path: Path, out: Path) -> None:
    result = CliRunner().invoke(main, ["export", str(ckpt_path), str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stdout


def test_bundled_model_round_trip_on_all_mnist_test_images(mnist_dir, tmp_path):
    """All 10,000 test digits: the same probabilities (1e-5) and the same predicted digits,
    at the bundled model's calibrated temperature, as `digitnet predict` shows them."""
    out = tmp_path / "model.onnx"
    export(bundled_checkpoint(), out)
    images, _ = load_split("mnist", mnist_dir, "test")
    A1 = to_inputs(images)  # (10000, 784) float32 in [0, 1], as evaluate feeds the network
    ours = load_model(bundled_checkpoint()).predict_proba(A1)
    theirs = run_onnx(out, A1)
    assert theirs.shape == (10000, 10)
    assert theirs.dtype == np.float32
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-5)
    assert np.array_equal(theirs.argmax(axis=1), ours.argmax(axis=1))


@pytest.mark.parametrize(
    ("activation", "output"),
    [("sigmoid", "softmax"), ("tanh", "softmax"), ("relu", "softmax"), ("sigmoid", "sigmoid")],
)
def test_every_activation_and_output(activation, output, tmp_path):
    rng = np.random.default_rng(3)
    config = Config(hidden_size=12, activation=activation, output=output)
    params = init_params(12, activation, rng)
    # Larger weights than at initialisation, so the outputs are far from uniform and a
    # wrong operator (or a transposed θ) could not pass by accident.
    params.W1 *= 4
    params.W2 *= 4
    params.b1 += rng.standard_normal(12).astype(np.float32)
    ckpt_path = tmp_path / "net.npz"
    checkpoint.save(ckpt_path, checkpoint.Checkpoint(params=params, config=config))
    out = tmp_path / "net.onnx"
    export(ckpt_path, out)
    A1 = rng.random((64, 784), dtype=np.float32)
    ours = predict_proba(params, A1, activation, output)
    theirs = run_onnx(out, A1)
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-5)
    np.testing.assert_allclose(theirs.sum(axis=1), 1.0, atol=1e-5)
    assert np.array_equal(theirs.argmax(axis=1), ours.argmax(axis=1))
    one = run_onnx(out, A1[:1])  # 1×784 works as well as N×784
    np.testing.assert_allclose(one, ours[:1], rtol=0, atol=1e-5)


def test_graph_and_metadata(tmp_path):
    out = tmp_path / "model.onnx"
    export(bundled_checkpoint(), out)
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    bundled = checkpoint.load(bundled_checkpoint())
    g = {"sigmoid": "Sigmoid", "relu": "Relu", "tanh": "Tanh"}[bundled.config.activation]
    assert bundled.temperature != 1.0  # calibrated: z^(3) / T before the softmax
    assert [node.op_type for node in model.graph.node] == ["Gemm", g, "Gemm", "Div", "Softmax"]
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert weights["temperature"].item() == pytest.approx(bundled.temperature, rel=1e-6)
    (inp,) = model.graph.input
    dims = inp.type.tensor_type.shape.dim
    assert inp.name == "a1"
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert dims[0].dim_param == "N"
    assert dims[1].dim_value == 784
    props = {p.key: p.value for p in model.metadata_props}
    ckpt = checkpoint.load(bundled_checkpoint())
    assert json.loads(props["training_config"]) == ckpt.config.to_dict()
    assert json.loads(props["architecture"])["hidden"] == ckpt.params.hidden_size
    assert "[0, 1]" in props["input_contract"]
    assert "784" in props["input_contract"]


def test_errors_are_one_line(tmp_path):
    runner = CliRunner()
    model = str(bundled_checkpoint())

    def error_of(*args: str) -> str:
        result = runner.invoke(main, ["export", *args])
        assert result.exit_code == 1
        assert result.stderr.startswith("Error: ")
        assert result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.output
        return result.stderr

    assert "does not exist" in error_of(str(tmp_path / "missing.npz"), str(tmp_path / "m.onnx"))
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    assert "damaged" in error_of(str(corrupt), str(tmp_path / "m.onnx"))
    assert "is a directory" in error_of(model, str(tmp_path))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert "cannot write" in error_of(model, str(blocker / "m.onnx"))
    assert not (tmp_path / "m.onnx").exists()


def test_missing_extra_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    result = CliRunner().invoke(
        main, ["export", str(bundled_checkpoint()), str(tmp_path / "m.onnx")]
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: onnx is not installed (needed here) — pip install 'digitnet[export]'\n"
    )


@pytest.mark.parametrize("output", ["softmax", "sigmoid"])
def test_a_calibrated_model_exports_its_temperature(output, tmp_path):
    rng = np.random.default_rng(8)
    config = Config(hidden_size=9, activation="relu", output=output)
    params = init_params(9, "relu", rng)
    params.W2 *= 5  # confident outputs, so T = 2.5 visibly softens them
    ckpt_path = tmp_path / "calibrated.npz"
    checkpoint.save(
        ckpt_path,
        checkpoint.Checkpoint(params=params, config=config, metrics={"temperature": 2.5}),
    )
    out = tmp_path / "calibrated.onnx"
    export(ckpt_path, out)
    A1 = rng.random((32, 784), dtype=np.float32)
    calibrated = load_model(ckpt_path).predict_proba(A1)
    raw = predict_proba(params, A1, "relu", output)
    theirs = run_onnx(out, A1)
    np.testing.assert_allclose(theirs, calibrated, rtol=0, atol=1e-5)
    assert np.abs(theirs - raw).max() > 1e-3  # the temperature did change the confidences
    assert "Div" in [node.op_type for node in onnx.load(str(out)).graph.node]

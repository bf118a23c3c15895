"""The hand-written gradients against centred finite differences, and proof the check can fail."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from digitnet import checkpoint
from digitnet.cli import main
from digitnet.config import Config
from digitnet.insight import gradcheck
from digitnet.nn import network
from digitnet.nn.activations import ACTIVATIONS
from digitnet.nn.network import OUTPUTS

COMBINATIONS = [(a, o) for a in ACTIVATIONS for o in OUTPUTS]


def small_case(activation: str, seed: int = 0, m: int = 12, hidden: int = 6):
    rng = np.random.default_rng(seed)
    params = gradcheck.small_params(hidden, activation, rng)
    A1, y = gradcheck.synthetic_batch(m, rng)
    return params, A1, y


@pytest.mark.parametrize(("activation", "output"), COMBINATIONS)
@pytest.mark.parametrize("l2", [0.0, 3.0])
def test_every_combination_passes_below_1e_7(activation, output, l2):
    params, A1, y = small_case(activation)
    result = gradcheck.run(params, A1, y, activation, output, l2, max_entries=None)
    assert [g.name for g in result.groups] == ["W1", "b1", "W2", "b2"]
    assert all(g.checked == g.total for g in result.groups)  # entry by entry
    assert result.worst < 1e-7, [(g.name, g.relative_error) for g in result.groups]
    assert result.passed


def test_l2_uses_the_given_n():
    params, A1, y = small_case("tanh")
    # n_train = 1000 with λ = 5 is a different J(θ) from n = m; both must check out.
    assert gradcheck.run(params, A1, y, "tanh", "softmax", 5.0, n_train=1000).passed


def _broken_derivative(A, delta, scratch=None):  # forgets to multiply by g′(z^(2)) in (B7)
    return delta


def test_missing_g_prime_fails(monkeypatch):
    g, _ = ACTIVATIONS["sigmoid"]
    monkeypatch.setitem(ACTIVATIONS, "sigmoid", (g, _broken_derivative))
    params, A1, y = small_case("sigmoid")
    result = gradcheck.run(params, A1, y, "sigmoid", "softmax", 1.0)
    assert not result.passed
    by_name = {g.name: g for g in result.groups}
    # δ^(2) is wrong, so θ^(1)'s blocks fail; θ^(2)'s do not depend on it.
    assert by_name["W1"].relative_error > 1e-2
    assert by_name["b1"].relative_error > 1e-2
    assert by_name["W2"].relative_error < 1e-7


def test_wrong_sign_of_delta3_fails(monkeypatch):
    real = network.output_error
    monkeypatch.setattr(network, "output_error", lambda A3, y: -real(A3, y))
    params, A1, y = small_case("relu")
    result = gradcheck.run(params, A1, y, "relu", "sigmoid", 0.0)
    assert not result.passed
    assert all(g.relative_error > 0.5 for g in result.groups)


def test_lambda_on_the_bias_fails(monkeypatch):
    real = network.backprop

    def regularises_bias(params, cache, y, activation, l2=0.0, n_train=None):
        grads = real(params, cache, y, activation, l2, n_train)
        n = cache.A1.shape[0] if n_train is None else n_train
        grads.b1 = grads.b1 + (l2 / n) * params.b1  # (B8) says: no λ on the bias column
        return grads

    monkeypatch.setattr(network, "backprop", regularises_bias)
    params, A1, y = small_case("tanh")
    result = gradcheck.run(params, A1, y, "tanh", "softmax", 3.0)
    assert not result.passed
    assert [g.name for g in result.groups if g.relative_error > 1e-7] == ["b1"]


def test_nan_gradient_fails():
    result = gradcheck.GradcheckResult(
        groups=[gradcheck.GroupCheck("W1", "θ^(1) weights", (2, 2), 4, float("nan"), 0.0)],
        activation="sigmoid",
        output="softmax",
        l2=0.0,
        m=1,
        n=1,
        hidden_size=2,
    )
    assert not result.passed


def test_relative_error_of_zeros_is_zero():
    assert gradcheck.relative_error(np.zeros(3), np.zeros(3)) == 0.0


# -- the command ---------------------------------------------------------------------


def test_cli_passes_and_prints_a_table(tmp_path):
    result = CliRunner().invoke(
        main, ["gradcheck", "--data-dir", str(tmp_path), "--batch-size", "8"]
    )
    assert result.exit_code == 0, result.output
    assert "synthetic batch" in result.output
    for name in ("W1", "b1", "W2", "b2"):
        assert f"  {name} " in result.output
    assert "passed" in result.output


def test_cli_every_combination_json(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("l2: 1.5\n")
    result = CliRunner().invoke(
        main,
        [
            "gradcheck",
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path),
            "--all-combinations",
            "--hidden-size",
            "4",
            "--batch-size",
            "6",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert {(r["activation"], r["output"]) for r in rows} == set(COMBINATIONS)
    for r in rows:
        assert r["l2"] == 1.5
        assert r["passed"]
        assert max(g["relative_error"] for g in r["groups"]) < 1e-7


def test_cli_fails_on_broken_backprop(monkeypatch, tmp_path):
    real = network.output_error
    monkeypatch.setattr(network, "output_error", lambda A3, y: 0.5 * real(A3, y))
    result = CliRunner().invoke(
        main, ["gradcheck", "--data-dir", str(tmp_path), "--hidden-size", "3", "--batch-size", "4"]
    )
    assert result.exit_code == 1
    assert "FAIL" in result.output
    assert "gradient check failed" in result.output


def _save_checkpoint(path: Path, hidden: int, activation: str = "tanh") -> None:
    rng = np.random.default_rng(1)
    params = network.init_params(hidden, activation, rng)
    config = Config(hidden_size=hidden, activation=activation, output="sigmoid", l2=0.5)
    checkpoint.save(path, checkpoint.Checkpoint(params=params, config=config))


def test_cli_checkpoint_is_checked_on_samples(tmp_path):
    ckpt = tmp_path / "m.npz"
    _save_checkpoint(ckpt, hidden=7)
    result = CliRunner().invoke(
        main,
        [
            "gradcheck",
            "--checkpoint",
            str(ckpt),
            "--data-dir",
            str(tmp_path),
            "--json",
            "--batch-size",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    assert (row["activation"], row["output"], row["hidden_size"]) == ("tanh", "sigmoid", 7)
    w1 = row["groups"][0]
    assert w1["shape"] == [7, 784]
    assert w1["checked"] == gradcheck.MAX_ENTRIES  # 5488 entries: sampled
    assert row["passed"]


def test_cli_config_and_checkpoint_together_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["gradcheck", "--config", "a.yaml", "--checkpoint", "b.npz"])
    assert result.exit_code == 2


def test_cli_on_real_mnist_batch(mnist_dir):
    result = CliRunner().invoke(
        main, ["gradcheck", "--data-dir", str(mnist_dir), "--hidden-size", "5", "--json"]
    )
    assert result.exit_code == 0, result.output
    row = json.loads(result.output.splitlines()[-1])
    assert "mnist training images" in row["batch"]
    assert row["passed"]

"""The hand-written network: shapes, stability, and gradients against finite differences."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitnet.nn import network
from digitnet.nn.activations import log_softmax, sigmoid, softmax
from digitnet.nn.network import Params
from digitnet.vocabulary import N_INPUTS

ACTIVATIONS = ["sigmoid", "tanh", "relu"]
OUTPUTS = ["softmax", "sigmoid"]


def tiny_problem(activation: str, hidden: int = 6, m: int = 5, seed: int = 0):
    """A float64 784-H-10 network and a batch; float64 so finite differences are exact enough."""
    rng = np.random.default_rng(seed)
    params = network.init_params(hidden, activation, rng, dtype=np.float64)
    # Non-zero biases so their gradients are exercised away from the symmetric start.
    params.b1[:] = rng.normal(0, 0.5, hidden)
    params.b2[:] = rng.normal(0, 0.5, 10)
    X = rng.random((m, N_INPUTS))
    y = rng.integers(0, 10, m)
    return params, X, y


def numerical_gradient(params: Params, X, y, activation, output, l2, n_train, eps=1e-6):
    """Centred differences (J(θ+ε) − J(θ−ε)) / 2ε for a sample of entries of each block."""
    rng = np.random.default_rng(1)
    estimates = {}
    for name, theta in params.arrays().items():
        flat = theta.reshape(-1)
        picked = rng.choice(flat.size, size=min(flat.size, 30), replace=False)
        values = []
        for i in picked:
            saved = flat[i]
            flat[i] = saved + eps
            plus = network.cost(params, X, y, activation, output, l2, n_train)
            flat[i] = saved - eps
            minus = network.cost(params, X, y, activation, output, l2, n_train)
            flat[i] = saved
            values.append((plus - minus) / (2 * eps))
        estimates[name] = (picked, np.array(values))
    return estimates


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backprop_matches_finite_differences(activation, output):
    params, X, y = tiny_problem(activation)
    l2, n_train = 0.7, 40
    cache = network.forward(params, X, activation, output)
    grads = network.backprop(params, cache, y, activation, l2, n_train)
    for name, (picked, numeric) in numerical_gradient(
        params, X, y, activation, output, l2, n_train
    ).items():
        analytic = getattr(grads, name).reshape(-1)[picked]
        # relative error of the whole block, as in Ng's ex4 check
        rel = np.linalg.norm(analytic - numeric) / np.linalg.norm(analytic + numeric)
        assert rel < 1e-6, f"{activation}/{output} {name}: relative error {rel:.2e}"


@settings(deadline=None, max_examples=15)
@given(
    activation=st.sampled_from(ACTIVATIONS),
    output=st.sampled_from(OUTPUTS),
    hidden=st.integers(1, 8),
    m=st.integers(1, 6),
    l2=st.floats(0, 5),
    seed=st.integers(0, 10_000),
)
def test_backprop_matches_finite_differences_random_shapes(activation, output, hidden, m, l2, seed):
    params, X, y = tiny_problem(activation, hidden, m, seed)
    cache = network.forward(params, X, activation, output)
    grads = network.backprop(params, cache, y, activation, l2, n_train=None)
    for name, (picked, numeric) in numerical_gradient(
        params, X, y, activation, output, l2, None
    ).items():
        analytic = getattr(grads, name).reshape(-1)[picked]
        scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
        if scale < 1e-9:  # e.g. every relu unit dead: both must be ~0
            assert np.allclose(analytic, 0, atol=1e-9)
            continue
        # Central differences carry round-off of about ε_machine·J/h ≈ 1e-10 per entry
        # (h = 1e-6), so a block that is tiny (a dead unit's W1 row: the λ term alone, ~1e-6)
        # is compared against that floor, not relatively (hypothesis found relu, H = 1,
        # m = 1, λ = 1e-5, seed 1: a relative error of 1.3e-4 between 2.2515e-6 and its
        # finite difference, the absolute error 3e-10).
        assert np.linalg.norm(analytic - numeric) < 1e-6 * scale + 1e-8, name


def test_bias_gradient_carries_no_l2_term():
    params, X, y = tiny_problem("sigmoid")
    cache = network.forward(params, X, "sigmoid", "softmax")
    plain = network.backprop(params, cache, y, "sigmoid", l2=0.0)
    cache = network.forward(params, X, "sigmoid", "softmax")
    regularised = network.backprop(params, cache, y, "sigmoid", l2=3.0)
    np.testing.assert_allclose(plain.b1, regularised.b1)
    np.testing.assert_allclose(plain.b2, regularised.b2)
    # ... while the weights get exactly (λ/m) θ more (n = m here)
    m = X.shape[0]
    np.testing.assert_allclose(regularised.W1 - plain.W1, 3.0 / m * params.W1, atol=1e-12)


def test_cost_adds_l2_over_non_bias_weights_only():
    params, X, y = tiny_problem("tanh")
    base = network.cost(params, X, y, "tanh", "softmax", l2=0.0)
    with_l2 = network.cost(params, X, y, "tanh", "softmax", l2=2.0, n_train=10)
    squares = (params.W1**2).sum() + (params.W2**2).sum()
    assert with_l2 - base == pytest.approx(2.0 / (2 * 10) * squares)


def test_forward_shapes_and_float32():
    rng = np.random.default_rng(0)
    params = network.init_params(32, "relu", rng)
    X = rng.random((7, 784), dtype=np.float32)
    cache = network.forward(params, X, "relu", "softmax")
    assert cache.A2.shape == (7, 32)
    assert cache.A3.shape == (7, 10)
    for array in (cache.A2, cache.A3, cache.Z3):
        assert array.dtype == np.float32
    np.testing.assert_allclose(cache.A3.sum(axis=1), 1.0, rtol=1e-5)


def test_hand_worked_softmax_example():
    """A 784-1-10 network small enough to follow on paper.

    W1 = 0, b1 = 0  ->  z^(2) = 0, a^(2) = σ(0) = 0.5
    W2 = 0, b2 = [ln 2, 0, …, 0]  ->  z^(3) = b2, a^(3) = [2, 1, …, 1] / 11
    J for label 0 = −log(2/11) = log(5.5); δ^(3) = a^(3) − e_0 = [2/11 − 1, 1/11, …]
    ∂J/∂b2 = δ^(3); ∂J/∂W2 = δ^(3) a^(2) = δ^(3) / 2; δ^(2) = W2ᵀ δ^(3) ⊙ σ′ = 0.
    """
    params = Params(
        W1=np.zeros((1, 784)),
        b1=np.zeros(1),
        W2=np.zeros((10, 1)),
        b2=np.array([np.log(2.0)] + [0.0] * 9),
    )
    X = np.ones((1, 784))
    y = np.array([0])
    assert network.cost(params, X, y, "sigmoid", "softmax") == pytest.approx(np.log(5.5))
    cache = network.forward(params, X, "sigmoid", "softmax")
    grads = network.backprop(params, cache, y, "sigmoid")
    expected_delta3 = np.array([2 / 11 - 1] + [1 / 11] * 9)
    np.testing.assert_allclose(grads.b2, expected_delta3)
    np.testing.assert_allclose(grads.W2[:, 0], expected_delta3 / 2)
    np.testing.assert_allclose(grads.W1, 0.0)
    np.testing.assert_allclose(grads.b1, 0.0)


@pytest.mark.parametrize("output", OUTPUTS)
def test_extreme_logits_give_finite_cost_and_no_warnings(output):
    params = Params(
        W1=np.full((3, 784), 50.0, dtype=np.float32),
        b1=np.zeros(3, dtype=np.float32),
        W2=np.array([[1e4] * 3] + [[-1e4] * 3] * 9, dtype=np.float32),
        b2=np.zeros(10, dtype=np.float32),
    )
    X = np.ones((2, 784), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for activation in ACTIVATIONS:
            right = network.cost(params, X, np.array([0, 0]), activation, output)
            wrong = network.cost(params, X, np.array([1, 1]), activation, output)
            assert np.isfinite(right)
            assert np.isfinite(wrong)
            assert wrong > 1000  # a confidently wrong answer costs a lot, not inf


def test_softmax_is_stable_and_shift_invariant():
    Z = np.array([[1e4, 0.0, -1e4], [1.0, 2.0, 3.0]], dtype=np.float32)
    A = softmax(Z)
    assert np.all(np.isfinite(A))
    np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(softmax(Z[1:] + 1000), A[1:], rtol=1e-5)
    np.testing.assert_allclose(np.exp(log_softmax(Z)), A, atol=1e-7)


def test_sigmoid_saturates_without_overflow():
    z = np.array([-1e5, -100.0, 0.0, 100.0, 1e5], dtype=np.float32)
    a = sigmoid(z)
    np.testing.assert_allclose(a, [0, 0, 0.5, 1, 1], atol=1e-7)
    assert a.dtype == np.float32


def test_sigmoid_is_the_same_whether_or_not_one_value_needs_the_clip():
    # The clip runs only when some −z exceeds it: one extreme z must change no other value.
    z = np.random.default_rng(0).normal(0, 5, (64, 50)).astype(np.float32)
    plain = sigmoid(z)
    with_extreme = z.copy()
    with_extreme[3, 7] = -1e6
    clipped = sigmoid(with_extreme)
    assert clipped[3, 7] < 1e-34  # σ(−80), where the clip puts it
    clipped[3, 7] = plain[3, 7]
    np.testing.assert_array_equal(clipped, plain)
    np.testing.assert_allclose(plain, 1 / (1 + np.exp(-z.astype(np.float64))), rtol=1e-6)
    assert sigmoid(np.empty((0, 5), np.float32)).shape == (0, 5)


def test_init_is_reproducible_and_scaled_to_fan_in():
    a = network.init_params(100, "sigmoid", np.random.default_rng(3))
    b = network.init_params(100, "sigmoid", np.random.default_rng(3))
    np.testing.assert_array_equal(a.W1, b.W1)
    assert a.W1.std() == pytest.approx(1 / np.sqrt(784), rel=0.05)
    relu = network.init_params(100, "relu", np.random.default_rng(3))
    assert relu.W1.std() == pytest.approx(np.sqrt(2 / 784), rel=0.05)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_predict_proba_rows_are_probabilities_of_the_forward_pass(activation):
    """softmax: h_θ(x) as is; sigmoid: the ten independent σ(z_k) rescaled to sum to one."""
    params, X, _ = tiny_problem(activation)
    Z3 = network.forward(params, X, activation, "softmax").Z3.copy()
    np.testing.assert_allclose(network.predict_proba(params, X, activation), softmax(Z3))
    sigmoid_rows = network.predict_proba(params, X, activation, "sigmoid")
    expected = sigmoid(Z3) / sigmoid(Z3).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(sigmoid_rows, expected)
    np.testing.assert_allclose(sigmoid_rows.sum(axis=1), 1.0)


def test_cost_defaults_to_softmax_cross_entropy_without_l2():
    params, X, y = tiny_problem("tanh")
    Z3 = network.forward(params, X, "tanh", "softmax").Z3
    by_hand = -log_softmax(Z3)[np.arange(len(y)), y].mean()
    assert network.cost(params, X, y, "tanh") == pytest.approx(by_hand, rel=1e-12)


def test_sigmoid_output_cost_is_the_logistic_cost_by_hand():
    params, X, y = tiny_problem("relu")
    A3 = sigmoid(network.forward(params, X, "relu", "sigmoid").Z3)
    Y = np.eye(10)[y]
    by_hand = -(Y * np.log(A3) + (1 - Y) * np.log(1 - A3)).sum(axis=1).mean()
    assert network.cost(params, X, y, "relu", "sigmoid") == pytest.approx(by_hand, rel=1e-9)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_params_astype_converts_every_block(dtype):
    params = network.init_params(4, "sigmoid", np.random.default_rng(0))
    converted = params.astype(dtype)
    for name, block in converted.arrays().items():
        assert block.dtype == dtype
        np.testing.assert_array_equal(block, getattr(params, name).astype(dtype))


@pytest.mark.parametrize(
    ("activation", "scale"),
    [
        ("sigmoid", lambda n_in, n_out: np.sqrt(1 / n_in)),  # 1/√n_in
        ("tanh", lambda n_in, n_out: np.sqrt(2 / (n_in + n_out))),  # Glorot
        ("relu", lambda n_in, n_out: np.sqrt(2 / n_in)),  # He
    ],
)
def test_init_scales_both_layers_to_their_fan_and_zeroes_the_biases(activation, scale):
    H = 300
    params = network.init_params(H, activation, np.random.default_rng(5))
    assert params.W1.shape == (H, N_INPUTS)
    assert params.W2.shape == (10, H)
    assert params.W1.std() == pytest.approx(scale(N_INPUTS, H), rel=0.02)
    assert params.W2.std() == pytest.approx(scale(H, 10), rel=0.1)
    assert abs(params.W1.mean()) < 0.1 * scale(N_INPUTS, H)
    np.testing.assert_array_equal(params.b1, np.zeros(H))
    np.testing.assert_array_equal(params.b2, np.zeros(10))
    for block in params.arrays().values():
        assert block.dtype == np.float32
    wide = network.init_params(H, activation, np.random.default_rng(5), dtype=np.float64)
    assert wide.W1.dtype == np.float64
    np.testing.assert_allclose(wide.W1, params.W1, rtol=1e-6)


def test_architecture_names_its_shape_and_functions():
    assert str(network.Architecture(64)) == "784-64-10 (sigmoid, softmax)"
    assert str(network.Architecture(30, "relu", "sigmoid")) == "784-30-10 (relu, sigmoid)"


def test_without_n_train_the_l2_term_divides_by_the_batch_size():
    """n = m when the training-set size is not given (DESIGN.md's table), in J and in ∂J/∂θ."""
    params, X, y = tiny_problem("sigmoid", m=5)
    base = network.cost(params, X, y, "sigmoid", "softmax", l2=0.0)
    with_l2 = network.cost(params, X, y, "sigmoid", "softmax", l2=2.0)
    squares = (params.W1**2).sum() + (params.W2**2).sum()
    assert with_l2 - base == pytest.approx(2.0 / (2 * 5) * squares)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_keep_the_parameters_dtype(dtype):
    rng = np.random.default_rng(0)
    params = network.init_params(6, "tanh", rng, dtype=dtype)
    X = rng.random((4, N_INPUTS)).astype(dtype)
    y = np.array([0, 3, 9, 3])
    grads = network.backprop(params, network.forward(params, X, "tanh"), y, "tanh", l2=1.0)
    for name, block in grads.arrays().items():
        assert block.dtype == dtype, name


def test_mixed_precision_computes_in_the_wider_dtype():
    """explain and gradcheck run float32 inputs through float64 θ (and the reverse can
    happen): the pass is computed in the wider of the two, never rounded to the narrower."""
    params64, X64, y = tiny_problem("tanh")
    params32, X32 = params64.astype(np.float32), X64.astype(np.float32)
    for params, X in ((params32, X64), (params64, X32)):
        cache = network.forward(params, X, "tanh")
        assert cache.A3.dtype == np.float64
        grads = network.backprop(params, cache, y, "tanh", l2=0.5)
        for block in grads.arrays().values():
            assert block.dtype == np.float64

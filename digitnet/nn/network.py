"""The 784-H-10 network: parameters, forward pass, cost J(θ) and backpropagation.

Written by hand in numpy, in the notation of the derivation (docs/backprop.md),
whose numbered equations (B1)…(B8) are cited at the lines that compute them.

Two departures from the notes, stated once:

* θ^(l) maps layer l to layer l+1, so ``W1`` (with ``b1``) produces ``Z2``. The
  bias column of θ^(l) is stored apart: θ^(1) = [b1 | W1], θ^(2) = [b2 | W2].
* Rows are examples. Where the notes write z^(2) = θ^(1) a^(1) for one column
  vector, the code computes ``Z2 = A1 @ W1.T + b1`` for a mini-batch of m rows.

The L2 term (λ/2n) Σ θ² covers the non-bias weights only. Its n is the size of
the training set (as in Ng's J(θ)); on a mini-batch of m examples the data term
is the batch mean and the L2 term keeps the training set's n, so the mini-batch
cost is an unbiased estimate of the full J(θ). When ``n_train`` is not given,
n = m, which is exactly the table in DESIGN.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

from digitnet.nn import numpyblas
from digitnet.nn.activations import ACTIVATIONS, log_softmax, sigmoid, softmax, softplus
from digitnet.vocabulary import N_CLASSES, N_INPUTS

Array: TypeAlias = NDArray[np.floating]
Labels: TypeAlias = NDArray[np.integer]

PARAM_NAMES = ("W1", "b1", "W2", "b2")  # Params' fields, in order (checked by a test)
OUTPUTS = ("softmax", "sigmoid")  # a^(3) = h_θ(x): softmax + cross-entropy, or the seed's sigmoid


@dataclass(frozen=True)
class Architecture:
    """The network's shape and functions: 784-H-10 with g = ``activation`` and ``output``."""

    hidden_size: int  # H
    activation: str = "sigmoid"  # g, a name in activations.ACTIVATIONS
    output: str = "softmax"  # one of OUTPUTS

    def __str__(self) -> str:
        return f"{N_INPUTS}-{self.hidden_size}-{N_CLASSES} ({self.activation}, {self.output})"


@dataclass
class Params:
    """θ^(1) = [b1 | W1] and θ^(2) = [b2 | W2]."""

    W1: Array  # (H, 784)  θ^(1) without its bias column
    b1: Array  # (H,)      θ^(1) bias column
    W2: Array  # (10, H)   θ^(2) without its bias column
    b2: Array  # (10,)     θ^(2) bias column

    @property
    def hidden_size(self) -> int:
        return int(self.W1.shape[0])

    def arrays(self) -> dict[str, Array]:
        return {name: getattr(self, name) for name in PARAM_NAMES}

    def copy(self) -> Params:
        return Params(**{name: a.copy() for name, a in self.arrays().items()})

    def astype(self, dtype: type[np.floating] | np.dtype[np.floating]) -> Params:
        return Params(**{name: a.astype(dtype) for name, a in self.arrays().items()})

    def pack(self) -> Params:
        """Move the blocks, values unchanged, into one 1-D array, each block a view of it
        in field order (``flat``), so an update over all of θ is one BLAS call instead of
        one per block (optim.py). Returns self; blocks of mixed dtypes stay as they are."""
        blocks = self.arrays()
        dtypes = {a.dtype for a in blocks.values()}
        if self.flat() is not None or len(dtypes) != 1:
            return self
        buffer = np.empty(sum(a.size for a in blocks.values()), dtype=dtypes.pop())
        start = 0
        for name, a in blocks.items():
            view = buffer[start : start + a.size].reshape(a.shape)
            view[...] = a
            setattr(self, name, view)
            start += a.size
        return self

    def flat(self) -> Array | None:
        """All of θ as one 1-D array when ``pack`` laid the blocks out in it, else None."""
        buffer = self.W1.base
        if buffer is None or buffer.ndim != 1 or not buffer.flags.c_contiguous:
            return None
        address = buffer.__array_interface__["data"][0]
        for a in self.arrays().values():
            if a.base is not buffer or not a.flags.c_contiguous:
                return None
            if a.__array_interface__["data"][0] != address:
                return None
            address += a.nbytes
        end = buffer.__array_interface__["data"][0] + buffer.nbytes
        return buffer if address == end else None


@dataclass
class Cache:
    """What the forward pass keeps for backprop (one row per example)."""

    A1: Array  # (m, 784)  a^(1) = x
    A2: Array  # (m, H)    a^(2) = g(z^(2))
    A3: Array  # (m, 10)   a^(3) = h_θ(x)
    Z3: Array  # (m, 10)   z^(3), kept for a stable cost
    # Softmax only: log Σ_k e^(z_k) per row, the softmax's own normaliser, so the cost
    # −log a_y = log Σ_k e^(z_k) − z_y needs no second pass over z^(3) (data_cost).
    log_normaliser: Array | None = None  # (m,)
    # Dropout (training only): the mask r/(1 − p) and ã^(2) = a^(2) ⊙ r/(1 − p), the
    # hidden activations layer 3 actually saw. Both None without dropout.
    mask: Array | None = None  # (m, H)
    A2_dropped: Array | None = None  # (m, H)


@dataclass(frozen=True)
class Accumulate:
    """Where backprop writes ∂J/∂θ when the optimiser takes it straight into its own state:
    ``out ← α ∂J/∂θ + β out`` for every block, done by the products' own α and β
    (numpyblas.gemm), so no gradient array is written and read again (optim.Momentum:
    v ← μ v − η ∂J/∂θ is α = −η, β = μ)."""

    out: Params
    alpha: float
    beta: float


def init_params(
    hidden_size: int,
    activation: str,
    rng: np.random.Generator,
    dtype: type[np.floating] = np.float32,
) -> Params:
    """Random weights scaled to the layer's fan-in; zero biases.

    The scale keeps z^(l) of order one at the start, so g is neither saturated
    (sigmoid, tanh) nor dead (relu): 1/√n_in for sigmoid (Nielsen, ch. 3),
    Glorot's √(2/(n_in+n_out)) for tanh, He's √(2/n_in) for relu.
    """

    def weights(n_out: int, n_in: int) -> Array:
        if activation == "relu":
            std = np.sqrt(2.0 / n_in)
        elif activation == "tanh":
            std = np.sqrt(2.0 / (n_in + n_out))
        else:
            std = np.sqrt(1.0 / n_in)
        scaled: Array = rng.standard_normal((n_out, n_in)) * std
        return scaled.astype(dtype)

    return Params(
        W1=weights(hidden_size, N_INPUTS),
        b1=np.zeros(hidden_size, dtype=dtype),
        W2=weights(N_CLASSES, hidden_size),
        b2=np.zeros(N_CLASSES, dtype=dtype),
    )


@dataclass
class Workspace:
    """Arrays for mini-batches of up to ``rows`` examples, allocated once and reused.

    Training runs forward and backprop thousands of times per epoch with the same
    shapes. Writing every result into these arrays (``out=`` products, in-place
    ufuncs, BLAS for the L2 term: digitnet/nn/numpyblas.py) instead of fresh ones
    keeps a step close to the time of its five matrix products (benchmarks/speed.py).
    The ``Cache`` and gradients returned are views into the workspace: the next call
    with the same workspace overwrites them.
    """

    Z2: Array  # (rows, H)   z^(2), then a^(2) = g(z^(2)) in place
    A2_dropped: Array  # (rows, H)   ã^(2) = a^(2) ⊙ r/(1 − p), with dropout only
    Z3: Array  # (rows, 10)  z^(3)
    A3: Array  # (rows, 10)  a^(3)
    log_normaliser: Array  # (rows,) log Σ_k e^(z_k), softmax output only
    delta2: Array  # (rows, H)   δ^(2) / m
    scratch: Array  # (rows, H)   g′(z^(2))
    column_sums: Array  # (max(H, 10),) Σ_i δ_i of one layer before α and β (backprop ``into``)
    grads: Params  # ∂J/∂θ, shaped like θ

    @classmethod
    def allocate(
        cls, rows: int, hidden_size: int, dtype: np.dtype[Any] | type[np.floating] = np.float32
    ) -> Workspace:
        def empty(*shape: int) -> Array:
            return np.empty(shape, dtype=dtype)

        H = hidden_size
        return cls(
            Z2=empty(rows, H),
            A2_dropped=empty(rows, H),
            Z3=empty(rows, N_CLASSES),
            A3=empty(rows, N_CLASSES),
            log_normaliser=empty(rows),
            delta2=empty(rows, H),
            scratch=empty(rows, H),
            column_sums=empty(max(H, N_CLASSES)),
            grads=Params(
                W1=empty(H, N_INPUTS), b1=empty(H), W2=empty(N_CLASSES, H), b2=empty(N_CLASSES)
            ).pack(),  # one array, so the optimiser's update is one pass over it (optim.py)
        )

    def first(self, m: int) -> Workspace:
        """The first m rows (a short last batch); row slices of C-ordered arrays stay
        contiguous, so BLAS still writes into them directly."""
        if m == self.Z2.shape[0]:
            return self
        if m > self.Z2.shape[0]:
            raise ValueError(f"a batch of {m} rows does not fit a workspace of {len(self.Z2)}")
        return Workspace(
            Z2=self.Z2[:m],
            A2_dropped=self.A2_dropped[:m],
            Z3=self.Z3[:m],
            A3=self.A3[:m],
            log_normaliser=self.log_normaliser[:m],
            delta2=self.delta2[:m],
            scratch=self.scratch[:m],
            column_sums=self.column_sums,
            grads=self.grads,
        )


def _own_workspace(workspace: Workspace | None, m: int, params: Params, A1: Array) -> Workspace:
    if workspace is not None:
        return workspace.first(m)
    return Workspace.allocate(m, params.hidden_size, np.result_type(A1, params.W1))


def forward(
    params: Params,
    A1: Array,
    activation: str,
    output: str = "softmax",
    dropout_mask: Array | None = None,
    workspace: Workspace | None = None,
) -> Cache:
    """Forward pass for a mini-batch A1 of shape (m, 784).

    ``dropout_mask`` (m, H), training only, holds r/(1 − p) with r ~ Bernoulli(1 − p):
    *inverted* dropout (Srivastava et al. 2014, §4, with the 1/(1 − p) rescaling moved
    from test time to training time), so evaluation uses θ unchanged and no mask.
    ``workspace`` (training): write into its arrays instead of fresh ones.
    """
    g, _ = ACTIVATIONS[activation]
    ws = _own_workspace(workspace, A1.shape[0], params, A1)
    Z2 = np.matmul(A1, params.W1.T, out=ws.Z2)  # (m, H)   (B1) z^(2) = θ^(1) a^(1)
    Z2 += params.b1
    A2 = g(Z2, out=Z2)  # (m, H)   (B2) a^(2) = g(z^(2)), in place: z^(2) is not needed again
    A2_seen = A2  # (m, H)   ã^(2) = a^(2) ⊙ r/(1−p) with dropout
    if dropout_mask is not None:
        A2_seen = np.multiply(A2, dropout_mask, out=ws.A2_dropped)
    Z3 = np.matmul(A2_seen, params.W2.T, out=ws.Z3)  # (m, 10)  (B3) z^(3) = θ^(2) a^(2)
    Z3 += params.b2
    log_normaliser = None  # (m,)     log Σ_k e^(z_k), the softmax's, kept for the cost
    if output == "softmax":
        log_normaliser = ws.log_normaliser
        A3 = softmax(Z3, out=ws.A3, log_normaliser=log_normaliser)  # (m, 10) (B4) a^(3) = h_θ(x)
    else:
        A3 = sigmoid(Z3, out=ws.A3)  # (m, 10)  (B4) a^(3) = h_θ(x), sigmoid outputs
    dropped = None if dropout_mask is None else A2_seen
    return Cache(A1, A2, A3, Z3, log_normaliser, mask=dropout_mask, A2_dropped=dropped)


def predict_proba(params: Params, A1: Array, activation: str, output: str = "softmax") -> Array:
    """h_θ(x) for each row of A1: (m, 10). With a sigmoid output the rows are renormalised
    to sum to one, so both outputs can be read as class probabilities."""
    A3 = forward(params, A1, activation, output).A3
    if output == "sigmoid":
        A3 /= A3.sum(axis=1, keepdims=True)
    return A3


def l2_penalty(params: Params, l2: float, n: int) -> float:
    """(λ/2n) Σ θ² over the non-bias weights."""
    squares = np.vdot(params.W1, params.W1) + np.vdot(params.W2, params.W2)
    return float(l2 / (2 * n) * squares)


def data_cost(Z3: Array, y: Labels, output: str, log_normaliser: Array | None = None) -> float:
    """The data term of J(θ), averaged over the m rows, from the raw outputs z^(3).

    softmax: −(1/m) Σ_i log a^(3)_{i, y_i}, via log-softmax so there is never a log(0).
    Given the forward pass's ``log_normaliser`` (log Σ_k e^(z_k) per row, Cache), that is
    −log a_{i, y_i} = log Σ_k e^(z_ik) − z_{i, y_i}: no second pass over z^(3).
    sigmoid: −(1/m) Σ_i Σ_k [y_ik log a_ik + (1 − y_ik) log(1 − a_ik)], the seed's
    logistic cost, via log σ(z) = −softplus(−z) and log(1 − σ(z)) = −softplus(z).
    """
    m = Z3.shape[0]
    rows = np.arange(m)
    if output == "softmax" and log_normaliser is not None:
        return float(np.subtract(log_normaliser, Z3[rows, y]).sum() / m)
    if output == "softmax":
        return float(-log_softmax(Z3)[rows, y].sum() / m)
    # Σ_k softplus(z_k) counts every class as a negative; swap the true class's
    # term for its positive form: softplus(−z) = softplus(z) − z.
    total = softplus(Z3).sum() - Z3[rows, y].sum()
    return float(total / m)


def cost(
    params: Params,
    A1: Array,
    y: Labels,
    activation: str,
    output: str = "softmax",
    l2: float = 0.0,
    n_train: int | None = None,
) -> float:
    """J(θ) on a mini-batch: data term plus (λ/2n) Σ θ² (B5)."""
    cache = forward(params, A1, activation, output)
    n = A1.shape[0] if n_train is None else n_train
    return data_cost(cache.Z3, y, output) + l2_penalty(params, l2, n)


def output_error(A3: Array, y: Labels) -> Array:
    """(B6) δ^(3) = a^(3) − y (y one-hot), written into a copy of A3.

    The identity holds for softmax with cross-entropy and for sigmoid outputs with
    the logistic cost: in both, ∂J/∂z^(3) collapses to a − y (docs/backprop.md), so
    the softmax's Jacobian is never formed: subtract 1 at each row's label.
    """
    delta3 = A3.copy()
    delta3[np.arange(A3.shape[0]), y] -= 1.0
    return delta3


def backprop(
    params: Params,
    cache: Cache,
    y: Labels,
    activation: str,
    l2: float = 0.0,
    n_train: int | None = None,
    workspace: Workspace | None = None,
    into: Accumulate | None = None,
) -> Params:
    """∂J/∂θ for every parameter block, from a forward pass's cache.

    (B6) δ^(3) = a^(3) − y
    (B7) δ^(2) = (θ^(2))ᵀ δ^(3) ⊙ g′(z^(2)), bias row of θ^(2) dropped
    (B8) ∂J/∂θ^(l) = (1/m) δ^(l+1) (a^(l))ᵀ + (λ/n) θ^(l), no λ on the bias column

    The 1/m of (B8) is applied to δ^(3) at once: (B7) is linear in δ^(3), so δ^(2)
    carries it too, and it costs a pass over (m, 10) values instead of two passes
    over the (H, 784) and (10, H) gradients. ``workspace`` (training): write into
    its arrays; the gradients returned are then ``workspace.grads``. ``into``: write
    α ∂J/∂θ + β ``into.out`` into ``into.out`` instead, and return it: the (B8) products
    take that α and β themselves (digitnet/nn/numpyblas.py), the λ terms α.
    """
    _, g_prime_times = ACTIVATIONS[activation]
    m = cache.A1.shape[0]
    n = m if n_train is None else n_train
    ws = _own_workspace(workspace, m, params, cache.A1)
    out = ws.grads if into is None else into.out

    def product(block: Array, a: Array, b: Array) -> None:
        """block ← a b, or α a b + β block when writing ``into`` (numpyblas.gemm)."""
        if into is None:
            np.matmul(a, b, out=block)
        else:
            numpyblas.gemm(block, a, b, into.alpha, into.beta)

    def bias_sum(block: Array, delta: Array) -> None:
        """block ← Σ_i δ_i (each example's bias unit a_0 = 1), or α Σ_i δ_i + β block: a sum
        over the batch takes half the time of a product with a column of ones (issue 12)."""
        if into is None:
            np.add.reduce(delta, axis=0, out=block)
            return
        sums = np.add.reduce(delta, axis=0, out=ws.column_sums[: block.size])
        block *= into.beta
        numpyblas.axpy(block, sums, into.alpha)

    l2_scale = l2 / n if into is None else into.alpha * l2 / n
    delta3 = output_error(cache.A3, y)  # (m, 10)  (B6) δ^(3), a small fresh array
    delta3 *= 1.0 / m  # (m, 10)  δ^(3)/m, the (1/m) of (B8)
    # With dropout, layer 3 saw ã^(2) = a^(2) ⊙ r/(1−p): it takes a^(2)'s place in (B8),
    # and ∂ã^(2)/∂z^(2) = r/(1−p) ⊙ g′(z^(2)) adds the mask to (B7).
    A2_seen = cache.A2 if cache.A2_dropped is None else cache.A2_dropped
    product(out.W2, delta3.T, A2_seen)  # (10, H)  (B8) (1/m) Σ_i δ^(3) (a^(2))ᵀ
    if l2:
        numpyblas.axpy(out.W2, params.W2, l2_scale)  # (10, H)  (B8) + (λ/n) θ^(2)
    bias_sum(out.b2, delta3)  # (10,)  (B8) bias: Σ_i δ^(3) · a^(2)_0, a_0 = 1, no λ
    delta2 = np.matmul(delta3, params.W2, out=ws.delta2)  # (m, H) (B7) (θ^(2))ᵀ δ^(3), no bias row
    if cache.mask is not None:
        delta2 *= cache.mask  # (B7) with dropout: ⊙ r/(1−p)
    g_prime_times(cache.A2, delta2, ws.scratch)  # (m, H)   (B7) ⊙ g′(z^(2))
    product(out.W1, delta2.T, cache.A1)  # (H, 784) (B8) (1/m) Σ_i δ^(2) (a^(1))ᵀ
    if l2:
        numpyblas.axpy(out.W1, params.W1, l2_scale)  # (H, 784) (B8) + (λ/n) θ^(1)
    bias_sum(out.b1, delta2)  # (H,)   (B8) bias: Σ_i δ^(2) · a^(1)_0, no λ
    return out

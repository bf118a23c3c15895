"""The network diagram, drawn as the derivation (docs/backprop.md) sees it.

Three layers — a^(1) = x (784 units plus the bias unit), z^(2) → a^(2) (H units
plus bias), z^(3) → a^(3) = h_θ(x) (10 units) — joined by θ^(1) (H × 785) and
θ^(2) (10 × (H+1)), with the forward pass on top and the error terms δ^(3),
δ^(2) flowing back underneath beside the gradient formulas (B6)–(B8).

All labels are plain Unicode text (θ⁽¹⁾, not mathtext) and the SVG keeps text
as text (``svg.fonttype = 'none'``), so the labels can be read — and tested —
from the SVG file. matplotlib is imported inside ``draw`` with the Agg backend:
importing this module costs nothing and no display is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digitnet.atomic import atomic_write
from digitnet.errors import DigitnetError
from digitnet.vocabulary import N_CLASSES, N_INPUTS

FORMATS = (".svg", ".png")

# colours: forward pass blue, backward pass red, bias units amber
FORWARD = "#2b6cb0"
BACKWARD = "#c0392b"
BIAS_FILL = "#fdebc8"
BIAS_EDGE = "#d69e2e"
INK = "#1a202c"
MUTED = "#4a5568"
LAYER_FILLS = ("#edf2f7", "#e6f0fa", "#e9f5ec")
UNIT_RADIUS = 0.3

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")


def sub(text: str | int) -> str:
    """Digits as Unicode subscripts: sub(784) == '₇₈₄'."""
    return str(text).translate(_SUB)


def sup(text: str | int) -> str:
    """Digits and parentheses as Unicode superscripts: sup('(1)') == '⁽¹⁾'."""
    return str(text).translate(_SUP)


THETA1, THETA2 = "θ" + sup("(1)"), "θ" + sup("(2)")
A1, A2, A3 = "a" + sup("(1)"), "a" + sup("(2)"), "a" + sup("(3)")
Z2, Z3 = "z" + sup("(2)"), "z" + sup("(3)")
DELTA2, DELTA3 = "δ" + sup("(2)"), "δ" + sup("(3)")


@dataclass(frozen=True)
class NetworkShape:
    """What the diagram needs to know about a network."""

    hidden_size: int
    activation: str = "sigmoid"
    output: str = "softmax"
    l2: float = 0.0

    @property
    def theta1_shape(self) -> tuple[int, int]:
        return (self.hidden_size, N_INPUTS + 1)  # H × 785: one column per input plus the bias

    @property
    def theta2_shape(self) -> tuple[int, int]:
        return (N_CLASSES, self.hidden_size + 1)  # 10 × (H+1)


def shape_text(shape: tuple[int, ...]) -> str:
    return " × ".join(str(n) for n in shape)


def check_path(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise DigitnetError(
            f"cannot write a diagram as {path.name!r} — name the output file .svg or .png"
        )


def draw(net: NetworkShape, path: Path) -> None:
    """Draw the diagram for ``net`` into ``path`` (.svg or .png), atomically."""
    check_path(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # hashsalt gives stable clip-path ids: docs/diagram.svg changes only when the drawing does.
    with plt.rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": "digitnet", "font.family": "DejaVu Sans"}
    ):
        fig = _figure(net, plt)
        try:
            fmt = path.suffix.lower().lstrip(".")
            with atomic_write(path) as handle:
                fig.savefig(handle, format=fmt, dpi=130, metadata=_metadata(fmt))
        finally:
            plt.close(fig)


def _metadata(fmt: str) -> dict[str, Any]:
    # A fixed date keeps the SVG byte-identical between runs (docs/diagram.svg is committed).
    return {"Date": None} if fmt == "svg" else {}


def _figure(net: NetworkShape, plt: Any) -> Any:
    from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

    hidden = net.hidden_size
    fig = plt.figure(figsize=(14, 8.2))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 17)
    ax.set_ylim(0, 10)
    ax.set_aspect("equal")
    ax.axis("off")

    xs = (2.6, 8.5, 14.4)  # layer columns
    top, bottom = 6.9, 2.9  # first and last unit

    def column(n_units: int, with_bias: bool) -> list[tuple[float, str]]:
        """y of each drawn unit, top to bottom: [bias], 1, 2, 3, ⋮, n."""
        # Up to four units are all drawn; more are drawn as 1, 2, 3, ⋮, n.
        units = [str(i) for i in range(1, n_units + 1)] if n_units <= 4 else []
        rows = (["bias"] if with_bias else []) + (units or ["1", "2", "3", "dots", "last"])
        step = (top - bottom) / (5 if with_bias else 4)  # the spacing of a full column
        offset = 0.0 if with_bias else step / 2
        return [
            (top - offset - i * step * (1 if with_bias else 0.85), r) for i, r in enumerate(rows)
        ]

    layers = [
        (column(N_INPUTS, True), "x", N_INPUTS),
        (column(hidden, True), "a", hidden),
        (column(N_CLASSES, False), "h", N_CLASSES),
    ]

    # Layer bands behind the units.
    for x, fill, (units, _, _) in zip(xs, LAYER_FILLS, layers, strict=True):
        y_hi, y_lo = units[0][0] + 0.55, units[-1][0] - 0.55
        ax.add_patch(
            FancyBboxPatch(
                (x - 0.7, y_lo),
                1.4,
                y_hi - y_lo,
                boxstyle="round,pad=0.05,rounding_size=0.5",
                fc=fill,
                ec="#cbd5e0",
                lw=1,
                zorder=0,
            )
        )

    # Edges: every drawn unit of layer l (bias included) to every non-bias unit of l+1.
    for (x0, (src, _, _)), (x1, (dst, _, _)) in zip(
        zip(xs[:-1], layers[:-1], strict=True), zip(xs[1:], layers[1:], strict=True), strict=True
    ):
        for y0, r0 in src:
            if r0 == "dots":
                continue
            for y1, r1 in dst:
                if r1 in ("dots", "bias"):
                    continue
                ax.plot(
                    [x0 + UNIT_RADIUS, x1 - UNIT_RADIUS],
                    [y0, y1],
                    color=BIAS_EDGE if r0 == "bias" else "#a0aec0",
                    lw=0.7,
                    alpha=0.55,
                    ls=(0, (3, 2)) if r0 == "bias" else "-",
                    zorder=1,
                )

    # Units.
    for x, (units, letter, n) in zip(xs, layers, strict=True):
        for y, row in units:
            if row == "dots":
                ax.text(x, y, "⋮", ha="center", va="center", fontsize=20, color=MUTED)
                continue
            is_bias = row == "bias"
            ax.add_patch(
                Circle(
                    (x, y),
                    UNIT_RADIUS,
                    fc=BIAS_FILL if is_bias else "white",
                    ec=BIAS_EDGE if is_bias else INK,
                    lw=1.3,
                    zorder=3,
                )
            )
            index = str(n) if row == "last" else row
            label = "+1" if is_bias else f"{letter}{sub(index)}"
            size = 9 if len(label) <= 3 else 7.5
            ax.text(x, y, label, ha="center", va="center", fontsize=size, color=INK, zorder=4)

    # Layer headers.
    g = net.activation
    heads = [
        ("Layer 1 · input", f"{A1} = x", f"{N_INPUTS} units + bias"),
        (f"Layer 2 · hidden ({g})", f"{Z2} → {A2} = g({Z2})   (B2)", f"{hidden} units + bias"),
        (
            f"Layer 3 · output ({net.output})",
            f"{Z3} → {A3} = h_θ(x)   (B4)",
            f"{N_CLASSES} units",
        ),
    ]
    # gid names the SVG group holding each label, so tests can find it in the file.
    for layer, x, (title, formula, count) in zip((1, 2, 3), xs, heads, strict=True):
        ax.text(x, 8.55, title, ha="center", va="bottom", fontsize=12.5, weight="bold", color=INK)
        ax.text(x, 8.2, formula, ha="center", va="bottom", fontsize=11.5, color=FORWARD)
        ax.text(
            x,
            7.85,
            count,
            ha="center",
            va="bottom",
            fontsize=10.5,
            color=MUTED,
            gid=f"layer{layer}-units",
        )

    # The parameter matrices, on the edges between layers.
    mids = ((xs[0] + xs[1]) / 2, (xs[1] + xs[2]) / 2)
    thetas = [
        (
            THETA1,
            net.theta1_shape,
            f"W1 {hidden} × {N_INPUTS} | b1 {hidden}",
            f"{Z2} = {THETA1} {A1}   (B1)",
        ),
        (
            THETA2,
            net.theta2_shape,
            f"W2 {N_CLASSES} × {hidden} | b2 {N_CLASSES}",
            f"{Z3} = {THETA2} {A2}   (B3)",
        ),
    ]
    box = {"boxstyle": "round,pad=0.35", "fc": "white", "ec": "#a0aec0", "lw": 1}
    for layer, mx, (name, shape, stored, forward_eq) in zip((1, 2), mids, thetas, strict=True):
        ax.text(
            mx,
            5.35,
            f"{name}\n{shape_text(shape)}",
            ha="center",
            va="center",
            fontsize=13,
            color=INK,
            bbox=box,
            zorder=5,
            linespacing=1.4,
            gid=f"theta{layer}-shape",
        )
        ax.text(
            mx,
            4.45,
            stored,
            ha="center",
            va="center",
            fontsize=8.5,
            color=MUTED,
            zorder=5,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
        )
        # forward arrow with its equation, above the fan of edges
        ax.add_patch(
            FancyArrowPatch(
                (mx - 1.6, 7.45),
                (mx + 1.6, 7.45),
                arrowstyle="-|>",
                mutation_scale=22,
                color=FORWARD,
                lw=2,
                zorder=5,
            )
        )
        ax.text(mx, 7.55, forward_eq, ha="center", va="bottom", fontsize=11, color=FORWARD)

    # Cost, right of the output layer.
    cost_name = "cross-entropy" if net.output == "softmax" else "logistic cost"
    ax.text(
        16.05,
        5.0,
        f"J(θ)   (B5)\n{cost_name}\n+ (λ/2n) Σ θ²\n\ny: one-hot label",
        ha="center",
        va="center",
        fontsize=9.5,
        color=INK,
        linespacing=1.35,
        bbox={"boxstyle": "round,pad=0.4", "fc": "#fff5f5", "ec": BACKWARD, "lw": 1},
    )
    ax.add_patch(
        FancyArrowPatch(
            (xs[2] + 0.75, 5.0),
            (15.25, 5.0),
            arrowstyle="-|>",
            color=FORWARD,
            lw=1.5,
            mutation_scale=18,
        )
    )

    # Backward pass: δ^(3) at the output, δ^(2) at the hidden layer, gradients under θ.
    yb = 1.75
    ax.text(
        xs[2],
        yb,
        f"{DELTA3} = {A3} − y",
        ha="center",
        va="center",
        fontsize=12,
        color=BACKWARD,
        weight="bold",
    )
    ax.text(
        xs[2], yb - 0.45, f"{N_CLASSES}   (B6)", ha="center", va="center", fontsize=9.5, color=MUTED
    )
    ax.text(
        xs[1],
        yb,
        f"{DELTA2} = ({THETA2})ᵀ {DELTA3} ⊙ g′({Z2})",
        ha="center",
        va="center",
        fontsize=12,
        color=BACKWARD,
        weight="bold",
    )
    ax.text(
        xs[1],
        yb - 0.45,
        f"{hidden}, bias row of {THETA2} dropped   (B7)",
        ha="center",
        va="center",
        fontsize=9.5,
        color=MUTED,
    )
    ax.text(
        xs[0],
        yb,
        "(no δ for the input)",
        ha="center",
        va="center",
        fontsize=10,
        color=MUTED,
        style="italic",
    )
    for x_from, x_to in ((xs[2] - 1.35, xs[1] + 2.25), (xs[1] - 2.25, xs[0] + 1.2)):
        ax.add_patch(
            FancyArrowPatch(
                (x_from, yb),
                (x_to, yb),
                arrowstyle="-|>",
                mutation_scale=22,
                color=BACKWARD,
                lw=2,
            )
        )
    grads = [
        (mids[0], f"∂J/∂{THETA1} = (1/m) {DELTA2} ({A1})ᵀ + (λ/n) {THETA1}", net.theta1_shape),
        (mids[1], f"∂J/∂{THETA2} = (1/m) {DELTA3} ({A2})ᵀ + (λ/n) {THETA2}", net.theta2_shape),
    ]
    for layer, (mx, formula, shape) in zip((1, 2), grads, strict=True):
        ax.text(mx, 0.75, formula, ha="center", va="center", fontsize=10.5, color=BACKWARD)
        ax.text(
            mx,
            0.35,
            f"{shape_text(shape)}   (B8)",
            ha="center",
            va="center",
            fontsize=9,
            color=MUTED,
            gid=f"grad-theta{layer}-shape",
        )
    # dotted links from each δ to the gradient it feeds
    for x_delta, mx in ((xs[2] - 0.2, mids[1] + 0.3), (xs[1] - 0.2, mids[0] + 0.3)):
        ax.add_patch(
            FancyArrowPatch(
                (x_delta, yb - 0.7),
                (mx, 1.0),
                arrowstyle="-|>",
                color=BACKWARD,
                lw=1,
                ls=(0, (2, 2)),
                mutation_scale=14,
                alpha=0.8,
            )
        )
    ax.text(
        0.25,
        yb + 0.55,
        "backward pass",
        ha="left",
        va="center",
        fontsize=11,
        color=BACKWARD,
        weight="bold",
    )
    ax.text(
        0.25,
        7.45,
        "forward pass",
        ha="left",
        va="center",
        fontsize=11,
        color=FORWARD,
        weight="bold",
    )

    ax.text(
        0.25,
        0.05,
        "+1: bias unit; its dashed weights are the bias column b of θ",
        ha="left",
        va="bottom",
        fontsize=8.5,
        color=BIAS_EDGE,
    )

    # Title and footer.
    ax.text(
        8.5,
        9.45,
        f"digitnet: the 784-{hidden}-10 network",
        ha="center",
        va="center",
        fontsize=16,
        weight="bold",
        color=INK,
    )
    ax.text(
        16.85,
        0.05,
        f"g = {net.activation} · h_θ = {net.output} · λ = {net.l2:g} · no λ on bias columns",
        ha="right",
        va="bottom",
        fontsize=8.5,
        color=MUTED,
    )
    return fig

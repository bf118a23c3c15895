"""matplotlib on demand: the Agg backend (no display), a figure written as PNG atomically.

matplotlib is imported on first use, so importing a module that draws is free and
``digitnet predict`` never loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from digitnet.atomic import atomic_write

DPI = 110


def pyplot() -> Any:
    """matplotlib.pyplot with the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path) -> None:
    """Write ``fig`` to ``path`` as PNG (atomically) and free it."""
    plt = pyplot()
    try:
        with atomic_write(path) as handle:
            fig.savefig(handle, format="png", dpi=DPI, bbox_inches="tight")
    finally:
        plt.close(fig)

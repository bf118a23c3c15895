"""The package's shape, as ARCHITECTURE.md draws it: layers, no cycles, a public surface.

Each module is imported alone in a fresh interpreter (so an import that only works
because another module was imported first shows up), and every ``digitnet`` import
in the source is checked against the layer order: a module may import its own layer
or a lower one, never a higher one. Imports under ``if TYPE_CHECKING:`` are type
hints only and do not count.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import digitnet

PACKAGE = Path(digitnet.__file__).parent

#: lowest first; a module's layer is the first entry that is a prefix of its name
LAYERS: list[tuple[str, ...]] = [
    ("digitnet.errors", "digitnet.atomic", "digitnet.vocabulary", "digitnet.figures"),
    ("digitnet.nn",),
    ("digitnet.data",),
    ("digitnet.config", "digitnet.checkpoint"),
    ("digitnet.training",),
    ("digitnet.images",),
    ("digitnet.insight",),
    ("digitnet.onnx_export",),
    ("digitnet.api",),
    ("digitnet.serve",),
    ("digitnet.tune",),
    ("digitnet.commands",),
    ("digitnet.cli", "digitnet.__main__"),
]
#: the package's own __init__ exports the API lazily and may name any layer
TOP = "digitnet"
#: the biggest module allowed, in lines, unless ARCHITECTURE.md names it as one idea
LINE_BUDGET = 400


def module_names() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def layer_of(name: str) -> int:
    for index, prefixes in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{name} is in no layer: add it to LAYERS and ARCHITECTURE.md")


def digitnet_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every runtime import of a digitnet module in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(n) for child in node.body for n in ast.walk(child))
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == TOP:
                found += [(node.lineno, f"{TOP}.{a.name}") for a in node.names]
            elif node.module.startswith(TOP + "."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith(TOP + ".")]
    return found


def source_of(name: str) -> Path:
    relative = Path(*name.split(".")[1:])
    package = PACKAGE / relative / "__init__.py"
    return package if package.exists() else (PACKAGE / relative).with_suffix(".py")


@pytest.mark.parametrize("name", [n for n in module_names() if n != TOP])
def test_no_module_imports_a_higher_layer(name: str) -> None:
    mine = layer_of(name)
    for line, imported in digitnet_imports(source_of(name)):
        if imported == f"{TOP}.__version__":
            continue
        target = layer_of(imported) if imported != TOP else mine
        assert target <= mine, f"{name}:{line} imports {imported}, a higher layer"


def test_every_module_imports_alone() -> None:
    """One fresh interpreter per module would take seconds each; one interpreter per
    module *group* is enough to catch cycles, which fail on first import whatever else
    is loaded, as long as nothing of the package was imported before."""
    script = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'digitnet']:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
    )
    names = [n for n in module_names() if n != "digitnet.__main__"]  # __main__ runs the CLI
    done = subprocess.run(
        [sys.executable, "-c", script, *names], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_layers_are_checked_against_a_real_violation(tmp_path: Path) -> None:
    """The checker itself: an upward import is found, a TYPE_CHECKING one is not."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from typing import TYPE_CHECKING\n"
        "from digitnet.cli import main\n"
        "if TYPE_CHECKING:\n"
        "    from digitnet.api import Model\n"
    )
    assert digitnet_imports(bad) == [(2, "digitnet.cli")]
    assert layer_of("digitnet.cli") > layer_of("digitnet.nn.network")


def test_public_surface_is_exactly_what_init_exports() -> None:
    exported = set(digitnet.__all__)
    assert exported == {
        "DEFAULT_CHECKPOINT",
        "Architecture",
        "Config",
        "DigitReading",
        "DigitnetError",
        "EpochRecord",
        "Evaluation",
        "Model",
        "Reading",
        "TrainingResult",
        "__version__",
        "bundled_model",
        "evaluate",
        "load_model",
        "train",
    }
    for name in exported:
        assert getattr(digitnet, name) is not None
    with pytest.raises(AttributeError):
        _ = digitnet.not_a_name  # type: ignore[attr-defined]


def test_modules_stay_within_the_line_budget() -> None:
    """Modules over the budget must be named in ARCHITECTURE.md as one idea, with why."""
    architecture = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    over = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        relative = path.relative_to(PACKAGE.parent).as_posix()
        if lines > LINE_BUDGET and f"`{relative}`" not in architecture:
            over.append(f"{relative} ({lines} lines)")
    assert not over, "over the line budget and not explained in ARCHITECTURE.md: " + ", ".join(over)


def test_no_private_names_cross_modules() -> None:
    """Scripts, benchmarks, the CLI and the library import public names only."""
    root = PACKAGE.parent
    offenders = []
    for folder in ("digitnet", "scripts", "benchmarks"):
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(TOP):
                    offenders += [
                        f"{path.relative_to(root)}:{node.lineno} {a.name}"
                        for a in node.names
                        if a.name.startswith("_") and a.name != "__version__"
                    ]
    assert not offenders, offenders

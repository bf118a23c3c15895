"""Nothing in the project can run code hidden in a file.

Scans the syntax tree (not the text) of every Python file in the repository for
pickle-family imports, ``np.load(..., allow_pickle=<anything but False>)``,
``yaml.load`` without a safe loader (and the unsafe yaml entry points),
``eval`` and ``exec``. The scanner is itself tested on snippets that break each
rule, so a scan that finds nothing means something.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".venv", "venv", ".git", "build", "dist", "node_modules", ".mypy_cache"}
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "shelve", "marshal", "jsonpickle"}
UNSAFE_YAML = {"unsafe_load", "unsafe_load_all", "full_load", "full_load_all"}
UNSAFE_YAML_LOADERS = {"Loader", "UnsafeLoader", "FullLoader", "CLoader", "CFullLoader"}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}


def _name(node: ast.AST) -> str:
    """Dotted name of a Name/Attribute chain ("np.load"), else ""."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def _safe_loader_subclasses(tree: ast.AST) -> set[str]:
    """Classes in this file that derive from a safe yaml loader."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = {_name(b).rsplit(".", 1)[-1] for b in node.bases}
            if bases & (SAFE_YAML_LOADERS | found):
                found.add(node.name)
    return found


def scan(source: str, filename: str = "<snippet>") -> list[str]:
    """Every unsafe construct in ``source``, as "file:line: what"."""
    tree = ast.parse(source, filename)
    safe_loaders = SAFE_YAML_LOADERS | _safe_loader_subclasses(tree)
    problems = []

    def flag(node: ast.AST, what: str) -> None:
        problems.append(f"{filename}:{getattr(node, 'lineno', '?')}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in UNSAFE_MODULES:
                    flag(node, f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = (node.module or "").split(".")[0]
            if module in UNSAFE_MODULES:
                flag(node, f"from {node.module} import ...")
            if module == "yaml" and {a.name for a in node.names} & (
                UNSAFE_YAML | UNSAFE_YAML_LOADERS | {"load", "load_all"}
            ):
                flag(node, "from yaml import an unsafe loader")
        elif isinstance(node, ast.Attribute) and _name(node.value) == "yaml":
            if node.attr in UNSAFE_YAML | UNSAFE_YAML_LOADERS:
                flag(node, f"yaml.{node.attr}")
        elif isinstance(node, ast.Call):
            called = _name(node.func)
            keywords = {k.arg: k.value for k in node.keywords}
            if called in ("eval", "exec", "builtins.eval", "builtins.exec"):
                flag(node, f"{called}()")
            elif called.endswith(".load") and called.split(".")[0] in ("np", "numpy"):
                value = keywords.get("allow_pickle")
                if value is not None and not (
                    isinstance(value, ast.Constant) and value.value is False
                ):
                    flag(node, f"{called}(allow_pickle=...) not literally False")
            elif called in ("yaml.load", "yaml.load_all"):
                loader = keywords.get("Loader")
                if loader is None and len(node.args) >= 2:
                    loader = node.args[1]
                loader_name = _name(loader).rsplit(".", 1)[-1] if loader is not None else ""
                if loader_name not in safe_loaders:
                    flag(node, f"{called}() without a safe Loader")
    return problems


def project_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*.py"):
        if not SKIP_DIRS.intersection(path.relative_to(ROOT).parts):
            files.append(path)
    return sorted(files)


def test_the_project_has_no_unsafe_calls() -> None:
    files = project_files()
    assert ROOT / "digitnet" / "checkpoint.py" in files
    assert ROOT / "digitnet" / "config.py" in files
    problems = [
        p for f in files for p in scan(f.read_text(encoding="utf-8"), str(f.relative_to(ROOT)))
    ]
    assert problems == []


@pytest.mark.parametrize(
    "snippet",
    [
        "import pickle",
        "import pickle as p",
        "from pickle import loads",
        "import shelve",
        "import marshal",
        "from _pickle import load",
        "eval('1+1')",
        "exec('x = 1')",
        "import builtins\nbuiltins.eval('1')",
        "import numpy as np\nnp.load('x.npz', allow_pickle=True)",
        "import numpy\nnumpy.load('x.npz', allow_pickle=flag)",
        "import yaml\nyaml.load(text)",
        "import yaml\nyaml.load(text, Loader=yaml.Loader)",
        "import yaml\nyaml.load(text, yaml.FullLoader)",
        "import yaml\nyaml.unsafe_load(text)",
        "import yaml\nyaml.full_load(text)",
        "import yaml\nyaml.load_all(text, Loader=yaml.UnsafeLoader)",
        "from yaml import load\nload(text)",
        "from yaml import Loader",
        "import yaml\nclass L(yaml.Loader): pass\nyaml.load(text, Loader=L)",
    ],
)
def test_scanner_catches(snippet: str) -> None:
    assert scan(snippet), snippet


@pytest.mark.parametrize(
    "snippet",
    [
        "import numpy as np\nnp.load('x.npz', allow_pickle=False)",
        "import numpy as np\nnp.load('x.npz')",
        "import yaml\nyaml.safe_load(text)",
        "import yaml\nyaml.load(text, Loader=yaml.SafeLoader)",
        "import yaml\nclass L(yaml.SafeLoader): pass\nclass M(L): pass\nyaml.load(text, Loader=M)",
        "text = 'import pickle; eval(x)'",
        "model.eval()",
        "json.load(f)",
    ],
)
def test_scanner_allows(snippet: str) -> None:
    assert scan(snippet) == []

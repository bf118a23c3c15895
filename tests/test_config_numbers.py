"""Numbers in scientific notation are floats in a config file, as on the command line.

PyYAML follows YAML 1.1, which reads ``1e-2`` (no dot) as the string "1e-2"; a user
writing ``learning_rate: 1e-2`` means 0.01 (issue 15, item 1).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from digitnet import config
from digitnet.errors import ConfigError

FLOAT_KEYS = [f.name for f in dataclasses.fields(config.Config) if f.type == "float"]


@pytest.mark.parametrize(
    ("written", "value"),
    [("1e-2", 0.01), ("5E-4", 5e-4), ("1.5e+1", 15.0), ("+2e0", 2.0), (".5e-1", 0.05)],
)
def test_scientific_notation_reads_as_a_float(tmp_path: Path, written: str, value: float) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(f"learning_rate: {written}\n", encoding="utf-8")
    assert config.load(path).learning_rate == value


def test_every_float_key_accepts_scientific_notation(tmp_path: Path) -> None:
    # Each float key gets a value valid for its range, written as 5e-1 (0.5).
    path = tmp_path / "run.yaml"
    path.write_text("".join(f"{key}: 5e-1\n" for key in FLOAT_KEYS), encoding="utf-8")
    loaded = config.load(path)
    assert FLOAT_KEYS  # the loop below checks something
    for key in FLOAT_KEYS:
        assert getattr(loaded, key) == 0.5, key


def test_scientific_notation_is_still_checked_for_range(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("momentum: 2e0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"momentum = 2.0 must be in \[0, 1\)"):
        config.load(path)


@pytest.mark.parametrize("written", ["1e", "e-2", "1e-2x", "ten"])
def test_other_strings_are_still_refused_where_a_float_is_expected(
    tmp_path: Path, written: str
) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(f"learning_rate: {written}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="should be float"):
        config.load(path)


def test_int_keys_do_not_take_scientific_notation(tmp_path: Path) -> None:
    # 1e2 is a float; an epoch count must be written as an integer.
    path = tmp_path / "run.yaml"
    path.write_text("epochs: 1e2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="epochs = '1e2' should be int"):
        config.load(path)

"""Config files a user (or an attacker) might hand to `--config`.

No tag may construct an object, aliases cannot blow up memory, oversized files
are refused before parsing, and every type or range error names the key, the
value and the file in one line.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from digitnet import config
from digitnet.data import registry
from digitnet.errors import ConfigError


def write(folder: Path, text: str, name: str = "run.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# Each level repeats the one before nine times: *i stands for 9^8 ≈ 43 million
# strings. Parsed with aliases and printed, it would never finish.
BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
hidden_size: *h
"""


def test_alias_bomb_is_refused_quickly_and_cheaply(tmp_path: Path) -> None:
    path = write(tmp_path, BILLION_LAUGHS)
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as info:
            config.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(info.value) == (
        f"{path} line 2: YAML aliases (alias *a) are not allowed in a config — write the value out"
    )
    assert peak < 5_000_000  # bytes: nothing was expanded


def test_even_a_harmless_alias_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "hidden_size: &h 30\nepochs: *h\n")
    with pytest.raises(ConfigError, match="line 2: YAML aliases"):
        config.load(path)


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, "# padding\n" * 7000 + "epochs: 3\n")  # 70 kB
    with pytest.raises(ConfigError, match=r"is over 64 KiB, too large for a config file"):
        config.load(path)


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system",
        "!!python/object/new:pathlib.Path",
        "!!python/name:os.system",
        "!!python/module:os",
    ],
)
def test_no_tag_constructs_an_object(tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "pwned"
    path = write(tmp_path, f"seed: {tag} ['touch {marker}']\n")
    # Said as what it is, not as a syntax error to fix (issue 15, item 10).
    with pytest.raises(ConfigError, match=r"line 1: YAML tags \(!!python/.*\) are not allowed"):
        config.load(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hidden_size: many\n", "run.yaml: hidden_size = 'many' should be int — fix the value"),
        ("hidden_size: 0\n", "run.yaml: hidden_size = 0 must be at least 1 — fix the value"),
        ("learning_rate: -1\n", "run.yaml: learning_rate = -1.0 must be greater than 0"),
        ("momentum: 1.5\n", "run.yaml: momentum = 1.5 must be in [0, 1)"),
        ("epochs: true\n", "run.yaml: epochs = True should be int"),
        ("l2: .nan\n", "run.yaml: l2 = nan must be a finite number"),
        ("learning_rate: .inf\n", "run.yaml: learning_rate = inf must be a finite number"),
        ("dataset: emnist\n", "dataset = 'emnist' must be one of mnist, fashion-mnist, kmnist"),
        ("batch_size: [" + "1, " * 200 + "1]\n", "batch_size = [1, 1, 1"),
    ],
)
def test_type_and_range_errors_name_key_value_and_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    text_of_error = str(info.value)
    assert str(path) in text_of_error
    assert message in text_of_error
    assert "\n" not in text_of_error
    assert len(text_of_error) < len(str(path)) + 160  # long values are cut short


def test_unknown_key_suggests_the_nearest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key 'hiden_size' — did you mean 'hidden_size'"):
        config.load(write(tmp_path, "hiden_size: 30\n"))


def test_directory_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        config.load(tmp_path)
    binary = tmp_path / "model.npz"
    binary.write_bytes(b"PK\x03\x04\xff\xfe\x00binary")
    with pytest.raises(ConfigError, match="cannot read config file"):
        config.load(binary)


@pytest.mark.parametrize("name", sorted(registry.DATASETS))
def test_every_registered_dataset_is_a_valid_choice(tmp_path: Path, name: str) -> None:
    assert config.load(write(tmp_path, f"dataset: {name}\n")).dataset == name
    assert config.load(None, {"dataset": name}).dataset == name

"""Config precedence (defaults < file < flags) and validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from digitnet import config
from digitnet.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def test_defaults_without_file_or_flags():
    assert config.load(environ={}) == config.Config()


def test_data_dir_variable_overrides_default_but_not_file_or_flag(tmp_path):
    env = {"DIGITNET_DATA_DIR": "/srv/mnist"}
    assert config.load(environ=env).data_dir == "/srv/mnist"
    path = write(tmp_path, "data_dir: from-file\n")
    assert config.load(path, environ=env).data_dir == "from-file"
    assert config.load(path, {"data_dir": "from-flag"}, environ=env).data_dir == "from-flag"


def test_default_yaml_marks_every_value_that_differs_from_the_builtin_defaults():
    """configs/default.yaml lists every key; a value that differs from the built-in default
    says so on its line ("(built-in: X)"), and a line that says so does differ."""
    import re

    loaded = config.load(REPO / "configs" / "default.yaml", environ={}).to_dict()
    builtin = config.Config().to_dict()
    text = (REPO / "configs" / "default.yaml").read_text()
    for key, value in loaded.items():
        line = re.search(rf"^{key}:.*$", text, flags=re.MULTILINE)
        if line is None:  # data_dir: commented out, so the built-in/env value applies
            assert value == builtin[key]
            continue
        marked = re.search(r"\(built-in: ([^)]*)\)", line.group(0))
        if value == builtin[key]:
            assert marked is None, key
        else:
            assert marked is not None, f"{key} differs from the built-in default, unmarked"
            assert marked.group(1) == str(builtin[key]).removesuffix(".0"), key


def test_every_key_is_documented_in_default_yaml():
    text = (REPO / "configs" / "default.yaml").read_text()
    for key in config.Config().to_dict():
        # data_dir is documented but commented out, so $DIGITNET_DATA_DIR can apply
        assert f"\n{key}:" in text or f"\n# {key}:" in text, key


def test_file_overrides_defaults_and_flags_override_file(tmp_path):
    path = write(tmp_path, "hidden_size: 64\nlearning_rate: 0.5\nseed: 3\n")
    loaded = config.load(path, {"learning_rate": 0.01, "seed": None})
    assert loaded.hidden_size == 64  # from the file
    assert loaded.learning_rate == 0.01  # flag beats file
    assert loaded.seed == 3  # an unset flag (None) leaves the file's value
    assert loaded.epochs == config.Config().epochs  # default


def test_int_accepted_for_float_key(tmp_path):
    assert config.load(write(tmp_path, "l2: 1\n")).l2 == 1.0


def test_unknown_key_names_key_file_and_suggests(tmp_path):
    path = write(tmp_path, "hidden_sise: 64\n")
    with pytest.raises(ConfigError) as info:
        config.load(path)
    message = str(info.value)
    assert "hidden_sise" in message
    assert str(path) in message
    assert "did you mean 'hidden_size'" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("hidden_size: 0\n", "hidden_size"),
        ("hidden_size: big\n", "hidden_size"),
        ("hidden_size: 1.5\n", "hidden_size"),
        ("learning_rate: -1\n", "learning_rate"),
        ("momentum: 1.0\n", "momentum"),
        ("activation: softsign\n", "activation"),
        ("epochs: true\n", "epochs"),
        ("validation_size: 60000\n", "validation_size"),
    ],
)
def test_bad_values_name_key_and_file(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert key in str(info.value)
    assert str(path) in str(info.value)


def test_flag_errors_say_command_line():
    with pytest.raises(ConfigError, match="command line"):
        config.load(None, {"hidden_size": 0})


@pytest.mark.parametrize("text", ["[1, 2]\n", "hidden_size: [\n", "just text\n"])
def test_not_a_mapping_or_bad_yaml(tmp_path, text):
    with pytest.raises(ConfigError, match=r"run\.yaml"):
        config.load(write(tmp_path, text))


def test_yaml_tags_do_not_construct_objects(tmp_path):
    path = write(tmp_path, "seed: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError):
        config.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.yaml")


def test_empty_file_means_defaults(tmp_path):
    assert config.load(write(tmp_path, "# nothing\n"), environ={}) == config.Config()

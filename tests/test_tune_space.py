"""The search space file: ranges, choices, and one-line errors with "did you mean"."""

from __future__ import annotations

import pytest

from digitnet.config import Config
from digitnet.errors import ConfigError
from digitnet.tune.space import Choices, Range, load, parse


class FakeTrial:
    """Records what a space asks for and answers with the low end / first choice."""

    def __init__(self):
        self.asked = []

    def suggest_int(self, name, low, high, *, step=1, log=False):
        self.asked.append(("int", name, low, high, step, log))
        return low

    def suggest_float(self, name, low, high, *, step=None, log=False):
        self.asked.append(("float", name, low, high, step, log))
        return low

    def suggest_categorical(self, name, choices):
        self.asked.append(("categorical", name, tuple(choices)))
        return choices[0]


def test_ranges_take_their_type_from_the_config_key():
    space = parse(
        {
            "hidden_size": {"low": 16, "high": 256, "log": True},
            "l2": {"low": 0.01, "high": 10, "log": True},
            "learning_rate": {"low": 0.05, "high": 0.5, "step": 0.05},
            "batch_size": {"low": 50, "high": 200, "step": 50},
            "activation": ["relu", "tanh"],
        },
        Config(),
        "space.yaml",
    )
    trial = FakeTrial()
    values = space.suggest(trial)
    assert trial.asked == [
        ("int", "hidden_size", 16, 256, 1, True),
        ("float", "l2", 0.01, 10.0, None, True),
        ("float", "learning_rate", 0.05, 0.5, 0.05, False),
        ("int", "batch_size", 50, 200, 50, False),
        ("categorical", "activation", ("relu", "tanh")),
    ]
    assert values == {
        "hidden_size": 16,
        "l2": 0.01,
        "learning_rate": 0.05,
        "batch_size": 50,
        "activation": "relu",
    }
    assert isinstance(space.params[0], Range)
    assert space.params[0].kind is int
    assert isinstance(space.params[4], Choices)


def test_round_trip_through_to_dict():
    raw = {"hidden_size": {"low": 16, "high": 64}, "l2": {"low": 0.1, "high": 3.0, "log": True}}
    space = parse(raw, Config(), "a")
    assert parse(space.to_dict(), Config(), "b") == space


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"hidden_szie": [10, 20]}, "unknown key 'hidden_szie' — did you mean 'hidden_size'?"),
        ({"l2": {"low": 1.0, "hihg": 2.0}}, "unknown field 'hihg' — did you mean 'high'?"),
        ({"l2": {"low": 3.0, "high": 1.0}}, "low 3 is not below high 1"),
        ({"l2": {"low": 1.0, "high": 1.0}}, "low 1 is not below high 1"),
        ({"l2": {"low": 0.0, "high": 1.0, "log": True}}, "a log scale needs low above 0"),
        ({"l2": {"low": -1.0, "high": 1.0}}, "l2 = -1.0 must be at least 0"),
        ({"l2": {"high": 1.0}}, "no low"),
        ({"hidden_size": {"low": 1.5, "high": 8}}, "should be int"),
        ({"activation": {"low": 1, "high": 2}}, "list the choices instead"),
        ({"activation": ["relu", "sigmod"]}, "activation = 'sigmod' must be one of"),
        ({"activation": ["relu"]}, "give at least two"),
        ({"activation": ["relu", "relu"]}, "lists a choice twice"),
        ({"l2": 0.5}, "neither a range nor a list"),
        ({"data_dir": ["a", "b"]}, "cannot be searched"),
        ({"l2": {"low": 0.1, "high": 1.0, "log": "yes"}}, "should be true or false"),
        ({"l2": {"low": 0.1, "high": 1.0, "step": 0}}, "must be a number above 0"),
        ({"l2": {"low": 0.1, "high": 1.0, "step": 0.1, "log": True}}, "log or step, not both"),
    ],
)
def test_mistakes_are_one_line_errors(raw, expected):
    with pytest.raises(ConfigError) as info:
        parse(raw, Config(), "space.yaml")
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert message.startswith("space.yaml")
    assert " — " in message


def test_an_empty_or_broken_file_is_an_error(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="names no config key"):
        load(empty, Config())
    broken = tmp_path / "broken.yaml"
    broken.write_text("l2: {low: 1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(broken, Config())


def test_shipped_spaces_parse_against_their_bases():
    from pathlib import Path

    from digitnet import config

    root = Path(__file__).resolve().parent.parent
    for space_file, base_file in (
        ("configs/spaces/lambda.yaml", "configs/ng-ex4.yaml"),
        ("configs/spaces/hidden-eta-lambda.yaml", "configs/fast.yaml"),
        ("configs/spaces/fast-30s.yaml", "configs/fast.yaml"),
    ):
        base = config.load(root / base_file, environ={})
        space = load(root / space_file, base)
        assert space.keys

"""The search space: which config keys a study varies, and over what.

A space is a YAML mapping beside the config, one entry per config key::

    l2: {low: 0.01, high: 100, log: true}     # a float range, sampled on a log scale
    hidden_size: {low: 25, high: 400, step: 25}   # an int range (the key is an int)
    learning_rate: {low: 0.01, high: 1.0}     # a float range, uniform
    activation: [sigmoid, tanh, relu]         # a list of choices

Whether a range is int or float comes from the key's type in ``Config``. Every
end of a range and every choice is checked as a value of that key (the same
checks as a config file), so a space cannot propose a config that training
would refuse. Mistakes are one-line ``ConfigError``s naming the key, with a
"did you mean" for misspelt keys and fields.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from digitnet import config as config_module
from digitnet.config import Config
from digitnet.errors import ConfigError

RANGE_FIELDS = ("low", "high", "log", "step")
#: keys that say where things are, not how to train: searching them makes no sense
NOT_SEARCHABLE = ("data_dir", "dataset")

Choice = str | int | float | bool


class Suggester(Protocol):
    """The part of ``optuna.trial.Trial`` a space needs (kept apart so this module
    does not import Optuna)."""

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int: ...

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True)
class Range:
    """low ≤ value ≤ high for an int or float key; ``log``: sampled uniformly in log(value)."""

    key: str
    kind: type  # int or float, the key's type in Config
    low: float
    high: float
    log: bool = False
    step: float | None = None

    def suggest(self, trial: Suggester) -> int | float:
        if self.kind is int:
            step = int(self.step) if self.step is not None else 1
            low, high = int(self.low), int(self.high)
            return trial.suggest_int(self.key, low, high, step=step, log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def describe(self) -> str:
        scale = ", log scale" if self.log else ""
        step = f", step {self.step:g}" if self.step is not None else ""
        return f"{self.key}: {self.kind.__name__} in [{self.low:g}, {self.high:g}]{scale}{step}"


@dataclass(frozen=True)
class Choices:
    """One of a list of values."""

    key: str
    values: tuple[Choice, ...]

    def suggest(self, trial: Suggester) -> Choice:
        return trial.suggest_categorical(self.key, list(self.values))  # type: ignore[no-any-return]

    def describe(self) -> str:
        return f"{self.key}: one of {', '.join(str(v) for v in self.values)}"


Param = Range | Choices


@dataclass(frozen=True)
class SearchSpace:
    params: tuple[Param, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.params)

    def suggest(self, trial: Suggester) -> dict[str, Any]:
        """One point of the space, drawn by the trial's sampler: {config key: value}."""
        return {p.key: p.suggest(trial) for p in self.params}

    def describe(self) -> list[str]:
        return [p.describe() for p in self.params]

    def to_dict(self) -> dict[str, Any]:
        """A plain form for the study's records (compared when a study is resumed)."""
        return {
            p.key: list(p.values)
            if isinstance(p, Choices)
            else {"low": p.low, "high": p.high, "log": p.log, "step": p.step}
            for p in self.params
        }


def load(path: Path, base: Config) -> SearchSpace:
    """Read and check the space in ``path`` against the config it varies."""
    raw = config_module.read_yaml(path)
    if not raw:
        raise ConfigError(
            f"{path} names no config key to search — add a range or a list of choices"
            " (see configs/spaces/lambda.yaml)"
        )
    return parse(raw, base, str(path))


def parse(raw: Mapping[str, Any], base: Config, source: str) -> SearchSpace:
    fields = {f.name: f for f in dataclasses.fields(Config)}
    params: list[Param] = []
    for key, spec in raw.items():
        key = str(key)
        if key not in fields:
            raise ConfigError(f"{source}: unknown key '{key}' — {_did_you_mean(key, fields)}")
        if key in NOT_SEARCHABLE:
            raise ConfigError(
                f"{source}: {key} says where the data is, it cannot be searched"
                " — set it in the base config instead"
            )
        if isinstance(spec, list):
            params.append(_choices(key, spec, base, source))
        elif isinstance(spec, dict):
            params.append(_range(key, spec, base, source))
        else:
            raise ConfigError(
                f"{source}: {key} = {spec!r} is neither a range nor a list — write"
                f" `{key}: {{low: …, high: …}}` or `{key}: [a, b, c]`"
            )
    return SearchSpace(tuple(params))


def _did_you_mean(word: str, known: Mapping[str, Any] | tuple[str, ...]) -> str:
    guess = difflib.get_close_matches(word, list(known), n=1)
    return f"did you mean '{guess[0]}'?" if guess else "see configs/default.yaml for the keys"


def _check_value(key: str, value: Any, base: Config, where: str) -> Any:
    """``value`` as config.apply would take it for ``key``; its errors name ``where``."""
    checked = config_module.apply(base, {key: value}, where)
    return getattr(checked, key)


def _choices(key: str, spec: list[Any], base: Config, source: str) -> Choices:
    if len(spec) < 2:
        raise ConfigError(
            f"{source}: {key} lists {len(spec)} choice(s) — give at least two, or set the value"
            " in the base config"
        )
    values = []
    for value in spec:
        if not isinstance(value, (str, int, float, bool)):
            raise ConfigError(
                f"{source}: {key} choice {value!r} is not a plain value — use numbers or words"
            )
        values.append(_check_value(key, value, base, f"{source} ({key} choices)"))
    if len(set(values)) < len(values):
        raise ConfigError(f"{source}: {key} lists a choice twice — remove the repeat")
    return Choices(key, tuple(values))


def _range(key: str, spec: dict[str, Any], base: Config, source: str) -> Range:
    kind = type(getattr(base, key))
    where = f"{source} ({key} range)"
    for field in spec:
        if field not in RANGE_FIELDS:
            hint = _did_you_mean(str(field), RANGE_FIELDS).replace(
                "see configs/default.yaml for the keys", "a range has low, high, log and step"
            )
            raise ConfigError(f"{where}: unknown field '{field}' — {hint}")
    if kind not in (int, float):
        raise ConfigError(
            f"{where}: {key} is a {kind.__name__}, not a number — list the choices instead,"
            f" e.g. `{key}: [a, b]`"
        )
    missing = [f for f in ("low", "high") if f not in spec]
    if missing:
        raise ConfigError(f"{where}: no {' or '.join(missing)} — a range needs both low and high")
    for end in ("low", "high"):
        if kind is int and not (isinstance(spec[end], int) and not isinstance(spec[end], bool)):
            raise ConfigError(f"{where}: {end} = {spec[end]!r} should be int — {key} is an int")
    low = _check_value(key, spec["low"], base, where)
    high = _check_value(key, spec["high"], base, where)
    if not low < high:
        raise ConfigError(f"{where}: low {low:g} is not below high {high:g} — swap or widen them")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log = {log!r} should be true or false — fix the value")
    step = spec.get("step")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0:
            raise ConfigError(f"{where}: step = {step!r} must be a number above 0 — fix the value")
        if not math.isfinite(step):
            raise ConfigError(f"{where}: step = {step!r} must be finite — fix the value")
        if kind is int and not isinstance(step, int):
            raise ConfigError(f"{where}: step = {step!r} should be int — {key} is an int")
        if log and kind is float:
            raise ConfigError(f"{where}: a float range takes log or step, not both — drop one")
        if log and kind is int and step != 1:
            raise ConfigError(f"{where}: a log-scale int range has step 1 — drop step")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log scale needs low above 0 (it is {low:g}) — raise low")
    return Range(key, kind, low, high, log, float(step) if step is not None else None)

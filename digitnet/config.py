"""Training configuration: typed, validated, and layered.

Precedence, lowest first: the built-in defaults below < a YAML file (``--config``)
< command-line flags. YAML is read with a ``yaml.SafeLoader`` (no tag constructs an
object) that also refuses aliases and files over 64 KiB, so a hostile file cannot
blow up memory. Unknown keys, wrong types and out-of-range values are
``ConfigError``s that name the key, the value and where it came from.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digitnet.data.registry import DATA_DIR_ENV, DATASETS
from digitnet.errors import ConfigError
from digitnet.nn.activations import ACTIVATIONS
from digitnet.nn.network import OUTPUTS, Architecture
from digitnet.nn.optim import OPTIMIZERS
from digitnet.nn.schedules import KINDS as SCHEDULES

if TYPE_CHECKING:
    import yaml


@dataclass(frozen=True)
class Config:
    """Every setting of a training run. configs/default.yaml documents each key."""

    # data
    dataset: str = "mnist"
    data_dir: str = "data"
    validation_size: int = (
        5000  # held out from the end of the training set (Nielsen: 10k; we keep 55k)
    )
    # model
    hidden_size: int = 300
    activation: str = "sigmoid"  # the seed's choice
    output: str = "softmax"  # softmax + cross-entropy, or the seed's sigmoid + logistic cost
    # optimiser: mini-batch SGD with momentum
    learning_rate: float = 0.1
    momentum: float = 0.9
    l2: float = 2.0  # λ in J(θ) = … + (λ/2n) Σ θ², n = training set size
    batch_size: int = 100
    epochs: int = 30
    optimizer: str = "momentum"  # momentum (classical; μ = 0 is plain SGD) or nesterov (optim.py)
    # learning-rate schedule η(t), t in epochs (schedules.py)
    lr_schedule: str = "constant"  # constant, step, exponential or cosine
    lr_warmup_epochs: float = 0.0  # linear ramp from 0 to η over the first epochs (0: none)
    lr_decay: float = 0.1  # γ: factor per lr_step_epochs (step) or per epoch (exponential)
    lr_step_epochs: int = 10  # s: epochs between step decays
    lr_min: float = 0.0  # η_min: where cosine ends
    # regularisation besides λ
    dropout: float = 0.0  # probability of dropping each hidden unit in training (inverted dropout)
    early_stopping: int = 0  # patience: stop after this many epochs without better val acc; 0: off
    # data augmentation per mini-batch (augment.py; all 0: none). Simard et al. 2003 §2
    augment_shift: float = 0.0  # pixels, largest random shift per axis
    augment_rotate: float = 0.0  # degrees, largest random rotation
    augment_scale: float = 0.0  # fraction, largest random change of scale per axis
    augment_shear: float = 0.0  # largest random shear factor
    elastic_alpha: float = 0.0  # α, size of elastic distortions (Simard: 34; 0: off)
    elastic_sigma: float = 4.0  # σ, smoothness of elastic distortions in pixels (Simard: 4)
    # reader augmentation per mini-batch (pen.py, glyphs.py; all 0: none), for users' digits
    augment_stroke: float = 0.0  # pixels, largest random change of stroke width
    augment_low_res: float = 0.0  # fraction of images shown as a small digit enlarged
    augment_printed: float = 0.0  # fraction of images replaced by printed-style digits
    # reproducibility
    seed: int = 0  # drives initialisation, shuffling, augmentation and dropout

    @property
    def architecture(self) -> Architecture:
        return Architecture(self.hidden_size, self.activation, self.output)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _one_of(*choices: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def _at_least(low: float) -> Callable[[Any], str | None]:
    return lambda value: None if value >= low else f"must be at least {low}"


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _fraction(value: Any) -> str | None:
    return None if 0 <= value < 1 else "must be in [0, 1)"


def _unit_interval(value: Any) -> str | None:
    return None if 0 <= value <= 1 else "must be in [0, 1]"


def _at_most(low: float, high: float) -> Callable[[Any], str | None]:
    return lambda value: None if low <= value <= high else f"must be in [{low}, {high}]"


def _decay_factor(value: Any) -> str | None:
    return None if 0 < value <= 1 else "must be in (0, 1]"


#: key -> range/choice check (types come from the dataclass annotations)
_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "dataset": _one_of(*DATASETS),
    "validation_size": _at_least(0),
    "hidden_size": _at_least(1),
    "activation": _one_of(*ACTIVATIONS),
    "output": _one_of(*OUTPUTS),
    "learning_rate": _positive,
    "momentum": _fraction,
    "l2": _at_least(0),
    "batch_size": _at_least(1),
    "epochs": _at_least(1),
    "optimizer": _one_of(*OPTIMIZERS),
    "lr_schedule": _one_of(*SCHEDULES),
    "lr_warmup_epochs": _at_least(0),
    "lr_decay": _decay_factor,
    "lr_step_epochs": _at_least(1),
    "lr_min": _at_least(0),
    "dropout": _fraction,  # p = 1 would drop every unit
    "early_stopping": _at_least(0),
    "augment_shift": _at_least(0),
    "augment_rotate": _at_least(0),
    "augment_scale": _fraction,  # scale 1 − s must stay positive
    "augment_shear": _at_least(0),
    "elastic_alpha": _at_least(0),
    "elastic_sigma": _positive,
    "augment_stroke": _at_most(0, 4),  # beyond 4 px a 28 × 28 digit is a blot or gone
    "augment_low_res": _unit_interval,
    "augment_printed": _unit_interval,
    "seed": _at_least(0),
}

_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool}


def _field_types() -> dict[str, type]:
    return {f.name: _TYPES[str(f.type)] for f in dataclasses.fields(Config)}


# YAML 1.1, which PyYAML follows, reads a float only with a dot: `1e-2` and `5E-4` come back
# as strings, though YAML 1.2, Python and every command-line flag read them as numbers.
_SCIENTIFIC = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _coerce(key: str, value: Any, source: str) -> Any:
    """Check one value's type (ints, and numbers in scientific notation, are accepted where
    floats are expected)."""
    expected = _field_types()[key]
    if expected is float and isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
        value = float(value)
    ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(
            f"{source}: {key} = {_short_repr(value)} should be {expected.__name__} — fix the value"
        )
    # NaN slips through every comparison below and ∞ through most: refuse both here.
    problem = (
        "must be a finite number" if isinstance(value, float) and not math.isfinite(value) else None
    )
    problem = problem or (_CHECKS[key](value) if key in _CHECKS else None)
    if problem:
        raise ConfigError(f"{source}: {key} = {_short_repr(value)} {problem} — fix the value")
    return value


def _unknown_key_error(key: str, source: str) -> ConfigError:
    guess = difflib.get_close_matches(key, _field_types(), n=1)
    hint = f"did you mean '{guess[0]}'?" if guess else "see configs/default.yaml for the keys"
    return ConfigError(f"{source}: unknown key '{key}' — {hint}")


def apply(config: Config, values: Mapping[str, Any], source: str) -> Config:
    """Return ``config`` with ``values`` laid over it, each validated."""
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in _field_types():
            raise _unknown_key_error(str(key), source)
        changes[key] = _coerce(key, value, source)
    merged = dataclasses.replace(config, **changes)
    _check_together(merged, source)
    return merged


def _check_together(config: Config, source: str) -> None:
    if config.validation_size >= 60000:
        raise ConfigError(
            f"{source}: validation_size = {config.validation_size} leaves no training images"
            " — use fewer than 60000"
        )


def _short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: a long value keeps the error short."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: A full config is about 2 kB; a file far larger is not one (or is an attack).
MAX_CONFIG_BYTES = 64 * 1024


def _first_refused(text: str) -> yaml.AliasToken | yaml.TagToken | None:
    """The first alias (``*name``) or tag (``!!python/…``) in a YAML text, found by the
    tokenizer alone.

    yaml.safe_load constructs no objects from tags, but an alias repeats a node by
    reference: nine lines can describe 10^9 strings (the "billion laughs"), and
    whatever then walks or prints the value blows up. A tag asks for a type, which
    safe_load refuses with a parser error that reads like a typo; a config needs
    neither, so both are refused, by name, before anything is composed.
    """
    import yaml  # PyYAML, imported when a config file is read: `digitnet predict` reads none

    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, (yaml.AliasToken, yaml.TagToken)):
            return token
    return None


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a config file into a mapping: aliases refused, then ``yaml.safe_load``."""
    import yaml  # as in _first_refused: only when a config file is read

    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist — check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory — pass a .yaml file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc} — check the file") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path} is over {MAX_CONFIG_BYTES // 1024} KiB, too large for a config file"
            " — check the path (configs/default.yaml shows the format)"
        )
    try:
        refused = _first_refused(text)
        if isinstance(refused, yaml.AliasToken):
            raise ConfigError(
                f"{path} line {refused.start_mark.line + 1}: YAML aliases"
                f" (alias *{refused.value}) are not allowed in a config — write the value out"
            )
        if isinstance(refused, yaml.TagToken):
            handle, suffix = refused.value
            raise ConfigError(
                f"{path} line {refused.start_mark.line + 1}: YAML tags ({handle or ''}{suffix})"
                " are not allowed in a config — remove the tag and write a plain value"
            )
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{path} is not valid YAML{line} — fix the syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} must hold a mapping of key: value lines — see configs/default.yaml"
        )
    return data


def load(
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Defaults < ``$DIGITNET_DATA_DIR`` < the file at ``path`` < ``overrides`` (command-line
    flags; None values skipped). The variable replaces the default data folder only, as
    DESIGN.md's contract says; a config file or ``--data-dir`` still wins over it."""
    config = Config()
    env = os.environ if environ is None else environ
    if env.get(DATA_DIR_ENV):
        config = apply(config, {"data_dir": env[DATA_DIR_ENV]}, f"${DATA_DIR_ENV}")
    if path is not None:
        config = apply(config, read_yaml(path), str(path))
    if overrides:
        given = {k: v for k, v in overrides.items() if v is not None}
        config = apply(config, given, "command line")
    return config


def from_dict(values: Mapping[str, Any], source: str) -> Config:
    """A config saved in a checkpoint's metadata; keys from newer versions are an error."""
    return apply(Config(), values, source)

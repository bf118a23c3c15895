"""Options shared by several commands, each defined once, and where their defaults come from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from digitnet.vocabulary import DEFAULT_CHECKPOINT

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the dataset files [default: $DIGITNET_DATA_DIR or ./data].",
)
checkpoint_option = click.option(
    "--checkpoint",
    "checkpoint_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CHECKPOINT,
    show_default=True,
    help="Checkpoint (.npz) to use.",
)
optional_checkpoint_option = click.option(
    "--checkpoint",
    "checkpoint_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Use this checkpoint's network (.npz) instead of a config.",
)
model_option = click.option(
    "--checkpoint",
    "checkpoint_path",
    type=click.Path(path_type=Path),
    default=None,
    help=f"Checkpoint (.npz) to use [default: {DEFAULT_CHECKPOINT} if it exists, else the"
    " model bundled with digitnet].",
)
checkpoint_argument = click.argument(
    "checkpoint_path", metavar="[CKPT]", type=click.Path(path_type=Path), default=DEFAULT_CHECKPOINT
)
config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML config (see configs/default.yaml); flags override it.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
mirror_option = click.option(
    "--mirror",
    "mirrors",
    multiple=True,
    metavar="URL",
    help="Base URL to download from (repeatable; tried in order, instead of the built-in"
    " mirrors). $DIGITNET_MIRROR adds mirrors before the built-in ones.",
)


def bars_wanted(quiet: bool) -> bool:
    """Draw progress bars only on a terminal: written to a file or a pipe, each redraw
    would be one more line of the log (a small training run made over a hundred)."""
    import sys

    return not quiet and sys.stderr.isatty()


def load_checkpoint(path: Path, how_to_name: str = "--checkpoint CKPT") -> Any:
    """``checkpoint.load`` with a hint for a missing file that fits how the path was chosen.

    A path the user typed that does not exist is a typo ("check the path"); the default
    one is missing because nothing was trained yet, and another can be named with
    ``how_to_name`` (the option or argument the command really has).
    """
    from digitnet import checkpoint

    if path != DEFAULT_CHECKPOINT:
        hint = "check the path, or train one with `digitnet train`"
    else:
        hint = f"train one with `digitnet train`, or name another as {how_to_name}"
    return checkpoint.load(path, missing_hint=hint)


def say_bundled(path: Path | None) -> None:
    """The one stderr line that says the bundled model is in use, and how to use another."""
    click.echo(
        f"Using the model bundled with digitnet ({path}; `digitnet info {path}` tells how"
        " it was trained) — train your own with `digitnet train`",
        err=True,
    )


def resolve_data_dir(data_dir: Path | str | None) -> Path:
    """The data folder: the one given, else ``$DIGITNET_DATA_DIR``, else ./data (registry.py)."""
    from digitnet.data.registry import default_data_dir

    return Path(data_dir) if data_dir is not None else default_data_dir()


def config_or_checkpoint(config_file: Path | None, checkpoint_path: Path | None) -> Any:
    """(config, checkpoint or None): the settings to draw or check."""
    from digitnet import config as config_module

    if config_file is not None and checkpoint_path is not None:
        raise click.UsageError("give --config or --checkpoint, not both")
    if checkpoint_path is not None:
        ckpt = load_checkpoint(checkpoint_path)
        return ckpt.config, ckpt
    return config_module.load(config_file), None

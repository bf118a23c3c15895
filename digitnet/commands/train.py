"""``digitnet train``: settings from defaults < config file < flags, progress, and Ctrl-C."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from digitnet.commands.options import (
    bars_wanted,
    config_option,
    data_dir_option,
    mirror_option,
)
from digitnet.errors import DigitnetError
from digitnet.training.runfiles import RunFiles
from digitnet.vocabulary import DEFAULT_CHECKPOINT


@click.command()
@config_option
@data_dir_option
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_CHECKPOINT,
    show_default=True,
    help="Where to save the best checkpoint (by validation accuracy).",
)
@click.option("--dataset", help="mnist, fashion-mnist or kmnist (see `digitnet download`).")
@click.option("--epochs", type=click.IntRange(min=1), help="Passes over the training set.")
@click.option("--hidden-size", type=click.IntRange(min=1), help="Hidden units H.")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), help="η.")
@click.option("--l2", type=click.FloatRange(min=0), help="λ in J(θ) (L2 on non-bias weights).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Mini-batch size m.")
@click.option("--seed", type=click.IntRange(min=0), help="Seed for a reproducible run.")
@click.option(
    "--resume",
    "resume_from",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Continue the run saved in CKPT exactly where it stopped (the .resume.npz written"
    " beside the checkpoint after every epoch, or the checkpoint itself). The saved settings"
    " are kept; only --epochs and --data-dir may change.",
)
@mirror_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar; epoch lines only.")
def train(
    config_file: Path | None,
    data_dir: Path | None,
    output: Path,
    mirrors: Sequence[str],
    quiet: bool,
    resume_from: Path | None,
    **flags: Any,
) -> None:
    """Train a network (downloading the dataset first if needed).

    Settings: built-in defaults < --config FILE < these flags. The best epoch by
    validation accuracy is saved; beside it, the history, the run record
    (.run.json) and the state for --resume (.resume.npz).
    """
    from tqdm import tqdm

    from digitnet import config as config_module
    from digitnet.training import runner

    if data_dir is not None:
        flags["data_dir"] = str(data_dir)
    resumed = None
    if resume_from is None:
        config = config_module.load(config_file, flags)
    else:
        fixed = [k for k, v in flags.items() if v is not None and k not in ("epochs", "data_dir")]
        if config_file is not None or fixed:
            raise click.UsageError(
                "--resume continues with the saved run's settings — drop --config and the other"
                " setting flags (only --epochs and --data-dir may change)"
            )
        from digitnet.training import resume

        resumed = resume.load(resume_from)
        source = click.get_current_context().get_parameter_source("output")
        if source is click.core.ParameterSource.DEFAULT:
            # A resumed run goes on writing where it was writing, not to the default path.
            output = RunFiles.of(resume_from).checkpoint
        config = config_module.apply(
            resumed.config, {k: v for k, v in flags.items() if v is not None}, "command line"
        )
        done = resumed.state.epoch
        if config.epochs <= done:
            # Training on would train nothing and rewrite the run's files with a smaller
            # epoch count; the run is left exactly as it is.
            raise DigitnetError(
                f"{resume_from} has already trained {done} epochs (--epochs {config.epochs}),"
                f" so there is nothing to do — to train longer pass --epochs N above {done},"
                f" e.g. --epochs {2 * done}"
            )

    def on_start(data: Any) -> None:
        # Said only once the data is in hand, so a failed download stays a one-line error.
        if resumed is not None:
            click.echo(f"resuming {resume_from} after epoch {resumed.state.epoch}", err=True)
        click.echo(
            f"training 784-{config.hidden_size}-10 ({config.activation}, {config.output}) for"
            f" {config.epochs} epoch{'' if config.epochs == 1 else 's'} on {config.dataset}"
            f" ({data.n_train:,} training,"
            f" {len(data.X_val):,} validation images); seed {config.seed}",
            err=True,
        )

    bar: tqdm[Any] | None = None
    bars = bars_wanted(quiet)  # in a log or a pipe: the epoch lines only

    def on_batch(epoch: int, done: int, total: int, cost: float, accuracy: float) -> None:
        nonlocal bar
        if not bars:
            return
        if bar is None:
            bar = tqdm(
                total=total,
                desc=f"epoch {epoch}/{config.epochs}",
                unit="img",
                unit_scale=True,
                leave=False,
                file=sys.stderr,
            )
        bar.update(done - bar.n)
        bar.set_postfix(cost=f"{cost:.3f}", acc=f"{accuracy:.3f}", refresh=False)

    def on_epoch(record: Any, improved: bool) -> None:
        nonlocal bar
        if bar is not None:
            bar.close()
            bar = None
        mark = "  * saved" if improved else ""
        click.echo(
            f"epoch {record.epoch:3d}/{config.epochs}  cost {record.train_cost:.4f}"
            f"  acc {record.train_accuracy:.4f}  val cost {record.validation_cost:.4f}"
            f"  val acc {record.validation_accuracy:.4f}  {record.images_per_second:,.0f} img/s"
            f"  {record.seconds:.1f}s{mark}",
            err=True,
        )

    import time

    started = time.time()  # a state file newer than this is this run's (for Ctrl-C)
    try:
        result = runner.run(
            config,
            output,
            resumed=resumed,
            resumed_from=resume_from,
            mirrors=list(mirrors) or None,
            progress=bars,
            on_batch=on_batch,
            on_epoch=on_epoch,
            on_start=on_start,
        )
    except KeyboardInterrupt:
        raise _interrupted_training(output, started, resume_from) from None
    finally:
        if bar is not None:
            bar.close()
    best = result.best
    assert best is not None  # epochs >= 1
    click.echo(
        f"best validation accuracy {best.validation_accuracy:.4f} at epoch {best.epoch};"
        f" trained in {result.train_seconds:.1f}s; saved {output}"
    )
    click.echo(f"learning curve: {RunFiles(output).learning_curve}", err=True)


class _Interrupted(click.ClickException):
    """Ctrl-C: one line, and the exit status shells use for SIGINT (128 + 2)."""

    exit_code = 130


def _interrupted_training(output: Path, started: float, resumed_from: Path | None) -> _Interrupted:
    """What a Ctrl-C during training leaves, and how to continue.

    Nothing is written after the interrupt: the runner saves the resumable state
    atomically after every epoch (resume.py), so the last finished epoch is on
    disk and the epoch in progress is the only work lost. The state file counts
    as this run's only if it was written after the run started (an older one may
    be left from another run); the epoch named is the one it holds.
    """
    from digitnet.atomic import remove_own_temps
    from digitnet.training import resume

    remove_own_temps(output.parent)  # a write the interrupt cut short leaves nothing behind
    state = RunFiles(output).resume_state
    try:
        if state.stat().st_mtime >= started:
            epoch = resume.load(state).state.epoch
            return _Interrupted(
                f"interrupted after epoch {epoch}, which is saved — continue with"
                f" `digitnet train --resume {state}`"
            )
    except (OSError, DigitnetError):
        pass
    if resumed_from is not None:
        return _Interrupted(
            "interrupted before an epoch finished, so nothing new was saved — continue with"
            f" `digitnet train --resume {resumed_from}`"
        )
    return _Interrupted(
        "interrupted before the first epoch finished, so there is nothing to resume"
        " — run the command again"
    )

"""The command line: parse, call the library, print. Nothing else lives here.

Every ``DigitnetError`` the library raises becomes one ``Error: …`` line on
stderr and exit status 1; usage errors are Click's (exit 2). Progress bars,
warnings and logs go to stderr so stdout stays machine-readable.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from digitnet import __version__
from digitnet.errors import DigitnetError

DEFAULT_CHECKPOINT = Path("checkpoints/model.npz")
DEBUG_ENV = "DIGITNET_DEBUG"


class DigitnetGroup(click.Group):
    """Turns library errors into one line; unexpected errors into one line plus a hint."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DigitnetError as exc:
            raise click.ClickException(str(exc)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            # The reader of stdout went away (`digitnet predict … | head`): Click's main
            # quiets the streams and exits 1, which is all this deserves.
            raise
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {exc} — this is a bug; re-run with"
                f" {DEBUG_ENV}=1 for the traceback and report it"
            ) from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Click's standalone mode, but every error is one line on stderr.

        Click prints a usage error as the usage, a hint and the message (four
        lines); here it is the message and where to get help, on one line, with
        Click's exit status 2. Ctrl-C outside training prints one line and exits
        130 (128 + SIGINT), as shells expect.
        """
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            status = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "digitnet"
            click.echo(f"Error: {exc.format_message()} — see `{where} --help`", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Error: interrupted — nothing was left half-written", err=True)
            sys.exit(130)
        # Without standalone mode Click returns the status of ctx.exit() (--help,
        # --version) or the command's return value (None for ours).
        sys.exit(status if isinstance(status, int) and not isinstance(status, bool) else 0)


class _StderrHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"{record.levelname.capitalize()}: {record.getMessage()}", err=True)


def _setup_logging() -> None:
    logger = logging.getLogger("digitnet")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler(level=logging.INFO))
    logger.setLevel(logging.INFO)
    logger.propagate = False


@click.group(cls=DigitnetGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digitnet")
def main() -> None:
    """Train, evaluate and use a 784-H-10 digit classifier whose backpropagation is
    written by hand in numpy.

    \b
    Start with:
      digitnet train            download MNIST and train (configs/default.yaml settings)
      digitnet evaluate         accuracy, per-class figures, confusion matrix
      digitnet predict my.png   read the digit in your own image
    """
    _setup_logging()


# -- shared options -----------------------------------------------------------------

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
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")


def _resolve_data_dir(data_dir: Path | None) -> Path:
    from digitnet.data.registry import default_data_dir

    return data_dir if data_dir is not None else default_data_dir()


# -- download -----------------------------------------------------------------------


@main.command()
@click.option(
    "--dataset",
    default="mnist",
    show_default=True,
    help="Dataset to fetch: mnist, fashion-mnist or kmnist. MNIST goes into the data"
    " folder itself, the others into a sub-folder named after them.",
)
@data_dir_option
@click.option(
    "--mirror",
    "mirrors",
    multiple=True,
    metavar="URL",
    help="Base URL to download from (repeatable; tried in order, instead of the built-in"
    " mirrors). $DIGITNET_MIRROR adds mirrors before the built-in ones.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def download(dataset: str, data_dir: Path | None, mirrors: Sequence[str], quiet: bool) -> None:
    """Download a dataset, verify its checksums, and store it atomically.

    Does nothing for files already present and valid.
    """
    from digitnet.data import download, registry

    root = _resolve_data_dir(data_dir)
    written = download.download(dataset, root, list(mirrors) or None, progress=not quiet)
    folder = registry.dataset_dir(dataset, root)
    if written:
        click.echo(f"downloaded {len(written)} file(s) into {folder}")
    else:
        click.echo(f"{dataset} is already in {folder}")


# -- train --------------------------------------------------------------------------


@main.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML config (see configs/default.yaml); flags below override it.",
)
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
@click.option("--mirror", "mirrors", multiple=True, metavar="URL", help="Mirror for the download.")
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
            output = resume.checkpoint_for(resume_from)
        config = config_module.apply(
            resumed.config, {k: v for k, v in flags.items() if v is not None}, "command line"
        )

    def on_start(data: Any) -> None:
        # Said only once the data is in hand, so a failed download stays a one-line error.
        if resumed is not None:
            click.echo(f"resuming {resume_from} after epoch {resumed.state.epoch}", err=True)
        click.echo(
            f"training 784-{config.hidden_size}-10 ({config.activation}, {config.output}) for"
            f" {config.epochs} epochs on {config.dataset} ({len(data.X_train):,} training,"
            f" {len(data.X_val):,} validation images); seed {config.seed}",
            err=True,
        )

    bar: tqdm[Any] | None = None

    def on_batch(epoch: int, done: int, total: int, cost: float, accuracy: float) -> None:
        nonlocal bar
        if quiet:
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
            progress=not quiet,
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
    from digitnet.insight import plots  # issue 6: the learning curve beside the checkpoint

    curve = plots.learning_curve_path(output)
    history = json.loads(runner.history_path(output).read_text(encoding="utf-8"))
    plots.learning_curve(history, curve)  # from the file: it holds a resumed run's epochs too
    click.echo(f"learning curve: {curve}", err=True)


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
    state = resume.resume_path(output)
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


# -- evaluate -----------------------------------------------------------------------


@main.command()
@checkpoint_option
@data_dir_option
@click.option("--split", type=click.Choice(["test", "train"]), default="test", show_default=True)
@json_option
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write figures (confusion, mistakes, per-class, reliability), report.json and"
    " a self-contained report.html into DIR.",
)
def evaluate(
    checkpoint_path: Path, data_dir: Path | None, split: str, as_json: bool, report_dir: Path | None
) -> None:
    """Accuracy, per-class precision and recall, and the confusion matrix."""
    from digitnet import checkpoint
    from digitnet.data import download, idx
    from digitnet.insight import metrics
    from digitnet.training.train import score, to_inputs

    ckpt = checkpoint.load(checkpoint_path)
    folder = _resolve_data_dir(data_dir)
    download.ensure_dataset(ckpt.config.dataset, folder, progress=not as_json)
    images, labels = idx.load_split(ckpt.config.dataset, folder, split)
    _, _, predicted = score(ckpt.params, to_inputs(images), labels, ckpt.config, n_train=1)
    rep = metrics.report(labels, predicted)
    if report_dir is not None:  # issue 6: figures and HTML (digitnet/insight/report.py)
        from digitnet.insight import report

        about = {"checkpoint": str(checkpoint_path), "dataset": ckpt.config.dataset, "split": split}
        page = report.write_for_checkpoint(report_dir, ckpt, images, labels, predicted, rep, about)
        click.echo(f"wrote the report {page}", err=True)
    if as_json:
        out: dict[str, Any] = {
            "checkpoint": str(checkpoint_path),
            "dataset": ckpt.config.dataset,
            "split": split,
        }
        out.update({"n": len(labels), **rep.to_dict()})
        click.echo(json.dumps(out))
        return
    click.echo(_format_report(rep, f"{ckpt.config.dataset} {split} split", len(labels)))


def _format_report(rep: Any, title: str, n: int) -> str:
    lines = [
        f"{title}: {n:,} images",
        f"accuracy {rep.accuracy:.2%}  (error {1 - rep.accuracy:.2%})",
        "",
        "class  precision  recall  support",
    ]
    for c in range(len(rep.precision)):
        lines.append(
            f"{c:>5}  {rep.precision[c]:>9.2%}  {rep.recall[c]:>6.2%}  {rep.support[c]:>7,}"
        )
    lines += ["", "confusion matrix (rows: true digit, columns: predicted)"]
    lines.append("      " + "".join(f"{c:>6}" for c in range(len(rep.confusion))))
    for c, row in enumerate(rep.confusion):
        lines.append(f"{c:>5} " + "".join(f"{v:>6}" for v in row))
    return "\n".join(lines)


# -- predict: digitnet/commands/predict.py (registered at the end of this file) ----------


# -- info ---------------------------------------------------------------------------


@main.command()
@click.argument(
    "checkpoint_path", metavar="CKPT", type=click.Path(path_type=Path), default=DEFAULT_CHECKPOINT
)
@json_option
def info(checkpoint_path: Path, as_json: bool) -> None:
    """Show how a checkpoint was made: architecture, settings, figures."""
    from digitnet import checkpoint

    ckpt = checkpoint.load(checkpoint_path)
    data = {
        "checkpoint": str(checkpoint_path),
        "created": ckpt.created,
        "digitnet_version": ckpt.version,
        "architecture": f"784-{ckpt.params.hidden_size}-10",
        "config": ckpt.config.to_dict(),
        "metrics": ckpt.metrics,
    }
    if as_json:
        click.echo(json.dumps(data))
        return
    click.echo(
        f"{checkpoint_path}: {data['architecture']} network, digitnet {ckpt.version},"
        f" created {ckpt.created}"
    )
    for key, value in ckpt.config.to_dict().items():
        click.echo(f"  {key:<16} {value}")
    for key, value in ckpt.metrics.items():
        click.echo(
            f"  {key:<16} {value:.4f}" if isinstance(value, float) else f"  {key:<16} {value}"
        )


# -- seeing inside: gradcheck, diagram, explain, weights (digitnet/commands/inspect.py) ----
from digitnet.commands import inspect as _inspect  # noqa: E402, F401  (registers the commands)

# -- reading users' images: predict (digitnet/commands/predict.py) -------------------
from digitnet.commands import predict as _predict  # noqa: E402, F401  (registers the command)

# -- tuning aids: lr-find, augment-preview (digitnet/commands/tuning.py) ------------------
from digitnet.commands import tuning as _tuning  # noqa: E402, F401  (registers the commands)

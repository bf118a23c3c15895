"""The command line: parse, call the library, print. Nothing else lives here.

Every ``DigitnetError`` the library raises becomes one ``Error: …`` line on
stderr and exit status 1; usage errors are Click's (exit 2). Progress bars,
warnings and logs go to stderr so stdout stays machine-readable.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from digitnet import __version__
from digitnet.commands import (
    augment_preview,
    diagram,
    download,
    evaluate,
    explain,
    export,
    gradcheck,
    info,
    lr_find,
    predict,
    serve,
    train,
    tune,
    weights,
)
from digitnet.errors import DigitnetError

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
      digitnet train --config configs/default.yaml
                                download MNIST and train (bare `digitnet train`
                                uses the built-in settings: `digitnet train --help`)
      digitnet evaluate         accuracy, per-class figures, confusion matrix
      digitnet predict my.png   read the digit in your own image
    """
    _setup_logging()


# -- the commands, each in its own module under digitnet/commands/ -------------------

for _command in (
    download.download,
    train.train,
    evaluate.evaluate,
    predict.predict,
    info.info,
    gradcheck.gradcheck,
    diagram.diagram,
    explain.explain,
    weights.weights,
    lr_find.lr_find,
    augment_preview.augment_preview,
    export.export,
    serve.serve,
    tune.tune,
):
    main.add_command(_command)

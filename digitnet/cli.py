"""The command line: parse, call the library, print. Nothing else lives here.

Every ``DigitnetError`` the library raises becomes one ``Error: …`` line on
stderr and exit status 1; usage errors are Click's (exit 2). Progress bars,
warnings and logs go to stderr so stdout stays machine-readable.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from digitnet import __version__
from digitnet.errors import DigitnetError

DEBUG_ENV = "DIGITNET_DEBUG"

#: Each command and its module under digitnet/commands/, whose function of the module's name
#: is the command. A module is imported only when its command runs (or when --help lists
#: them all), so `digitnet predict` loads none of the other commands' imports (cold start).
COMMAND_MODULES = {
    "download": "download",
    "train": "train",
    "evaluate": "evaluate",
    "predict": "predict",
    "info": "info",
    "gradcheck": "gradcheck",
    "diagram": "diagram",
    "explain": "explain",
    "weights": "weights",
    "lr-find": "lr_find",
    "augment-preview": "augment_preview",
    "export": "export",
    "serve": "serve",
    "tune": "tune",
}


class DigitnetGroup(click.Group):
    """Turns library errors into one line; unexpected errors into one line plus a hint.
    Loads each command from ``COMMAND_MODULES`` when it is first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | COMMAND_MODULES.keys())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        module_name = COMMAND_MODULES.get(cmd_name)
        if command is None and module_name is not None:
            module = importlib.import_module(f"digitnet.commands.{module_name}")
            command = getattr(module, module_name)
            self.add_command(command, cmd_name)
        return command

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

"""``digitnet download``: fetch a dataset, verified and written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from digitnet.commands.options import data_dir_option, mirror_option, quiet_option, resolve_data_dir


@click.command()
@click.option(
    "--dataset",
    default="mnist",
    show_default=True,
    help="Dataset to fetch: mnist, fashion-mnist or kmnist. MNIST goes into the data"
    " folder itself, the others into a sub-folder named after them.",
)
@data_dir_option
@mirror_option
@quiet_option
def download(dataset: str, data_dir: Path | None, mirrors: Sequence[str], quiet: bool) -> None:
    """Download a dataset, verify its checksums, and store it atomically.

    Does nothing for files already present and valid.
    """
    from digitnet.data import download, registry

    root = resolve_data_dir(data_dir)
    written = download.download(dataset, root, list(mirrors) or None, progress=not quiet)
    folder = registry.dataset_dir(dataset, root)
    if written:
        click.echo(f"downloaded {len(written)} file(s) into {folder}")
    else:
        click.echo(f"{dataset} is already in {folder}")

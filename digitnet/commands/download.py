"""``digitnet download``: fetch a dataset, verified and written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from digitnet.commands.options import (
    bars_wanted,
    data_dir_option,
    mirror_option,
    quiet_option,
    resolve_data_dir,
)


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
@click.option(
    "--accept-modified",
    is_flag=True,
    help="Accept the files in the folder whose MD5 differs from the published one (placed"
    " by hand): their warning is not repeated while their content stays the same.",
)
def download(
    dataset: str, data_dir: Path | None, mirrors: Sequence[str], quiet: bool, accept_modified: bool
) -> None:
    """Download a dataset, verify its checksums, and store it atomically.

    Does nothing for files already present and valid.
    """
    from digitnet.data import download, registry

    root = resolve_data_dir(data_dir)
    folder = registry.dataset_dir(dataset, root)
    try:
        written = download.download(
            dataset, root, list(mirrors) or None, progress=bars_wanted(quiet)
        )
    except KeyboardInterrupt:
        raise _interrupted(dataset, folder, registry.download_command(dataset, root)) from None
    if written:
        click.echo(f"downloaded {len(written)} file(s) into {folder}")
    else:
        click.echo(f"{dataset} is already in {folder}")
    if accept_modified:
        from digitnet.data import checksum

        for name, md5 in registry.get_spec(dataset).checksums.items():
            path = folder / name
            if checksum.file_md5(path) != md5:
                click.echo(
                    f"accepted {path} as it is (MD5 {checksum.accept(path)}, published {md5})"
                )


class _Interrupted(click.ClickException):
    """Ctrl-C: one line, and the exit status shells use for SIGINT (128 + 2)."""

    exit_code = 130


def _interrupted(dataset: str, folder: Path, command: str) -> _Interrupted:
    """What Ctrl-C leaves: finished files in place and, for the file cut short, a hidden
    partial that the next run resumes with a Range request (download.py)."""
    from digitnet.data.download import partial_path
    from digitnet.data.registry import get_spec

    names = [n for n in get_spec(dataset).files if partial_path(folder / n).exists()]
    if names:
        return _Interrupted(
            f"interrupted — the part of {', '.join(names)} already fetched is kept, and"
            f" `{command}` resumes it where it stopped"
        )
    return _Interrupted(
        f"interrupted — files already fetched are kept; `{command}` fetches the rest"
    )

"""``digitnet predict``: read the digits in users' images, files or folders.

It only parses, calls
the library (`reading.py`) and prints. numpy and Pillow are imported inside the
command, and nothing here imports scipy, matplotlib, requests or tqdm, because the
start-up time of ``digitnet predict one.png`` is part of what users feel.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from digitnet.commands.options import json_option, model_option, say_bundled


def _format_text(reading: Any, top_k: int) -> str:
    """'file: 7 (98.1%)', or with several digits 'file: 2016  [2 99.0%, 0 97.1%, …]'."""
    mark = "  uncertain" if reading.uncertain else ""
    if len(reading.digits) == 1:
        p = reading.digits[0].probabilities
        ranked = sorted(range(len(p)), key=lambda d: -p[d])[:top_k]
        # The top digit carries the same "?" a number's uncertain digits carry.
        unsure = "?" if reading.digits[0].uncertain else ""
        text = ", ".join(
            f"{d} ({p[d]:.1%}{unsure if i == 0 else ''})" for i, d in enumerate(ranked)
        )
        return f"{reading.file}: {text}{mark}"
    parts = ", ".join(
        f"{d.digit} {d.confidence:.1%}{'?' if d.uncertain else ''}" for d in reading.digits
    )
    return f"{reading.file}: {reading.number}  [{parts}]{mark}"


def _preprocessed_name(path: Path, used: set[str]) -> str:
    """A file name for an image's 28×28 inputs, unique within this run."""
    stem = path.stem or "image"
    name, n = stem, 1
    while name in used:
        n += 1
        name = f"{stem}-{n}"
    used.add(name)
    return name


def _save_preprocessed(reading: Any, folder: Path, used: set[str]) -> None:
    from PIL import Image

    from digitnet.atomic import atomic_write

    name = _preprocessed_name(Path(reading.file), used)
    images = reading.images()
    for i, pixels in enumerate(images):
        target = folder / (f"{name}.png" if len(images) == 1 else f"{name}_{i + 1}.png")
        with atomic_write(target) as handle:
            Image.fromarray(pixels).save(handle, format="PNG")


CSV_COLUMNS = ("file", "number", "confidence", "uncertain", "digit_confidences", "error")


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@model_option
@click.option(
    "--top-k",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    help="Show the k most likely digits (images holding one digit).",
)
@click.option("--single", is_flag=True, help="Read each image as one digit (no segmentation).")
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=None,
    help="Mark a digit uncertain below this confidence [default: 0.7].",
)
@click.option(
    "--save-preprocessed",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the 28×28 image(s) the network saw for each IMAGE into this folder.",
)
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write one CSV row per image to this file.",
)
@json_option
def predict(
    images: Sequence[Path],
    checkpoint_path: Path | None,
    top_k: int,
    single: bool,
    threshold: float | None,
    save_preprocessed: Path | None,
    csv_file: Path | None,
    as_json: bool,
) -> None:
    """Read the digits in each IMAGE (PNG, JPEG, …; dark-on-light or light-on-dark).

    An image holding a number ("2016") is read digit by digit, left to right, with
    each digit's confidence; --single reads it as one digit. A folder is searched for
    images recursively. A digit whose confidence is below --threshold is marked
    uncertain. Exits non-zero if any image could not be read; the others are still
    predicted.
    """
    import digitnet
    from digitnet.atomic import write_text
    from digitnet.errors import DigitnetError
    from digitnet.images.reading import UNCERTAIN_BELOW, read_image

    if csv_file is not None and (csv_file.is_dir() or not csv_file.parent.is_dir()):
        # Checked before reading anything, so a typo costs one line, not a whole run.
        raise click.ClickException(
            f"cannot write {csv_file}: its folder does not exist or it is a folder"
            " — choose another CSV path"
        )
    model = digitnet.load_model(checkpoint_path)  # None: ./checkpoints/model.npz, else bundled
    ckpt, path = model.checkpoint, model.path
    if model.bundled:
        say_bundled(path)
    if save_preprocessed is not None:
        try:
            save_preprocessed.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.ClickException(
                f"cannot create {save_preprocessed} ({exc.strerror}) — choose another folder"
            ) from None
    limit = UNCERTAIN_BELOW if threshold is None else threshold
    used: set[str] = set()
    rows: list[dict[str, Any]] = []
    failed = 0
    for image, folder_error in _each_image(images):
        file, error = str(image), folder_error
        if not error:
            try:
                reading = read_image(image, ckpt, single=single, uncertain_below=limit)
            except DigitnetError as exc:
                error = str(exc)
        if error:
            failed += 1
            rows.append({"file": file, "error": error})
            if as_json:
                click.echo(json.dumps({"file": file, "error": error}))
            else:
                click.echo(f"Error: {error}", err=True)
            continue
        if save_preprocessed is not None:
            try:
                _save_preprocessed(reading, save_preprocessed, used)
            except OSError as exc:
                raise click.ClickException(
                    f"cannot write into {save_preprocessed} ({exc.strerror or exc})"
                    " — choose another folder"
                ) from None
        if as_json:
            click.echo(json.dumps(reading.to_dict()))
        else:
            click.echo(_format_text(reading, top_k))
        rows.append(
            {
                "file": file,
                "number": reading.number,
                "confidence": f"{reading.confidence:.6f}",
                "uncertain": str(reading.uncertain).lower(),
                "digit_confidences": " ".join(f"{d.confidence:.6f}" for d in reading.digits),
                "error": "",
            }
        )
    if csv_file is not None:
        try:
            write_text(csv_file, _csv_text(rows))
        except OSError as exc:
            raise click.ClickException(
                f"cannot write {csv_file} ({exc.strerror or exc}) — choose another CSV path"
            ) from None
    if failed:
        sys.exit(1)


def _each_image(images: Sequence[Path]) -> Iterator[tuple[Path, str]]:
    """(path, "") for every image named or found below a named folder; (folder, error)
    for a folder without images, so the other arguments are still read."""
    from digitnet.errors import DigitnetError
    from digitnet.images.reading import find_images

    for item in images:
        try:
            for path in find_images([item]):
                yield path, ""
        except DigitnetError as exc:
            yield item, str(exc)

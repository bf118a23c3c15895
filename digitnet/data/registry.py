"""The dataset registry: where each dataset is published, its files' checksums, and
where it lives under the data directory.

``data_dir`` (``--data-dir``, ``$DIGITNET_DATA_DIR`` or ``./data``) is a root.
MNIST's files sit directly in it, as they always have; every other dataset gets
its own sub-folder named after it (``data/fashion-mnist/``, ``data/kmnist/``),
because Fashion-MNIST and KMNIST reuse MNIST's file names. :func:`dataset_dir`
is the one place that decides this. (Debian's ``dataset-fashion-mnist`` package
installs into ``/usr/share/datasets/fashion-mnist``, so ``--data-dir
/usr/share/datasets`` finds it.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from digitnet.errors import DatasetError

DATA_DIR_ENV = "DIGITNET_DATA_DIR"
#: where datasets go when no folder is chosen (the only one `train` creates by itself)
DEFAULT_DATA_DIR = Path("data")
MIRROR_ENV = "DIGITNET_MIRROR"


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset is published and how to recognise its genuine files.

    ``checksums`` maps each file name to its published MD5 (in download order);
    ``splits`` maps ``"train"``/``"test"`` to its (images, labels) file names.
    A mirror is a base URL: a file's URL is ``base.rstrip("/") + "/" + name``.
    ``subdir`` is the dataset's folder under the data directory ("" = the data
    directory itself, MNIST's historical place).
    """

    name: str
    mirrors: tuple[str, ...]
    checksums: Mapping[str, str]
    splits: Mapping[str, tuple[str, str]]
    subdir: str = ""

    @property
    def files(self) -> list[str]:
        """The dataset's file names, in download order."""
        return list(self.checksums)


# All three datasets use MNIST's four file names and IDX layout.
_MNIST_SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        # Widely used copies first (ossci-datasets is torchvision's own mirror);
        # the original site comes last because scripts have often found it slow
        # or refusing (HTTP 403/503).
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        # yann.lecun.com publishes no checksums; these MD5s are the ones
        # torchvision pins in `MNIST.resources` (torchvision/datasets/mnist.py).
        # Whatever mirror serves a file, its bytes must match them.
        checksums={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        splits=_MNIST_SPLITS,
    ),
    # Zalando's clothing images (Xiao, Rasul & Vollgraf 2017). Mirrors and MD5s are
    # the ones in the "Get the Data" table of github.com/zalandoresearch/fashion-mnist
    # (README.md); the repository also holds the files under data/fashion/.
    # Debian's dataset-fashion-mnist package ships the same images and labels,
    # but recompressed without the gzip header's file name, so its .gz files have
    # other MD5s: placed by hand they are used with a warning, as any modified file.
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        checksums={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        splits=_MNIST_SPLITS,
        subdir="fashion-mnist",
    ),
    # Kuzushiji-MNIST (Clanuwat et al. 2018, arXiv:1812.01718), ten classical
    # Japanese characters. The download links are those of
    # github.com/rois-codh/kmnist (README.md), which publishes no checksums; these
    # MD5s are the ones torchvision pins in `KMNIST.resources`.
    "kmnist": DatasetSpec(
        name="kmnist",
        mirrors=(
            "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
            "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        ),
        checksums={
            "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
            "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
            "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
            "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
        },
        splits=_MNIST_SPLITS,
        subdir="kmnist",
    ),
}


# ---------------------------------------------------------------------------
# Defaults and lookups


def get_spec(dataset: str) -> DatasetSpec:
    """Return the registry entry for ``dataset`` or explain which names exist."""
    try:
        return DATASETS[dataset]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise DatasetError(f"unknown dataset {dataset!r} — choose one of: {known}") from None


def default_data_dir() -> Path:
    """``$DIGITNET_DATA_DIR`` if set and non-empty, else ``./data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def dataset_dir(dataset: str, data_dir: Path) -> Path:
    """The folder that holds ``dataset``'s files: ``data_dir`` for MNIST, else a sub-folder.

    ``dataset_dir("fashion-mnist", Path("data")) == Path("data/fashion-mnist")``.
    """
    subdir = get_spec(dataset).subdir
    return data_dir / subdir if subdir else data_dir


def default_mirrors(dataset: str) -> list[str]:
    """Mirrors to try, in order: those in ``$DIGITNET_MIRROR``, then the registry's.

    The variable may hold several base URLs separated by whitespace or commas.
    They are tried *before* the registry's rather than instead of them, so that a
    local or company mirror that lacks a file still falls back to the public
    ones. (An explicit ``mirrors`` argument to :func:`download`, i.e.
    ``--mirror``, is used on its own.)
    """
    from_env = re.split(r"[\s,]+", os.environ.get(MIRROR_ENV, ""))
    return unique([m for m in from_env if m] + list(get_spec(dataset).mirrors))


def download_command(dataset: str, data_dir: Path) -> str:
    """The `digitnet download` command that fetches ``dataset`` into ``data_dir``."""
    which = "" if dataset == "mnist" else f" --dataset {dataset}"
    where = "" if data_dir == default_data_dir() else f" --data-dir {data_dir}"
    return f"digitnet download{which}{where}"


def missing_files(dataset: str, data_dir: Path) -> list[str]:
    """Names of the dataset's files that are not in its folder under ``data_dir``."""
    folder = dataset_dir(dataset, data_dir)
    return [name for name in get_spec(dataset).files if not (folder / name).is_file()]


def unique(items: list[str]) -> list[str]:
    """``items`` without repeats, first occurrence kept."""
    return list(dict.fromkeys(items))

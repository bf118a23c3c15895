"""Errors a user can cause.

The library raises these and never exits or prints; `cli.py` turns each one into a
single ``Error: <what> — <what to do>`` line on stderr and a non-zero exit status.
"""


class DigitnetError(Exception):
    """Base class: something the user can fix. The message says what and how."""


class ConfigError(DigitnetError):
    """A configuration file or option is invalid."""


class DatasetError(DigitnetError):
    """A dataset file is missing, malformed or could not be downloaded."""


class ChecksumError(DatasetError):
    """A downloaded file does not match its published checksum."""


class CheckpointError(DigitnetError):
    """A checkpoint is missing, corrupt or not a digitnet checkpoint."""


class ImageError(DigitnetError):
    """An image cannot be read or holds no digit."""


class TrainingError(DigitnetError):
    """Training cannot go on (for example, the cost diverged)."""


class MissingExtraError(DigitnetError):
    """A command needs an optional dependency group (an "extra") that is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed (needed here) — pip install 'digitnet[{extra}]'"
        )


class ExportError(DigitnetError):
    """A model cannot be written in another format (for example, the output is unwritable)."""


class StorageError(DigitnetError):
    """A tuning study's storage cannot be reached or used."""

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

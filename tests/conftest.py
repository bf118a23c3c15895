"""Shared fixtures."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

pytest_plugins = ["pytester"]  # tests/test_new_user.py runs a small suite in a given order

# CI gates a change; it should not fail because hypothesis happened to draw, this time,
# an input no earlier run drew. With DIGITNET_CI set (.ci/run sets it) every property
# test draws the same examples on every run; local runs keep exploring new ones (and
# hypothesis replays the failures it finds there from its .hypothesis database).
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("DIGITNET_CI"):
    settings.load_profile("ci")


@pytest.fixture
def isolated_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """For downloader tests: no proxies, mirrors or data folder from the environment
    (only the local test server is reachable), fresh per-process checksum caches, and
    retries that keep their count but do not sleep between attempts."""
    from digitnet.data import checksum
    from digitnet.data import download as downloader

    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("DIGITNET_MIRROR", raising=False)
    monkeypatch.delenv("DIGITNET_DATA_DIR", raising=False)
    monkeypatch.setattr(checksum, "_md5_cache", {})
    monkeypatch.setattr(checksum, "_warned_modified", set())
    monkeypatch.setattr(downloader, "BACKOFF_SECONDS", 0.0)


@pytest.fixture
def mnist_dir() -> Path:
    """The folder of real MNIST files named by $DIGITNET_TEST_MNIST (tests skip without it).

    `t10k-*` and `train-labels-*` there are the genuine files; `train-images-*` is
    a reconstruction whose MD5 differs from the published one (see shared/mnist/README.md).
    """
    folder = os.environ.get("DIGITNET_TEST_MNIST")
    if not folder:
        pytest.skip("DIGITNET_TEST_MNIST is not set (folder of the MNIST *-ubyte.gz files)")
    path = Path(folder)
    if not path.is_dir():
        pytest.skip(f"DIGITNET_TEST_MNIST={folder} is not a directory")
    return path


def _logging_state(logger: logging.Logger) -> tuple[list[logging.Handler], int, bool, bool]:
    return list(logger.handlers), logger.level, logger.propagate, logger.disabled


def _set_logging_state(
    logger: logging.Logger, state: tuple[list[logging.Handler], int, bool, bool]
) -> None:
    handlers, logger.level, logger.propagate, logger.disabled = state
    logger.handlers[:] = handlers


# The "digitnet" logger as the package leaves it, before any test (or fixture) ran the CLI.
_PRISTINE_LOGGING = _logging_state(logging.getLogger("digitnet"))


@pytest.fixture(autouse=True)
def _pristine_digitnet_logging() -> Iterator[None]:
    """Every test starts and ends with the "digitnet" logger as the package leaves it.

    The CLI's ``_setup_logging`` adds a stderr handler and sets ``propagate = False`` for
    the rest of the process. Left in place (by a test, or by a module-scoped fixture that
    ran a command before any test's own set-up), later tests see the library print to
    stderr, and caplog tests can miss records, so an ``assert not caplog.records`` passes
    whatever happened. Restoring the state *as first seen* would keep a leak from a
    module fixture, so the state is reset to the package's own before and after each
    test. (pytest-randomly shuffles the order in CI, so a new leak shows up as a failure.)
    """
    logger = logging.getLogger("digitnet")
    _set_logging_state(logger, _PRISTINE_LOGGING)
    yield
    _set_logging_state(logger, _PRISTINE_LOGGING)

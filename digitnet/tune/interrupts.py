"""Ctrl-C during a study lands where a trial can be settled, not in the middle of Optuna's
bookkeeping.

A worker spends most of its time training a trial; a Ctrl-C there raises
``KeyboardInterrupt`` inside the objective, and Optuna marks that trial FAIL. But a
trial also begins and ends with database calls (Optuna creating it, the per-epoch
report, the final tell). A Ctrl-C landing in one of those used to leave a trial
RUNNING with no worker behind it (seen with two workers: a trial created but not yet
handed to the objective), counting towards ``--trials`` until its heartbeat went
stale. ``SafePoints`` holds such an interrupt instead and raises it at the next safe
point: inside the objective (so the trial is marked FAIL) or between trials (when none
is running).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class SafePoints:
    """Where a held Ctrl-C may be raised. Not installed: every method does nothing."""

    def __init__(self) -> None:
        self.training = False  # True while a trial trains (outside its database calls)
        self.pending = False  # a Ctrl-C came at an unsafe moment and waits

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.training:
            raise KeyboardInterrupt
        self.pending = True

    def check(self) -> None:
        """A safe point: raise the Ctrl-C that was held, if any."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    @contextmanager
    def training_phase(self) -> Iterator[None]:
        """Training code: a Ctrl-C raises at once (a held one first)."""
        self.check()
        self.training = True
        try:
            yield
        finally:
            self.training = False

    @contextmanager
    def bookkeeping(self) -> Iterator[None]:
        """Database calls inside training: a Ctrl-C waits until they are done."""
        was_training, self.training = self.training, False
        try:
            yield
        finally:
            self.training = was_training
        self.check()


@contextmanager
def held_at_safe_points() -> Iterator[SafePoints]:
    """Install a ``SafePoints`` as the SIGINT handler for the block (main thread only;
    elsewhere signals cannot be handled and it stays inert), then restore the old one."""
    points = SafePoints()
    if threading.current_thread() is not threading.main_thread():
        yield points  # no handler here: a Ctrl-C reaches the main thread as before
        return
    previous = signal.signal(signal.SIGINT, points.handle)
    try:
        yield points
    finally:
        signal.signal(signal.SIGINT, previous)

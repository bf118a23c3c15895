"""Child processes that a test's Ctrl-C reaches, however the test run was started.

A shell starts a background job (`cmd &` without job control, or under `nohup`) with
SIGINT ignored, its children inherit that, and Python leaves an ignored SIGINT ignored:
a `digitnet` started from such a run never sees the test's SIGINT, and the test waits
for an exit that does not come. The tests that press Ctrl-C start their child with
SIGINT back at its default, as a terminal delivers it to a foreground command.
"""

from __future__ import annotations

import signal


def ctrl_c_reaches_child() -> None:
    """``preexec_fn`` for ``subprocess``: SIGINT at its default in the child, before exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

"""A throwaway HTTP server on 127.0.0.1 that stands in for a dataset mirror.

Tests must never reach the internet, so the downloader is pointed at one or more
of these. Each serves a directory, records the paths it was asked for, and can be
told to answer some paths (or all, with the key "*") with an error status.
"""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any


class _MirrorServer(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[str]
    fail: dict[str, int]


class _Handler(SimpleHTTPRequestHandler):
    server: _MirrorServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        status = self.server.fail.get(self.path, self.server.fail.get("*"))
        if status is not None:
            self.send_error(status)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class LocalMirror:
    """Serve ``root`` on an ephemeral port; use as a context manager.

    ``url`` is the mirror's base URL, ``requests`` the request paths seen so far,
    ``fail`` maps a path such as "/t10k-images-idx3-ubyte.gz" (or "*") to a status.
    """

    def __init__(self, root: Path) -> None:
        handler = partial(_Handler, directory=str(root))
        self._server = _MirrorServer(("127.0.0.1", 0), handler)
        self._server.requests = []
        self._server.fail = {}
        # A short poll interval makes shutdown() quick (the default waits up to 0.5 s).
        serve = partial(self._server.serve_forever, poll_interval=0.01)
        self._thread = threading.Thread(target=serve, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    @property
    def requests(self) -> list[str]:
        return self._server.requests

    @property
    def fail(self) -> dict[str, int]:
        return self._server.fail

    def __enter__(self) -> LocalMirror:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

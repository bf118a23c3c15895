"""A throwaway HTTP server on 127.0.0.1 that stands in for a dataset mirror.

Tests must never reach the internet, so the downloader is pointed at one or more
of these. Each serves the files of a directory, records the paths it was asked
for (and the Range header of each request), and can be told to misbehave the
way real mirrors and networks do:

* ``fail[path] = status``: answer with that error status (key "*" = every path);
* ``fail_times[path] = n``: answer the next n requests for path with 500;
* ``drop_after[path] = [n, ...]``: for each listed request in turn, announce the
  full length, send only n bytes of the body and close the connection;
* ``html = {path, ...}`` (or "*"): answer 200 with an HTML error page, the way a
  captive portal or a misconfigured mirror does; ``html_content_type = False``
  sends it as application/octet-stream, to test sniffing the body itself;
* ``honour_range = False``: ignore Range headers and always send the whole file;
* ``delay = seconds``: sleep before every chunk of ``chunk`` bytes (a slow link).
"""

from __future__ import annotations

import re
import sys
import threading
import time
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

HTML_PAGE = b"<!DOCTYPE html><html><body><h1>Service unavailable</h1></body></html>\n"


class _MirrorServer(ThreadingHTTPServer):
    daemon_threads = True
    root: Path
    requests: list[str]
    ranges: list[str | None]
    fail: dict[str, int]
    fail_times: dict[str, int]
    drop_after: dict[str, list[int]]
    html: set[str]
    html_content_type: bool
    honour_range: bool
    delay: float
    chunk: int
    lock: threading.Lock

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-response (the downloader gives up after a 500, or a
        test drops the connection on purpose) is expected here. socketserver's default
        prints a traceback to sys.stderr, which Click's CliRunner captures as if the CLI
        had printed it; stay quiet about dropped connections, report anything else."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _MirrorServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        srv = self.server
        path = self.path
        with srv.lock:
            srv.requests.append(path)
            srv.ranges.append(self.headers.get("Range"))
            status = srv.fail.get(path, srv.fail.get("*"))
            if status is None and srv.fail_times.get(path, 0) > 0:
                srv.fail_times[path] -= 1
                status = 500
            drops = srv.drop_after.get(path)
            drop = drops.pop(0) if drops else None
        if status is not None:
            self._send(status, b"error\n", "text/plain")
            return
        if path in srv.html or "*" in srv.html:
            kind = (
                "text/html; charset=utf-8" if srv.html_content_type else "application/octet-stream"
            )
            self._send(200, HTML_PAGE, kind)
            return
        file = srv.root / path.lstrip("/")
        if not file.is_file():
            self._send(404, b"not found\n", "text/plain")
            return
        data = file.read_bytes()
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match and srv.honour_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes" if srv.honour_range else "none")
        if drop is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        limit = len(body) if drop is None else min(drop, len(body))
        try:
            while sent < limit:
                if srv.delay:
                    time.sleep(srv.delay)
                piece = body[sent : min(sent + srv.chunk, limit)]
                self.wfile.write(piece)
                self.wfile.flush()
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client went away (a test killed it)
        if drop is not None:
            self.close_connection = True

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class LocalMirror:
    """Serve ``root`` on an ephemeral port; use as a context manager.

    ``url`` is the mirror's base URL, ``requests`` the request paths seen so far,
    ``ranges`` the Range header of each (None when absent); see the module doc
    for the knobs that make it misbehave.
    """

    def __init__(self, root: Path, *, delay: float = 0.0, chunk: int = 1 << 16) -> None:
        self._server = _MirrorServer(("127.0.0.1", 0), partial(_Handler))
        srv = self._server
        srv.root = Path(root)
        srv.requests, srv.ranges = [], []
        srv.fail, srv.fail_times, srv.drop_after = {}, {}, {}
        srv.html, srv.html_content_type, srv.honour_range = set(), True, True
        srv.delay, srv.chunk = delay, chunk
        srv.lock = threading.Lock()
        # A short poll interval makes shutdown() quick (the default waits up to 0.5 s).
        serve = partial(srv.serve_forever, poll_interval=0.01)
        self._thread = threading.Thread(target=serve, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    @property
    def requests(self) -> list[str]:
        return self._server.requests

    @property
    def ranges(self) -> list[str | None]:
        return self._server.ranges

    @property
    def fail(self) -> dict[str, int]:
        return self._server.fail

    @property
    def fail_times(self) -> dict[str, int]:
        return self._server.fail_times

    @property
    def drop_after(self) -> dict[str, list[int]]:
        return self._server.drop_after

    @property
    def html(self) -> set[str]:
        return self._server.html

    def configure(self, **settings: Any) -> None:
        """Set ``honour_range``, ``html_content_type``, ``delay`` or ``chunk``."""
        for key, value in settings.items():
            if key not in ("honour_range", "html_content_type", "delay", "chunk"):
                raise TypeError(f"unknown setting {key}")
            setattr(self._server, key, value)

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

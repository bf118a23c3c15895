"""``digitnet serve``: the live page (draw a digit, watch a^(1), a^(2), a^(3), teach one step).

It chooses the checkpoint as ``predict`` does, checks the address, and runs uvicorn;
the page and its API are digitnet/serve/. Starlette and uvicorn (the ``serve`` extra)
are imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from digitnet.errors import DigitnetError, MissingExtraError


def is_loopback(host: str) -> bool:
    import ipaddress  # here, like every import beyond click: `digitnet predict` starts fast

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> Any:
    """A listening socket on host:port, or a one-line error saying what to change."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise DigitnetError(f"cannot resolve --host {host} — use 127.0.0.1 or an address") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise DigitnetError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}) — choose another --port"
        ) from None
    return sock


@click.command()
@click.option(
    "--checkpoint",
    "checkpoint_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Checkpoint (.npz) to show [default: checkpoints/model.npz, else the bundled model].",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but the loopback makes the page, teaching and"
    " saving copies reachable from other machines.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a web browser.")
def serve(checkpoint_path: Path | None, host: str, port: int, open_browser: bool) -> None:
    """A local page: draw or choose a digit and see the network read it, then teach it.

    Shows a^(1) as the network sees it, the hidden layer a^(2), a^(3) with the
    confidence, the hidden units behind the answer, and one backprop step (y, δ^(3),
    δ^(2), ∂J/∂θ^(1)) when you say which digit it really is. The checkpoint is never
    changed; "Save a copy" writes a new file beside it. Stop with Ctrl-C.
    Needs: pip install 'digitnet[serve]'.
    """
    try:
        import uvicorn
    except ImportError:
        raise MissingExtraError("uvicorn", "serve") from None
    from digitnet.serve.app import LOOPBACK_NAMES, create_app
    from digitnet.serve.session import Session, one_blas_thread

    one_blas_thread()  # one example per request: threads cost more than they save
    import digitnet

    model = digitnet.load_model(checkpoint_path)  # None: ./checkpoints/model.npz, else bundled
    session = Session(model)
    loopback = is_loopback(host)
    if not loopback:
        click.echo(
            f"Warning: listening on {host}: anyone who can reach this machine can use the page,"
            " teach the network and save copies beside the checkpoint — use --host 127.0.0.1"
            " to keep it local",
            err=True,
        )
    app = create_app(session, allowed_hosts=LOOPBACK_NAMES if loopback else None)
    sock = bind(host, port)
    actual_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{actual_port}/"
    click.echo(
        f"digitnet serve: {session.summary()['architecture']} network from {model.path}"
        f"{' (bundled)' if model.bundled else ''} at {url} — Ctrl-C to stop",
        err=True,
    )
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])

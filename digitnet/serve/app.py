"""The web application behind ``digitnet serve``: the page and its JSON API (Starlette).

Routes (every answer of /api is JSON; every error is ``{"error": "<what> — <what to do>"}``
with a 4xx or 5xx status, never a traceback):

    GET  /                 the page (digitnet/serve/static/index.html)
    GET  /static/…         its script and style sheet, shipped in the package
    GET  /diagram.svg      the network diagram (digitnet.diagram) for the loaded checkpoint
    GET  /api/model        the checkpoint's summary (as ``digitnet info``) and taught steps
    POST /api/read         body: the image's bytes (a canvas PNG or a file), Content-Type image/*
    POST /api/teach        JSON {"a1": [784 numbers], "label": 0-9, "eta": number}
    POST /api/reset        JSON {}: forget the taught steps
    POST /api/save         JSON {}: write the taught network to a new file the server names

Safety, because a page on the user's machine is reachable by every other web page the
user opens: requests whose Host is not this server's own name are refused (DNS
rebinding), POST bodies must carry a content type a plain cross-site form cannot send
(image/* or application/octet-stream, application/json), so a foreign page's request
needs a CORS preflight, which this server never grants; bodies are limited in size and
read no further than the limit; images go through ``predict``'s loader (decompression
bomb refusal, size reduction); no value in a request names a file on the server.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from digitnet.errors import DigitnetError, ImageError, MissingExtraError
from digitnet.serve.session import RequestError, Session

logger = logging.getLogger("digitnet.serve")

#: largest image body accepted (a phone photo is 2-8 MB; predict reduces it anyway)
MAX_IMAGE_BYTES = 16 * 1024 * 1024
#: largest JSON body accepted (a teach request, 784 numbers, is about 10 kB)
MAX_JSON_BYTES = 256 * 1024
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
IMAGE_TYPES = ("image/", "application/octet-stream")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self';"
    " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


#: an endpoint: request in, response out (Starlette's types are imported lazily)
Endpoint = Callable[[Any], Awaitable[Any]]


class ApiError(Exception):
    """An error answered as JSON with this HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _require_starlette() -> None:
    try:
        import starlette  # noqa: F401
    except ImportError:
        raise MissingExtraError("starlette", "serve") from None


def create_app(session: Session, allowed_hosts: frozenset[str] | None = LOOPBACK_NAMES) -> Any:
    """The Starlette application serving ``session``.

    ``allowed_hosts``: names the Host header may carry (with any port); None accepts
    any (a server bound to all interfaces is reached under names it cannot know).
    """
    _require_starlette()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    diagram = _Diagram(session)

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def api(handler: Endpoint) -> Endpoint:
        """Every failure of ``handler`` becomes a JSON error; nothing escapes to the server."""

        async def wrapped(request: Request) -> Response:
            try:
                response: Response = await handler(request)
                return response
            except ApiError as exc:
                return error(exc.status, str(exc))
            except ClientDisconnect:  # the page went away mid-upload: nobody to answer
                return Response(status_code=400)
            except RequestError as exc:
                return error(400, str(exc))
            except ImageError as exc:
                return error(422, str(exc))
            except DigitnetError as exc:
                return error(500, str(exc))
            except Exception as exc:  # the server survives anything; say it is a bug
                logger.error("unexpected %s on %s: %s", type(exc).__name__, request.url.path, exc)
                return error(
                    500,
                    f"internal error ({type(exc).__name__}) — this is a bug in digitnet;"
                    " the server keeps running, please report it",
                )

        return wrapped

    async def read_body(request: Request, limit: int, what: str) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"{what} is too large (over {limit >> 10} KiB) — send less")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:  # stop reading: a lying or absent length changes nothing
                raise ApiError(413, f"{what} is too large (over {limit >> 10} KiB) — send less")
        return bytes(body)

    def content_type(request: Request) -> str:
        return request.headers.get("content-type", "").split(";")[0].strip().lower()

    async def read_json(request: Request, allowed: set[str]) -> dict[str, Any]:
        if content_type(request) != "application/json":
            raise ApiError(415, "send the request as JSON — Content-Type: application/json")
        body = await read_body(request, MAX_JSON_BYTES, "the request")
        if not body.strip():
            return {}
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise ApiError(400, "the request body is not valid JSON — send a JSON object") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the request body must be a JSON object — e.g. {}")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ApiError(
                400,
                f"unknown field {unknown[0][:40]!r} — this endpoint takes "
                + (", ".join(sorted(allowed)) if allowed else "no fields (the server names files)"),
            )
        return data

    @api
    async def model(request: Request) -> Response:
        return JSONResponse(session.summary())

    @api
    async def read(request: Request) -> Response:
        if not content_type(request).startswith(IMAGE_TYPES):
            raise ApiError(
                415, "send the image's bytes with Content-Type image/png (or another image/*)"
            )
        single = request.query_params.get("single", "0")
        if single not in ("0", "1"):
            raise ApiError(400, "single must be 0 or 1 — 1 reads the whole image as one digit")
        data = await read_body(request, MAX_IMAGE_BYTES, "the image")
        started = time.perf_counter()
        result = await run_in_threadpool(session.read, data, single == "1")
        result["server_ms"] = (time.perf_counter() - started) * 1000
        return JSONResponse(result)

    @api
    async def teach(request: Request) -> Response:
        data = await read_json(request, {"a1", "label", "eta"})
        missing = [k for k in ("a1", "label", "eta") if k not in data]
        if missing:
            raise ApiError(400, f"{missing[0]} is missing — send a1, label and eta")
        result = await run_in_threadpool(session.teach, data["a1"], data["label"], data["eta"])
        return JSONResponse(result)

    @api
    async def reset(request: Request) -> Response:
        await read_json(request, set())
        return JSONResponse(await run_in_threadpool(session.reset))

    @api
    async def save(request: Request) -> Response:
        await read_json(request, set())
        return JSONResponse(await run_in_threadpool(session.save_copy))

    @api
    async def diagram_svg(request: Request) -> Response:
        svg = await run_in_threadpool(diagram.svg)
        return Response(svg, media_type="image/svg+xml")

    async def index(request: Request) -> Response:
        page = (resources.files("digitnet.serve") / "static" / "index.html").read_bytes()
        return Response(
            page,
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            message = f"no such page or API route: {request.url.path[:80]} — see / for the page"
        elif status == 405:
            message = f"{request.method} is not accepted on {request.url.path[:80]} — see /"
        else:
            message = f"{getattr(exc, 'detail', 'error')} — see /"
        return error(status, message)

    async def server_error(request: Request, exc: Exception) -> Response:
        logger.error("unexpected %s on %s: %s", type(exc).__name__, request.url.path, exc)
        return error(500, "internal error — this is a bug in digitnet; the server keeps running")

    static = StaticFiles(packages=[("digitnet.serve", "static")])
    app = Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/diagram.svg", diagram_svg, methods=["GET"]),
            Route("/api/model", model, methods=["GET"]),
            Route("/api/read", read, methods=["POST"]),
            Route("/api/teach", teach, methods=["POST"]),
            Route("/api/reset", reset, methods=["POST"]),
            Route("/api/save", save, methods=["POST"]),
            Mount("/static", app=static, name="static"),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
    )
    if allowed_hosts is None:
        return app
    return _HostCheck(app, allowed_hosts)


class _HostCheck:
    """ASGI middleware: refuse a Host header that is not one of this server's names.

    Against DNS rebinding: a foreign site whose name is made to resolve to 127.0.0.1
    would otherwise count as same-origin for the browser and could use the API.
    """

    def __init__(self, app: Any, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            host = ""
            for key, value in scope.get("headers", []):
                if key == b"host":
                    host = value.decode("latin-1")
                    break
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name.lower() not in self.allowed:
                from starlette.responses import JSONResponse

                response = JSONResponse(
                    {"error": "this server answers only at 127.0.0.1 or localhost — open it there"},
                    status_code=400,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Diagram:
    """The network diagram for the loaded checkpoint, drawn once on first request."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._svg: bytes | None = None
        self._lock = threading.Lock()

    def svg(self) -> bytes:
        with self._lock:
            if self._svg is None:
                from digitnet.insight.diagram import NetworkShape, draw

                config = self.session.config
                shape = NetworkShape(
                    self.session.hidden_size, config.activation, config.output, config.l2
                )
                with tempfile.TemporaryDirectory(prefix="digitnet-serve-") as folder:
                    path = Path(folder) / "diagram.svg"
                    draw(shape, path)
                    self._svg = path.read_bytes()
            return self._svg

"""Draw-to-prediction time of ``digitnet serve`` (issue 13: target < 50 ms of server time).

Run from the project root (needs the serve extra):

    python benchmarks/serve_latency.py [--repeats 200] [--hidden 800 100]

For each network size a checkpoint is made (random θ at initialisation scale: the time
does not depend on the values), and a drawing like the page's is posted again and again:
a 280×280 PNG of black strokes on white, what ``canvas.toBlob`` sends after a stroke.
The page's next stroke waits for nothing else, so this is the time a user waits.

Three figures per size, medians and 90th percentiles over ``--repeats`` requests:

* server: ``server_ms`` as the app reports it, from the body in hand to the reading done
  (PNG decode, predict's preprocessing, forward pass, contributions and tiles);
* HTTP: the whole round trip from a client on the same machine to uvicorn serving the
  real app on 127.0.0.1 (request, body, routing, the above, JSON encoding, response);
* teach: one ``POST /api/teach`` round trip (backprop on one example and a step);
* CPU: ``Session.read`` called directly, its thread's CPU time (``time.thread_time``):
  what the reading costs whatever else the machine is doing (on a busy shared machine
  the wall-clock figures above include waiting for a core).

numpy's BLAS runs on one thread, as in ``digitnet serve`` (serve/session.py says why).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def machine_info() -> list[str]:
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = sorted(
        {
            f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')},"
            f" {i.get('num_threads')} threads)"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        }
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return [
        f"machine: {cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()},"
        f" load average {load:.2f}",
        f"python {platform.python_version()}, numpy {np.__version__}, BLAS: {'; '.join(blas)}",
    ]


def drawing() -> bytes:
    """A 7 drawn as the page draws strokes: 18 px round black lines on a white 280×280 pad."""
    image = Image.new("RGB", (280, 280), "white")
    pen = ImageDraw.Draw(image)
    pen.line([(70, 60), (210, 60), (120, 230)], fill="black", width=18, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_checkpoint(folder: Path, hidden: int) -> Path:
    from digitnet import checkpoint
    from digitnet.config import Config
    from digitnet.nn.network import init_params

    params = init_params(hidden, "relu", np.random.default_rng(0))
    path = folder / f"bench-{hidden}.npz"
    config = Config(hidden_size=hidden, activation="relu")
    checkpoint.save(path, checkpoint.Checkpoint(params=params, config=config))
    return path


class Server:
    """uvicorn serving the app on 127.0.0.1 in a thread, on a free port."""

    def __init__(self, app: object) -> None:
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False)  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> Server:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join()
        self.sock.close()


def post(conn: http.client.HTTPConnection, path: str, body: bytes, kind: str) -> dict:
    conn.request("POST", path, body=body, headers={"Content-Type": kind})
    response = conn.getresponse()
    data = json.loads(response.read())
    if response.status != 200:
        raise SystemExit(f"{path}: HTTP {response.status}: {data}")
    return data


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(values):6.1f} ms, p90 {p90:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--hidden", type=int, nargs="+", default=[800, 100])
    args = parser.parse_args()
    import digitnet

    try:
        from digitnet.serve.app import create_app
        from digitnet.serve.session import Session, one_blas_thread
    except ImportError as exc:
        sys.exit(f"needs the serve extra ({exc}): pip install 'digitnet[serve]'")

    one_blas_thread()  # as `digitnet serve` does
    for line in machine_info():
        print(line)
    image = drawing()
    print(f"request: a 280x280 PNG drawing of {len(image)} bytes, {args.repeats} times per size")
    with tempfile.TemporaryDirectory() as folder:
        for hidden in args.hidden:
            session = Session(digitnet.load_model(make_checkpoint(Path(folder), hidden)))
            with Server(create_app(session)) as server:
                conn = http.client.HTTPConnection("127.0.0.1", server.port)
                for _ in range(10):  # warm-up: imports, first allocations
                    first = post(conn, "/api/read", image, "image/png")
                server_ms, round_trip, teach = [], [], []
                for _ in range(args.repeats):
                    started = time.perf_counter()
                    reading = post(conn, "/api/read", image, "image/png")
                    round_trip.append((time.perf_counter() - started) * 1000)
                    server_ms.append(reading["server_ms"])
                lesson = json.dumps(
                    {"a1": first["digits"][0]["a1"], "label": 7, "eta": 0.01}
                ).encode()
                for _ in range(max(10, args.repeats // 4)):
                    started = time.perf_counter()
                    post(conn, "/api/teach", lesson, "application/json")
                    teach.append((time.perf_counter() - started) * 1000)
                conn.close()
            cpu = []
            for _ in range(args.repeats):
                started = time.thread_time()
                session.read(image)
                cpu.append((time.thread_time() - started) * 1000)
            verdict = "meets" if statistics.median(server_ms) < 50 else "MISSES"
            print(f"784-{hidden}-10  server {summary(server_ms)}  ({verdict} the 50 ms target)")
            print(f"784-{hidden}-10  HTTP   {summary(round_trip)}")
            print(f"784-{hidden}-10  teach  {summary(teach)}")
            print(f"784-{hidden}-10  CPU    {summary(cpu)}  (Session.read, CPU time)")


if __name__ == "__main__":
    main()

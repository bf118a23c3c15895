"""`digitnet serve`'s JSON API with Starlette's TestClient: what it computes (checked against
the network's own functions), what it refuses, and that it keeps answering afterwards."""

from __future__ import annotations

import hashlib
import io
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from test_image_faults import png_claiming
from test_predict_cli import draw

import digitnet
from digitnet import checkpoint
from digitnet.cli import main
from digitnet.images.preprocess import image_to_inputs
from digitnet.images.reading import UNCERTAIN_BELOW, bundled_checkpoint, read_image
from digitnet.nn import calibration, network
from digitnet.nn.activations import ACTIVATIONS

pytest.importorskip("starlette", reason="pip install 'digitnet[serve]' for the serve tests")
pytest.importorskip("httpx2", reason="Starlette's TestClient needs httpx2")
from starlette.testclient import TestClient

from digitnet.serve import app as app_module
from digitnet.serve.app import create_app
from digitnet.serve.session import Session


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def ckpt_path(tmp_path: Path) -> Path:
    """A copy of the bundled model in a folder of its own (copies go beside it)."""
    path = tmp_path / "models" / "model.npz"
    path.parent.mkdir()
    shutil.copy(bundled_checkpoint(), path)
    return path


@pytest.fixture
def session(ckpt_path: Path) -> Session:
    return Session(digitnet.load_model(ckpt_path))


@pytest.fixture
def client(session: Session) -> TestClient:
    return TestClient(create_app(session), base_url="http://127.0.0.1:8000")


@pytest.fixture
def seven(tmp_path: Path) -> Path:
    path = tmp_path / "seven.png"
    draw("7", size=(120, 140)).save(path)
    return path


def read(client: TestClient, data: bytes, content_type: str = "image/png", query: str = ""):
    return client.post(f"/api/read{query}", content=data, headers={"Content-Type": content_type})


def still_answers(client: TestClient, seven: Path) -> None:
    assert client.get("/api/model").status_code == 200
    response = read(client, seven.read_bytes())
    assert response.status_code == 200
    assert response.json()["number"] == "7"


def test_page_and_its_files_are_served_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/static/app.js"' in page.text
    assert "http://" not in page.text
    assert "https://" not in page.text
    for name, kind in [("app.js", "javascript"), ("style.css", "text/css")]:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200
        assert kind in response.headers["content-type"]
    svg = client.get("/diagram.svg")
    assert svg.status_code == 200
    assert "784" in svg.text
    assert "θ" in svg.text


def test_model_summary_is_info(client, ckpt_path):
    summary = client.get("/api/model").json()
    ckpt = checkpoint.load(ckpt_path)
    assert summary["architecture"] == f"784-{ckpt.params.hidden_size}-10"
    assert summary["config"] == ckpt.config.to_dict()
    assert summary["metrics"] == ckpt.metrics
    assert summary["checkpoint"] == "model.npz"  # a name, never the server's folders
    assert summary["taught_steps"] == 0


def test_reading_is_predicts_reading(client, ckpt_path, seven):
    """a^(1) is exactly predict's preprocessing; a^(3), confidence and the uncertain mark
    are predict's; the units' shares add up to z^(3) of the top class (B3)."""
    response = read(client, seven.read_bytes())
    assert response.status_code == 200
    body = response.json()
    ckpt = checkpoint.load(ckpt_path)
    expected = read_image(seven, ckpt)
    (digit,) = body["digits"]
    assert body["number"] == expected.number == "7"
    np.testing.assert_allclose(digit["a1"], image_to_inputs(seven)[0], atol=5e-5)
    np.testing.assert_allclose(digit["a3"], expected.digits[0].probabilities, atol=1e-6)
    assert digit["confidence"] == pytest.approx(expected.digits[0].confidence, abs=1e-7)
    assert digit["uncertain"] is (digit["confidence"] < UNCERTAIN_BELOW)
    A1 = image_to_inputs(seven)
    cache = network.forward(ckpt.params, A1, ckpt.config.activation, ckpt.config.output)
    np.testing.assert_allclose(digit["a2"], cache.A2[0], atol=5e-5)
    assert len(digit["a2"]) == len(digit["contribution"]) == ckpt.params.hidden_size
    z3_top = sum(digit["contribution"]) + digit["bias"]
    assert z3_top == pytest.approx(float(cache.Z3[0, 7]), abs=1e-3)
    ups = [u["contribution"] for u in digit["units_up"]]
    assert ups == sorted(ups, reverse=True)
    assert all(c > 0 for c in ups)
    assert all(u["contribution"] < 0 for u in digit["units_down"])
    unit = digit["units_up"][0]
    row = ckpt.params.W1[unit["unit"]]
    np.testing.assert_allclose(unit["tile"], np.rint(row * 100 / np.abs(row).max()))
    assert body["server_ms"] > 0


def test_several_digits_come_with_boxes_left_to_right(client):
    body = read(client, png_bytes(draw("2016"))).json()
    assert body["number"] == "2016"
    boxes = [d["box"] for d in body["digits"]]
    assert all(
        0 <= left < right <= 1 and 0 <= top < bottom <= 1 for left, top, right, bottom in boxes
    )
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)
    single = read(client, png_bytes(draw("2016")), query="?single=1").json()
    assert len(single["digits"]) == 1


def test_teach_is_one_backprop_step_and_never_writes_the_checkpoint(client, ckpt_path, seven):
    before_bytes = hashlib.sha256(ckpt_path.read_bytes()).hexdigest()
    a1 = read(client, seven.read_bytes()).json()["digits"][0]["a1"]
    response = client.post("/api/teach", json={"a1": a1, "label": 1, "eta": 0.5})
    assert response.status_code == 200, response.text
    step = response.json()

    # The same step done here with the network's own functions, independently.
    ckpt = checkpoint.load(ckpt_path)
    act, out, l2 = ckpt.config.activation, ckpt.config.output, ckpt.config.l2
    n = ckpt.metrics["n_train"]
    A1 = np.array([a1], dtype=np.float32)
    y = np.array([1])
    cache = network.forward(ckpt.params, A1, act, out)
    delta3 = cache.A3[0] - np.eye(10, dtype=np.float32)[1]  # (B6)
    _, g_prime_times = ACTIVATIONS[act]
    delta2 = g_prime_times(cache.A2, (delta3 @ ckpt.params.W2)[None, :].copy())[0]  # (B7)
    grads = network.backprop(ckpt.params, cache, y, act, l2, n)
    assert step["y"] == [0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    np.testing.assert_allclose(step["delta3"], delta3, atol=1e-6)
    np.testing.assert_allclose(step["delta2"], delta2, atol=1e-6)
    norms = np.sqrt((grads.W1**2).sum(axis=1) + grads.b1**2)
    np.testing.assert_allclose(step["grad_norm"], norms, rtol=1e-4, atol=1e-7)
    taught = network.Params(
        W1=ckpt.params.W1 - 0.5 * grads.W1,
        b1=ckpt.params.b1 - 0.5 * grads.b1,
        W2=ckpt.params.W2 - 0.5 * grads.W2,
        b2=ckpt.params.b2 - 0.5 * grads.b2,
    )
    after = network.predict_proba(taught, A1, act, out)[0]
    np.testing.assert_allclose(step["a3_after"], after, atol=1e-5)
    assert step["a3_after"][1] > step["a3_before"][1]  # the step moved a^(3) toward y
    assert step["cost_after"] < step["cost_before"]
    assert len(step["grad_units"]) == 6
    assert step["taught_steps"] == 1

    # Later readings use the taught network; the checkpoint file is untouched.
    again = read(client, seven.read_bytes()).json()
    assert again["taught_steps"] == 1
    # Readings show a^(3) at the checkpoint's temperature, as predict does (nn/calibration.py).
    shown = calibration.predict_proba(taught, A1, act, out, ckpt.temperature)[0]
    assert again["digits"][0]["a3"][1] == pytest.approx(shown[1], abs=1e-5)
    assert hashlib.sha256(ckpt_path.read_bytes()).hexdigest() == before_bytes
    assert sorted(p.name for p in ckpt_path.parent.iterdir()) == ["model.npz"]

    assert client.post("/api/reset", json={}).json() == {"taught_steps": 0}
    reset = read(client, seven.read_bytes()).json()["digits"][0]["a3"]
    np.testing.assert_allclose(
        reset, calibration.probabilities(cache.Z3, out, ckpt.temperature)[0], atol=1e-6
    )


def test_save_a_copy_writes_a_new_file_the_server_names(client, ckpt_path, seven):
    a1 = read(client, seven.read_bytes()).json()["digits"][0]["a1"]
    client.post("/api/teach", json={"a1": a1, "label": 1, "eta": 1.0})
    first = client.post("/api/save", json={})
    assert first.status_code == 200, first.text
    second = client.post("/api/save", json={}).json()
    saved = first.json()
    assert saved["saved"].startswith("model.taught-")
    assert saved["saved"].endswith(".npz")
    assert second["saved"] != saved["saved"]  # never replaces a file
    copy = checkpoint.load(ckpt_path.parent / saved["saved"])
    original = checkpoint.load(ckpt_path)
    assert copy.metrics["taught_steps"] == 1
    assert not np.array_equal(copy.params.W1, original.params.W1)
    assert copy.config == original.config
    # a name or folder in the request is refused, not used
    refused = client.post("/api/save", json={"path": "/tmp/evil.npz"})
    assert refused.status_code == 400
    assert "server names files" in refused.json()["error"]
    assert not Path("/tmp/evil.npz").exists()


def test_copies_of_the_bundled_model_go_to_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    client = TestClient(create_app(Session(digitnet.bundled_model())), base_url="http://localhost")
    saved = client.post("/api/save", json={}).json()
    assert (tmp_path / "checkpoints" / saved["saved"]).is_file()
    assert client.get("/api/model").json()["bundled"] is True


def test_unwritable_folder_is_a_json_error(client, ckpt_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(checkpoint, "save", refuse)
    response = client.post("/api/save", json={})
    assert response.status_code == 500
    assert response.json()["error"].startswith("cannot write a copy in ")


BIG = 17 * 1024 * 1024
ZEROS = ", ".join(["0"] * 784)
TEACH_INFINITE_ETA = f'{{"a1": [{ZEROS}], "label": 3, "eta": 1e309}}'.encode()  # json: inf
TEACH_NAN_A1 = f'{{"a1": [NaN, {ZEROS[3:]}], "label": 3, "eta": 1}}'.encode()


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "says"),
    [
        ("post", "/api/read", {"content": b"\0" * BIG, "ct": "image/png"}, 413, "too large"),
        (
            "post",
            "/api/read",
            {"content": b"just some text", "ct": "image/png"},
            422,
            "not an image",
        ),
        (
            "post",
            "/api/read",
            {"content": png_claiming(30000, 30000), "ct": "image/png"},
            422,
            "too large to decode safely",
        ),
        (
            "post",
            "/api/read",
            {"content": png_claiming(10000, 10000), "ct": "image/png"},
            422,
            "too large to decode safely",
        ),
        ("post", "/api/read", {"content": b"", "ct": "image/png"}, 422, "empty"),
        (
            "post",
            "/api/read",
            {"content": b"a=1", "ct": "application/x-www-form-urlencoded"},
            415,
            "image/png",
        ),
        (
            "post",
            "/api/read?single=/etc/passwd",
            {"content": b"x", "ct": "image/png"},
            400,
            "0 or 1",
        ),
        (
            "post",
            "/api/teach",
            {"content": b'{"a1": [0.1, ', "ct": "application/json"},
            400,
            "not valid JSON",
        ),
        (
            "post",
            "/api/teach",
            {"content": b"[1, 2]", "ct": "application/json"},
            400,
            "JSON object",
        ),
        (
            "post",
            "/api/teach",
            {"content": b"\xff\xfe{", "ct": "application/json"},
            400,
            "not valid",
        ),
        (
            "post",
            "/api/teach",
            {"content": b"[" * 100000 + b"]" * 100000, "ct": "application/json"},
            400,
            "JSON",
        ),
        ("post", "/api/teach", {"content": b"{}", "ct": "text/plain"}, 415, "application/json"),
        ("post", "/api/teach", {"json": {"label": 3, "eta": 0.5}}, 400, "a1 is missing"),
        ("post", "/api/teach", {"json": {"a1": "/etc/passwd", "label": 3, "eta": 0.5}}, 400, "a1"),
        (
            "post",
            "/api/teach",
            {"json": {"a1": [0.0] * 784, "label": "../../etc/passwd", "eta": 1}},
            400,
            "label must be a digit",
        ),
        (
            "post",
            "/api/teach",
            {"content": TEACH_INFINITE_ETA, "ct": "application/json"},
            400,
            "eta",
        ),
        ("post", "/api/teach", {"content": TEACH_NAN_A1, "ct": "application/json"}, 400, "[0, 1]"),
        ("post", "/api/teach", {"json": {"a1": [0.0] * 784, "label": 3, "eta": -1}}, 400, "eta"),
        ("post", "/api/teach", {"json": {"a1": [2.0] * 784, "label": 3, "eta": 1}}, 400, "[0, 1]"),
        ("post", "/api/teach", {"json": {"a1": [0.0] * 783, "label": 3, "eta": 1}}, 400, "784"),
        (
            "post",
            "/api/teach",
            {"json": {"a1": [0.0] * 784, "label": 3, "eta": 1, "file": "x"}},
            400,
            "unknown field",
        ),
        ("post", "/api/save", {"json": {"name": "../../model.npz"}}, 400, "server names files"),
        ("post", "/api/reset", {"content": b"{", "ct": "application/json"}, 400, "not valid JSON"),
        ("get", "/api/nothing", {}, 404, "no such page"),
        ("get", "/static/../../digitnet/cli.py", {}, 404, "no such page"),
        ("get", "/static/%2e%2e/%2e%2e/etc/passwd", {}, 404, "no such page"),
        ("get", "/api/read", {}, 405, "not accepted"),
        ("delete", "/api/model", {}, 405, "not accepted"),
    ],
)
def test_bad_requests_get_a_clear_json_error_and_the_server_answers_after(
    client, seven, method, path, kwargs, status, says
):
    kwargs = dict(kwargs)
    if "ct" in kwargs:
        kwargs["headers"] = {"Content-Type": kwargs.pop("ct")}
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert says in message
    assert "\n" not in message
    assert "Traceback" not in message
    still_answers(client, seven)


def test_a_body_without_length_is_cut_at_the_limit(client, seven):
    def chunks():
        for _ in range(40):
            yield b"\0" * (1024 * 1024)  # 40 MiB offered, streamed without Content-Length

    response = client.post("/api/read", content=chunks(), headers={"Content-Type": "image/png"})
    assert response.status_code == 413
    still_answers(client, seven)


def test_a_foreign_host_name_is_refused(client, seven):
    response = client.get("/api/model", headers={"Host": "attacker.example:8000"})
    assert response.status_code == 400
    assert "127.0.0.1 or localhost" in response.json()["error"]
    still_answers(client, seven)


def test_a_bug_is_a_json_error_and_the_server_survives(client, session, seven, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(session, "read", broken)
    response = read(client, seven.read_bytes())
    assert response.status_code == 500
    assert "internal error (RuntimeError)" in response.json()["error"]
    monkeypatch.undo()
    still_answers(client, seven)


# -- the command -----------------------------------------------------------------------------


def test_serve_warns_once_off_the_loopback(monkeypatch):
    import uvicorn

    runs = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: runs.append(sockets))
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("Warning:") == 1
    assert "anyone who can reach this machine" in result.stderr
    (sockets,) = runs
    sockets[0].close()
    local = CliRunner().invoke(main, ["serve", "--port", "0"])
    assert "Warning" not in local.stderr
    assert "at http://127.0.0.1:" in local.stderr
    runs[-1][0].close()


def test_serve_errors_are_one_line(tmp_path, monkeypatch):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = str(taken.getsockname()[1])
    try:
        result = CliRunner().invoke(main, ["serve", "--port", port])
        assert result.exit_code == 1
        assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}")
        assert result.stderr.count("\n") == 1
    finally:
        taken.close()
    missing = CliRunner().invoke(main, ["serve", "--checkpoint", str(tmp_path / "no.npz")])
    assert missing.exit_code == 1
    assert "does not exist" in missing.stderr
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    no_extra = CliRunner().invoke(main, ["serve"])
    assert no_extra.exit_code == 1
    assert no_extra.stderr == (
        "Error: uvicorn is not installed (needed here) — pip install 'digitnet[serve]'\n"
    )


def test_app_module_names_no_server_path_in_its_answers(client, ckpt_path, seven):
    """Answers carry file names at most: no folder of the server leaks except where a copy
    was saved (which the user asked for)."""
    texts = [client.get("/api/model").text, read(client, seven.read_bytes()).text]
    for text in texts:
        assert str(ckpt_path.parent) not in text
    assert app_module.MAX_IMAGE_BYTES < BIG  # the oversized-body case above is over the limit

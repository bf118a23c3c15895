"""`digitnet serve` in a real browser: Debian's Chromium, headless, driven by Playwright.

The real server (uvicorn on 127.0.0.1, a free port, in a thread) serves the bundled
model. A digit is drawn with mouse events, an image is uploaded, one
backprop step is taught, a bad upload is shown as an error while the page keeps
working, and no console error appears. Screenshots of each state are kept in
tests/artifacts/ (git-ignored). The same browser opens `evaluate --report`'s HTML
and checks that every image in it loads.

Skipped, with the reason, when /usr/bin/chromium or the playwright package is absent
(`.ci/run` installs Chromium; Playwright's own browser download is not used).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_predict_cli import draw

import digitnet
from digitnet.cli import main
from digitnet.images.reading import bundled_checkpoint

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is absent — apt-get install chromium to run the browser tests",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="pip install playwright to run the browser tests"
)
uvicorn = pytest.importorskip("uvicorn", reason="pip install 'digitnet[serve]'")

from digitnet.serve.app import create_app  # noqa: E402
from digitnet.serve.session import Session  # noqa: E402


class LiveServer:
    """uvicorn serving the page on 127.0.0.1 in a thread, on a port the OS picks."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("model")
    path = folder / "model.npz"
    shutil.copy(bundled_checkpoint(), path)
    with LiveServer(create_app(Session(digitnet.load_model(path)))) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        ARTIFACTS.mkdir(exist_ok=True)  # which browser made the screenshots beside it
        (ARTIFACTS / "chromium-version.txt").write_text(f"Chromium {launched.version}\n")
        yield launched
        launched.close()


class Console:
    """Every console message of type error and every uncaught page error."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.console = Console(page)
    page.goto(server.url)
    sync_api.expect(page.locator("#model-line")).to_contain_text("784-800-10")
    yield page
    context.close()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def draw_seven(page: Any) -> None:
    """One stroke, as a person draws a 7: the bar left to right, then the stem down-left."""
    box = page.locator("#pad").bounding_box()
    scale = box["width"] / 280

    def at(x: float, y: float) -> tuple[float, float]:
        return box["x"] + x * scale, box["y"] + y * scale

    page.mouse.move(*at(70, 60))
    page.mouse.down()
    for x in range(70, 211, 10):
        page.mouse.move(*at(x, 60))
    for step in range(1, 18):
        page.mouse.move(*at(210 - step * 90 / 17, 60 + step * 170 / 17))
    page.mouse.up()


def canvas_ink(page: Any, selector: str) -> int:
    """How many pixels of a canvas are not plain white or black (something was drawn)."""
    return int(
        page.eval_on_selector(
            selector,
            """(c) => {
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0;
                for (let i = 0; i < d.length; i += 4) {
                    const white = d[i] === 255 && d[i + 1] === 255 && d[i + 2] === 255;
                    const black = d[i] === 0 && d[i + 1] === 0 && d[i + 2] === 0;
                    if (!white && !black) n += 1;
                }
                return n;
            }""",
        )
    )


def test_draw_a_digit_and_see_the_network_read_it(page):
    draw_seven(page)
    sync_api.expect(page.locator("#answer")).to_have_attribute("data-digit", "7")
    assert page.locator("#bars .bar").count() == 10
    assert page.locator("#units-up .tile").count() > 0
    assert canvas_ink(page, "#a2") > 0  # the a^(2) grid was painted
    a1_lit = page.eval_on_selector(
        "#a1",
        """(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 128) n += 1;
                    return n; }""",
    )
    assert a1_lit > 500  # a 7's strokes, light on black, as MNIST
    assert page.locator("#error").is_hidden()
    shot(page, "1-drawn-seven")
    assert page.console.errors == []


def test_upload_an_image_of_a_number(page, tmp_path):
    path = tmp_path / "year.png"
    draw("2016").save(path)
    page.set_input_files("#file", str(path))
    sync_api.expect(page.locator("#answer")).to_have_attribute("data-digit", "2016")
    assert page.locator("#digit-choice button").count() == 4
    page.locator("#digit-choice button").nth(2).click()  # look inside the third digit
    sync_api.expect(page.locator("#digit-choice button.chosen")).to_have_text("1")
    shot(page, "2-uploaded-number")
    assert page.console.errors == []


def test_teach_one_step_shows_delta3_and_the_new_a3(page):
    draw_seven(page)
    sync_api.expect(page.locator("#answer")).to_have_attribute("data-digit", "7")
    page.locator('#labels button[data-label="1"]').click()
    page.fill("#eta", "2")
    page.locator("#teach").click()
    result = page.locator("#teach-result")
    sync_api.expect(result).to_be_visible()
    sync_api.expect(page.locator("#cost-line")).to_contain_text("y = 1, η = 2")
    rows = page.locator("#delta3 > span:nth-child(3n)")  # the value column of δ^(3)
    assert rows.count() == 10
    delta3 = [float(rows.nth(k).inner_text()) for k in range(10)]
    assert delta3[1] < 0  # a^(3)_1 − 1: the true class is pulled up
    assert all(v >= 0 for k, v in enumerate(delta3) if k != 1)
    assert page.locator("#after .bar").count() == 10
    after = page.locator("#after > span:nth-child(3n)").nth(1).inner_text()  # "before→after"
    before_p, after_p = (float(p.rstrip("%")) for p in after.split("→"))
    assert after_p > before_p  # the step moved a^(3)_1 up
    assert page.locator("#grad-tiles .tile").count() == 6
    assert canvas_ink(page, "#gradnorm") > 0
    sync_api.expect(page.locator("#taught")).to_contain_text("1 step(s) taught")
    shot(page, "3-taught-step")
    page.locator("#reset").click()
    sync_api.expect(page.locator("#taught")).to_contain_text("the network is the checkpoint's")
    assert page.console.errors == []


def test_a_bad_upload_shows_an_error_and_the_page_keeps_working(page, tmp_path):
    bad = tmp_path / "not-an-image.png"
    bad.write_text("this is text, not a PNG")
    page.set_input_files("#file", str(bad))
    error = page.locator("#error")
    sync_api.expect(error).to_be_visible()
    sync_api.expect(error).to_contain_text("is not an image")
    shot(page, "4-bad-upload")
    notes = tmp_path / "notes.txt"  # a file the browser does not call an image at all
    notes.write_text("not a digit")
    page.locator("#clear").click()
    sync_api.expect(error).to_be_hidden()
    page.set_input_files("#file", str(notes))
    sync_api.expect(error).to_contain_text("the uploaded image is not an image Pillow can read")
    page.locator("#clear").click()
    draw_seven(page)
    sync_api.expect(page.locator("#answer")).to_have_attribute("data-digit", "7")
    sync_api.expect(error).to_be_hidden()
    # The browser logs each refused request itself ("Failed to load resource: … 422");
    # those lines are the expected answers to the two bad files. Nothing else may appear.
    others = [e for e in page.console.errors if "status of 422" not in e]
    assert others == []
    assert len(page.console.errors) <= 2


def test_evaluate_report_images_all_load(browser, mnist_dir, tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            "--checkpoint",
            str(bundled_checkpoint()),
            "--data-dir",
            str(mnist_dir),
            "--report",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    context = browser.new_context()
    page = context.new_page()
    console = Console(page)
    page.goto((out / "report.html").as_uri())
    page.wait_for_load_state("load")
    images = page.eval_on_selector_all(
        "img", "(imgs) => imgs.map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert len(images) >= 4
    for alt, complete, width, height in images:
        assert complete, alt
        assert width > 100, alt
        assert height > 100, alt
    page.screenshot(path=str(_artifact("5-evaluate-report")), full_page=True)
    assert console.errors == []
    context.close()


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"

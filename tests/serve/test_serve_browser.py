"""End to end in a real browser: draw MNIST test digits on the page and read what it shows.

The server (shipped default model) runs in a thread on a free 127.0.0.1 port; Debian's headless
Chromium (``/usr/bin/chromium``, driven by Playwright with ``executable_path``, so nothing is
downloaded) opens the page. Each digit is traced with the mouse, scaled up 10x: every run of
inked pixels in a row becomes one stroke. The test then waits for the page to show the answer
for the final drawing and checks

- the digit the page announces (at least 9 of the 10 must be right);
- that the page's "what the network sees" picture equals ``tinycnn.data.pictures.mnist_style``
  applied here to the canvas pixels read back from the page, byte for byte;
- that probability bars and feature maps are on the page, and a touch stroke draws too;
- that clicking a feature map shows the model's own filter (every input channel) and outlines
  the receptive field, and that Clear empties the maps and the explanation;
- the colour-scale switch (per map / per layer) and the friendly answer to a single click.

A screenshot goes to ``artifacts/serve_screenshot.png``. Without Chromium or Playwright the test
skips on a laptop and fails in CI (``CI=true``), where ``.ci/run`` installs them.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, in_ci

from tinycnn.data.mnist import load_mnist
from tinycnn.data.pictures import mnist_style
from tinycnn.serve.default_model import load_default_model
from tinycnn.serve.server import make_server
from tinycnn.teach.probes import class_probabilities

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCALE = 10  # MNIST pixels -> canvas pixels (the canvas is 280x280)
INK = 100  # a pixel darker than this is not traced
SCREENSHOT = REPO_ROOT / "artifacts" / "serve_screenshot.png"
pytestmark = pytest.mark.timeout(300)


def require(condition: bool, message: str) -> None:
    """Skip on a laptop, fail in CI, when the browser tooling is missing."""
    if not condition:
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def model():
    return load_default_model()


@pytest.fixture(scope="module")
def url(model):
    server = make_server(model, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.url
    server.shutdown()
    server.server_close()
    thread.join(30)


@pytest.fixture(scope="module")
def browser():
    require(CHROMIUM.is_file(), f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, url):
    context = browser.new_context(viewport={"width": 1180, "height": 1000}, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_function("() => document.getElementById('model-info').textContent.length > 0")
    yield page
    context.close()
    assert errors == [], errors


def ten_digits() -> tuple[np.ndarray, np.ndarray]:
    """The first test image of each class in the embedded MNIST subset (real test digits)."""
    (_, _), (x_test, y_test) = load_mnist(subset=True)
    first = [int(np.flatnonzero(y_test == k)[0]) for k in range(10)]
    return x_test[first, :, :, 0], y_test[first]


def strokes(digit: np.ndarray) -> list[tuple[float, float, float]]:
    """Horizontal strokes (y, x_start, x_end) in canvas pixels covering the inked pixels."""
    out = []
    for r, row in enumerate(digit >= INK):
        padded = np.concatenate([[False], row, [False]])
        edges = np.flatnonzero(np.diff(padded.astype(np.int8)))  # run starts and ends
        for c0, c1 in zip(edges[::2], edges[1::2] - 1, strict=True):
            out.append(((r + 0.5) * SCALE, (c0 + 0.5) * SCALE, (c1 + 0.5) * SCALE))
    return out


def draw(page, digit: np.ndarray) -> None:
    page.click("#clear")
    box = page.locator("#pad").bounding_box()
    for y, x0, x1 in strokes(digit):
        page.mouse.move(box["x"] + x0, box["y"] + y)
        page.mouse.down()
        page.mouse.move(box["x"] + x1, box["y"] + y)
        page.mouse.up()


def settle(page) -> None:
    """Wait until the answer for the current drawing is on the page."""
    # Predicates as functions: a string expression needs eval, which the server's CSP forbids.
    page.wait_for_function(
        "() => window.tinycnn.shown === window.tinycnn.version && !window.tinycnn.busy",
        timeout=30_000,
    )


READ_BACK = """() => {
  const grey = (id) => {
    const c = document.getElementById(id);
    return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
  };
  return {pad: grey('pad'), seen: grey('seen'),
          prediction: document.getElementById('prediction').textContent.trim(),
          bars: document.querySelectorAll('#bars .bar').length,
          maps: document.querySelectorAll('#layers canvas').length};
}"""


def grey_levels(rgba: list[int], side: int) -> np.ndarray:
    """An RGBA canvas read back from the page as grey levels, shape (side, side)."""
    pixels = np.array(rgba, dtype=np.uint8).reshape(side, side, 4)
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()
    return pixels[..., 0]


def test_page_recognises_drawn_mnist_digits(page, model):
    digits, labels = ten_digits()
    correct = 0
    for digit, label in zip(digits, labels, strict=True):
        draw(page, digit)
        settle(page)
        shown = page.evaluate(READ_BACK)
        pad = grey_levels(shown["pad"], 280)
        expected = mnist_style(pad / 255.0)  # (28, 28, 1), the library's preprocessing
        seen = grey_levels(shown["seen"], 28)
        np.testing.assert_array_equal(seen, np.rint(expected[..., 0] * 255).astype(np.uint8))
        p = class_probabilities(model, expected[np.newaxis])[0]
        assert shown["prediction"] == str(int(np.argmax(p)))
        assert shown["bars"] == 10 and shown["maps"] == 32 + 64
        correct += shown["prediction"] == str(label)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert correct >= 9, f"{correct} of 10 drawn digits recognised"


def test_touch_stroke_draws_and_clear_empties(page):
    box = page.locator("#pad").bounding_box()
    cdp = page.context.new_cdp_session(page)
    points = [(box["x"] + 140, box["y"] + y) for y in range(40, 251, 15)]  # a vertical "1"
    kinds = ["touchStart"] + ["touchMove"] * (len(points) - 1)
    for kind, (x, y) in zip(kinds, points, strict=True):
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    settle(page)
    shown = page.evaluate(READ_BACK)
    pad = grey_levels(shown["pad"], 280)
    assert pad[40:250, 140].min() == 255 and pad[:, :100].max() == 0
    assert shown["prediction"] == "1"
    page.click("#clear")
    shown = page.evaluate(READ_BACK)
    assert grey_levels(shown["pad"], 280).max() == 0
    assert grey_levels(shown["seen"], 28).max() == 0 and shown["prediction"] == ""


def map_canvas(page, layer: int, channel: int):
    return page.locator(f'#layers canvas[data-layer="{layer}"][data-channel="{channel}"]')


SHOWN_FILTERS = """() => Array.from(document.querySelectorAll('#filters table')).map(
  (table) => Array.from(table.querySelectorAll('tr')).map(
    (tr) => Array.from(tr.querySelectorAll('td')).map(
      (td) => [Number(td.dataset.weight), td.querySelector('.w').textContent])))"""


def field_outline(page) -> np.ndarray:
    """Where the receptive-field overlay is drawn, as a (168, 168) bool array."""
    rgba = page.evaluate(
        "() => Array.from(document.getElementById('field').getContext('2d')"
        ".getImageData(0, 0, 168, 168).data)"
    )
    return np.array(rgba, dtype=np.uint8).reshape(168, 168, 4)[..., 3] > 0


@pytest.mark.parametrize(("layer", "channel", "row", "col"), [(0, 3, 12, 14), (1, 17, 5, 4)])
def test_clicking_a_feature_map_shows_its_filter_and_clear_empties_the_maps(
    page, model, layer, channel, row, col
):
    digits, _ = ten_digits()
    draw(page, digits[3])
    settle(page)
    canvas = map_canvas(page, layer, channel)
    box = canvas.bounding_box()
    size = page.evaluate(
        f"() => document.querySelector('#layers canvas[data-layer=\"{layer}\"]').width"
    )
    zoom = box["width"] / size
    canvas.click(position={"x": (col + 0.5) * zoom, "y": (row + 0.5) * zoom})
    page.wait_for_function("() => window.tinycnn.explained !== null", timeout=30_000)
    answer = page.evaluate("window.tinycnn.explained")
    assert (answer["layer"], answer["channel"], answer["row"], answer["col"]) == (
        ["conv2d", "conv2d_1"][layer],
        channel,
        row,
        col,
    )
    w = [conv for conv in model.layers if type(conv).__name__ == "Conv2D"][layer].params["w"]
    shown = page.evaluate(SHOWN_FILTERS)  # [C][KH][KW] of (full value, text shown)
    assert len(shown) == w.shape[2]
    for c, rows in enumerate(shown):
        values = np.array([[cell[0] for cell in r] for r in rows])
        np.testing.assert_array_equal(values, w[:, :, c, channel])
        texts = [[cell[1] for cell in r] for r in rows]
        assert texts == [[f"{v:.3f}" for v in r] for r in w[:, :, c, channel].astype(float)]
    assert page.is_visible("#explain")
    # the receptive field is outlined on the 28x28 picture, 6 screen pixels per input pixel
    rf = answer["receptive_field"]
    outline = field_outline(page)
    ys, xs = np.nonzero(outline)
    assert ys.min() >= 6 * rf["top"] and ys.max() < 6 * (rf["bottom"] + 1)
    assert xs.min() >= 6 * rf["left"] and xs.max() < 6 * (rf["right"] + 1)
    assert (ys.max() - ys.min()) >= 6 * (rf["bottom"] - rf["top"] + 1) - 4
    page.click("#clear")
    assert page.evaluate("document.querySelectorAll('#layers canvas').length") == 0
    assert "They appear once you draw" in page.text_content("#layers")
    assert page.evaluate("window.tinycnn.explained") is None
    assert not page.is_visible("#explain") and not field_outline(page).any()


def map_maxima(page, layer: int) -> np.ndarray:
    """The brightest red level of every map of a layer as drawn on the page."""
    return np.array(
        page.evaluate(
            f"""() => Array.from(document.querySelectorAll('#layers canvas[data-layer="{layer}"]'))
              .map((c) => Math.max(...c.getContext('2d')
                 .getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0)))"""
        )
    )


def test_colour_scale_switch_per_map_or_per_layer(page):
    digits, _ = ten_digits()
    draw(page, digits[0])
    settle(page)
    high = np.array(page.evaluate("window.tinycnn.last.feature_maps[1].high"))
    per_map = map_maxima(page, 1)
    lively = high > 0
    assert (per_map[lively] == 252).all()  # every lively map reaches the top of the ramp
    page.check('input[name="scale"][value="layer"]')
    per_layer = map_maxima(page, 1)
    assert per_layer[np.argmax(high)] == 252  # only the strongest map does
    weak = np.argmin(np.where(lively, high, np.inf))
    assert per_layer[weak] < per_map[weak]
    page.check('input[name="scale"][value="map"]')
    np.testing.assert_array_equal(map_maxima(page, 1), per_map)


def test_a_click_gets_a_friendly_answer(page):
    box = page.locator("#pad").bounding_box()
    page.mouse.click(box["x"] + 140, box["y"] + 140)
    settle(page)
    assert "too little ink" in page.text_content("#status")
    assert page.text_content("#prediction").strip() == ""
    assert page.evaluate("document.querySelectorAll('#layers canvas').length") == 0

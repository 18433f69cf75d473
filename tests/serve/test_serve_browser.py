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
- the colour-scale switch (per map / per layer) and the friendly answer to a single click;
- the whole network, one column per layer through the softmax; clicking (or Enter on) a pooled
  value, a dense unit and a class shows how each is computed; the saliency and occlusion maps
  appear over the drawing; "make it a 3" makes the network say 3 and shows the change; a
  refused request's sentence is shown; the layout holds in a phone-sized window.

No test may leave a script error or a console error (a CSP violation is one) on the page.

A screenshot goes to ``artifacts/serve_screenshot.png``. Without Chromium or Playwright the test
skips on a laptop and fails in CI (``CI=true``), where ``.ci/run`` installs them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, in_ci
from serving import running_server

from tinycnn.data.mnist import load_mnist
from tinycnn.data.pictures import mnist_style
from tinycnn.serve.default_model import load_default_model
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
    with running_server(model) as server:
        yield server.url


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


def console_errors(message) -> list[str]:
    """A console error other than a refused request's status line (the 422 for too little ink
    while a digit is begun, the 404 for /favicon.ico): a script error or a CSP violation."""
    if message.type != "error" or message.text.startswith("Failed to load resource"):
        return []
    return [message.text]


def open_page(browser, url, viewport):
    context = browser.new_context(viewport=viewport, has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.extend(console_errors(message)))
    page.goto(url)
    page.wait_for_function("() => document.getElementById('model-info').textContent.length > 0")
    return context, page, errors


@pytest.fixture
def page(browser, url):
    context, page, errors = open_page(browser, url, {"width": 1180, "height": 1000})
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
          maps: document.querySelectorAll('#layers canvas[data-kind="conv"]').length};
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
    return page.locator(
        f'#layers canvas[data-kind="conv"][data-index="{layer}"][data-channel="{channel}"]'
    )


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
    size = canvas.evaluate("(c) => c.width")
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
            f"""() => Array.from(document.querySelectorAll(
                '#layers canvas[data-kind="conv"][data-index="{layer}"]'))
              .map((c) => Math.max(...c.getContext('2d')
                 .getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0)))"""
        )
    )


def test_colour_scale_switch_per_map_or_per_layer(page):
    digits, _ = ten_digits()
    draw(page, digits[0])
    settle(page)
    high = np.array(page.evaluate("window.tinycnn.last.layers[2].high"))  # conv2d_1
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


# -- the whole network, what it looks at, fooling it -----------------------------------------
COLUMNS = """() => Array.from(document.querySelectorAll('#layers .column')).map((c) => [
  c.querySelector('h3').textContent, c.querySelectorAll('canvas').length,
  c.querySelectorAll('.unit').length, c.querySelectorAll('.class-row').length])"""


def draw_seven(page) -> None:
    digits, _ = ten_digits()
    draw(page, digits[7])
    settle(page)
    page.wait_for_function(
        "() => window.tinycnn.looksVersion === window.tinycnn.version && !window.tinycnn.looking",
        timeout=30_000,
    )


def click_cell(page, locator, row: int, col: int) -> None:
    """Click value (row, col) of a feature-map canvas, whatever its zoom."""
    zoom = locator.bounding_box()["width"] / locator.evaluate("(c) => c.width")
    locator.click(position={"x": (col + 0.5) * zoom, "y": (row + 0.5) * zoom})


def explained(page, kind: str) -> dict:
    page.wait_for_function(
        f"() => window.tinycnn.explained && window.tinycnn.explained.kind === '{kind}'",
        timeout=30_000,
    )
    return page.evaluate("window.tinycnn.explained")


def test_every_layer_has_a_column_through_the_softmax(page, model):
    draw_seven(page)
    columns = page.evaluate(COLUMNS)
    assert columns == [
        ["input", 1, 0, 0],
        ["conv2d", 32, 0, 0],
        ["max_pooling2d", 32, 0, 0],
        ["conv2d_1", 64, 0, 0],
        ["max_pooling2d_1", 64, 0, 0],
        ["dense", 0, 128, 0],
        ["dense_1", 0, 0, 10],
    ]
    answer = page.evaluate("window.tinycnn.last")
    shown = page.evaluate(
        "() => Array.from(document.querySelectorAll('#layers .class-row .pct'))"
        ".map((e) => e.textContent)"
    )
    assert shown == [f"{100 * p:.1f}%" for p in answer["layers"][-1]["probabilities"]]
    legend = page.text_content("#maps .legend")
    assert "feature map" in legend and "black is 0" in legend
    assert page.text_content("#confidence").startswith("probability ")
    assert "sure" not in page.text_content("main")


def test_clicking_a_pooled_value_a_dense_unit_and_a_class_explains_each(page, model):
    draw_seven(page)
    pooled = page.locator('#layers canvas[data-kind="pool"][data-index="1"][data-channel="5"]')
    click_cell(page, pooled, 2, 3)
    a = explained(page, "pool")
    assert (a["layer"], a["channel"], a["row"], a["col"]) == ("max_pooling2d_1", 5, 2, 3)
    window = np.array([[-np.inf if v is None else v for v in row] for row in a["window"]])
    assert (
        a["value"] == window.max()
        and list(np.unravel_index(window.argmax(), (2, 2))) == (a["winner"])
    )
    assert f"max = {a['value']:.3f}" in page.text_content("#sum")
    assert page.text_content("#explain-table .won") == f"{a['value']:.3f}"
    assert field_outline(page).any()  # its receptive field, outlined on the input

    page.click('#layers .unit[data-unit="5"]')
    a = explained(page, "dense")
    assert (a["layer"], a["unit"]) == ("dense", 5)
    assert f"= {a['z']:.3f}" in page.text_content("#sum")
    assert page.locator("#explain-table tr").count() == 1 + len(a["top"])
    assert a["top"][0]["source"] is not None
    h, w, c = a["top"][0]["source"]
    assert f"map {c} at ({h}, {w})" in page.text_content("#explain-table")

    page.click('#layers .class-row[data-class="7"]')
    a = explained(page, "class")
    z = np.array(a["logits"])
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    assert a["probability"] == pytest.approx(p[7])
    assert f"= {p[7]:.4g}" in page.text_content("#sum").replace("1.000", "1")
    assert "exp(" in page.text_content("#explain-what")
    assert page.input_value("#looks-class") == "7"  # what it looks at follows the class


def test_the_keyboard_explains_a_map_value(page):
    draw_seven(page)
    pooled = page.locator('#layers canvas[data-kind="pool"][data-index="0"][data-channel="0"]')
    pooled.focus()
    for key in ("ArrowRight", "ArrowRight", "ArrowUp", "Enter"):
        page.keyboard.press(key)
    a = explained(page, "pool")
    assert (a["row"], a["col"]) == (13 // 2 - 1, 13 // 2 + 2)
    page.focus('#layers .class-row[data-class="2"]')
    page.keyboard.press("Enter")
    assert explained(page, "class")["class"] == 2


def canvas_rgb(page, canvas_id: str) -> np.ndarray:
    rgba = page.evaluate(
        f"() => Array.from(document.getElementById('{canvas_id}').getContext('2d')"
        ".getImageData(0, 0, 28, 28).data)"
    )
    return np.array(rgba, dtype=np.int64).reshape(28, 28, 4)[..., :3]


def test_saliency_and_occlusion_appear_over_the_drawing(page, model):
    draw_seven(page)
    looks = page.evaluate("window.tinycnn.looks")
    assert looks["class"] == 7
    saliency = np.array(looks["saliency"]).reshape(28, 28)
    rgb = canvas_rgb(page, "saliency")
    top = np.unravel_index(saliency.argmax(), saliency.shape)
    np.testing.assert_array_equal(rgb[top], [252, 253, 191])  # the top of the ramp, opaque
    coloured = (rgb[..., 0] != rgb[..., 1]) | (rgb[..., 1] != rgb[..., 2])
    assert coloured.sum() > 50  # a heat map, not the grey drawing
    occlusion = np.array(looks["occlusion"]).reshape(28, 28)
    strongest = np.unravel_index(np.abs(occlusion).argmax(), occlusion.shape)
    colour = [217, 72, 15] if occlusion[strongest] > 0 else [47, 111, 219]
    np.testing.assert_array_equal(canvas_rgb(page, "occlusion")[strongest], colour)
    assert page.text_content("#saliency-high") == f"{saliency.max():.3g}"


def test_make_it_a_3_changes_the_prediction_and_shows_the_change(page):
    draw_seven(page)
    page.select_option("#fool-target", "3")
    page.click("#fool-go")
    page.wait_for_function("() => window.tinycnn.fooled !== null", timeout=30_000)
    a = page.evaluate("window.tinycnn.fooled")
    assert a["prediction"] == 3 and int(np.argmax(a["before"])) == 7
    assert "it says 3" in page.text_content("#fool-result")
    after = canvas_rgb(page, "fool-after")[..., 0]
    np.testing.assert_array_equal(after.ravel(), a["image"])
    change = canvas_rgb(page, "fool-change")
    assert (change != 255).any()  # the change is drawn (white where nothing moved)
    bars = page.evaluate(
        "() => Array.from(document.querySelectorAll('#fool-bars .pct')).map((e) => e.textContent)"
    )
    assert bars == [f"{100 * p:.1f}%" for p in a["probabilities"]]


def test_a_refused_attack_shows_the_servers_sentence(page):
    page.click("#fool-go")
    assert page.text_content("#fool-message") == "Draw a digit first."
    draw_seven(page)
    page.fill("#fool-steps", "50")
    page.click("#fool-go")
    page.wait_for_function("() => window.tinycnn.errors >= 2", timeout=30_000)
    assert page.text_content("#fool-message") == "steps must be in 1..20, got 50"
    assert page.evaluate("window.tinycnn.fooled") is None


def test_the_layout_holds_on_a_phone(browser, url):
    context, page, errors = open_page(browser, url, {"width": 390, "height": 844})
    try:
        draw_seven(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        for selector in ("#pad", "#layers", "#looks", "#fool"):
            box = page.locator(selector).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
        assert len(page.evaluate(COLUMNS)) == 7
        page.locator('#layers .class-row[data-class="7"]').tap()
        assert explained(page, "class")["class"] == 7
    finally:
        context.close()
    assert errors == [], errors

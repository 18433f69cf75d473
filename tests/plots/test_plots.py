"""Every picture of tinycnn.plots, rendered with Agg from a small trained model.

Each test checks the PNG (exists, expected pixel size, not blank) and the data behind the
picture (read back from the figure's artists) against the library's own numbers.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinycnn import kernels
from tinycnn.data import load_mnist, scale_images
from tinycnn.kernels.geometry import pad_amounts
from tinycnn.layers import Conv2D, Dense, Flatten, MaxPool2D
from tinycnn.model import Sequential
from tinycnn.optim import Adam
from tinycnn.plots import (
    misclassified,
    plot_class_visualisation,
    plot_confusion_matrix,
    plot_feature_maps,
    plot_filters,
    plot_fooling,
    plot_im2col,
    plot_misclassified,
    plot_occlusion,
    plot_probabilities,
    plot_saliency,
    plot_shift_accuracy,
    plot_training_curves,
)
from tinycnn.plots.filters import filter_mosaic
from tinycnn.plots.im2col_picture import clearest_position
from tinycnn.teach.looks import occlusion, saliency
from tinycnn.teach.probes import class_probabilities, feature_maps
from tinycnn.training.history import History
from tinycnn.training.metrics import confusion_matrix


@pytest.fixture(scope="session")
def trained():
    """A tiny CNN trained for 3 epochs on 480 subset images, with 300 test images."""
    (x_train, y_train), (x_test, y_test) = load_mnist(subset=True)
    model = Sequential(
        [
            Conv2D(6, 3, activation="relu"),
            MaxPool2D(),
            Conv2D(8, 3, activation="relu"),
            MaxPool2D(),
            Flatten(),
            Dense(10, activation="softmax"),
        ],
        input_shape=(28, 28, 1),
        seed=0,
    )
    model.compile(Adam(3e-3))
    history = model.fit(
        scale_images(x_train[:600]),
        y_train[:600],
        epochs=3,
        batch_size=32,
        validation_split=0.2,
        seed=0,
        verbose=0,
    )
    x, y = scale_images(x_test[:300]), y_test[:300].astype(np.int64)
    return {
        "model": model,
        "history": history,
        "x": x,
        "y": y,
        "probs": class_probabilities(model, x),
    }


def check_png(path: Path, size: tuple[int, int]) -> np.ndarray:
    """The PNG at ``path`` as grey levels, after checking its size and that it is not blank."""
    assert path.is_file()
    image = Image.open(path)
    assert image.size == size
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    assert grey.var() > 100.0, f"{path.name} looks blank (pixel variance {grey.var():.1f})"
    return grey


def test_import_tinycnn_does_not_import_matplotlib():
    code = (
        "import sys, tinycnn, tinycnn.teach.probes, tinycnn.teach.trace, tinycnn.cli\n"
        "tinycnn.cli.build_parser()\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'\n"
        "import tinycnn.plots\n"
        "assert 'matplotlib' in sys.modules and 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- training curves ------------------------------------------------------------------------
def test_training_curves_draw_the_history(trained, tmp_path):
    history = trained["history"].history
    figure = plot_training_curves(trained["history"], out=tmp_path / "curves.png")
    check_png(tmp_path / "curves.png", (1000, 400))
    loss_ax, accuracy_ax = figure.axes
    for ax, name in [(loss_ax, "loss"), (accuracy_ax, "accuracy")]:
        train_line, val_line, best_line = ax.get_lines()
        np.testing.assert_allclose(train_line.get_ydata(), history[name])
        np.testing.assert_allclose(val_line.get_ydata(), history[f"val_{name}"])
        np.testing.assert_array_equal(train_line.get_xdata(), np.arange(1, 4))
        assert best_line.get_xdata()[0] == np.argmin(history["val_loss"]) + 1


def test_training_curves_take_a_dict_and_mark_the_lowest_loss_without_validation():
    history = {"loss": [1.0, 0.4, 0.5, 0.6], "accuracy": [0.5, 0.8, 0.7, 0.7]}
    figure = plot_training_curves(history)
    assert len(figure.axes) == 2
    assert figure.axes[0].get_lines()[-1].get_xdata()[0] == 2
    as_dict = plot_training_curves(History.from_dict({"history": history}).to_dict())
    np.testing.assert_allclose(as_dict.axes[0].get_lines()[0].get_ydata(), history["loss"])


def test_training_curves_refuse_a_history_without_loss():
    with pytest.raises(ValueError, match="no 'loss'"):
        plot_training_curves({"accuracy": [0.5]})
    with pytest.raises(ValueError, match="expected a History"):
        plot_training_curves([1.0, 2.0])


# -- confusion matrix -----------------------------------------------------------------------
def test_confusion_matrix_cells_show_metrics_confusion_matrix(trained, tmp_path):
    y, predicted = trained["y"], trained["probs"].argmax(axis=1)
    figure = plot_confusion_matrix(y, predicted, out=tmp_path / "cm.png")
    check_png(tmp_path / "cm.png", (700, 600))
    ax = figure.axes[0]
    drawn = np.zeros((10, 10), dtype=np.int64)
    for text in ax.texts:
        column, row = text.get_position()
        drawn[int(row), int(column)] = int(text.get_text())
    expected = confusion_matrix(y, predicted, num_classes=10)
    assert len(ax.texts) == 100
    np.testing.assert_array_equal(drawn, expected)
    colours = ax.images[0].get_array()
    np.testing.assert_allclose(colours, expected / expected.sum(axis=1, keepdims=True))


def test_confusion_matrix_class_names_must_match():
    with pytest.raises(ValueError, match="expected 10 class names, got 2"):
        plot_confusion_matrix(np.array([0, 1]), np.array([1, 1]), class_names=["a", "b"])


# -- misclassified gallery ------------------------------------------------------------------
def test_misclassified_sorts_mistakes_by_confidence():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7], [0.6, 0.4]])
    y = np.array([0, 0, 0, 1, 1])  # rows 1, 2, 4 are wrong, with confidence 0.8, 0.6, 0.6
    np.testing.assert_array_equal(misclassified(y, probs), [1, 2, 4])
    with pytest.raises(ValueError, match=r"\(N,\) and probs \(N, K\)"):
        misclassified(y[:3], probs)


def test_gallery_shows_only_mistakes_most_confident_first(trained, tmp_path):
    x, y, probs = trained["x"], trained["y"], trained["probs"]
    wrong = np.flatnonzero(probs.argmax(axis=1) != y)
    assert len(wrong) > 0
    figure = plot_misclassified(x, y, probs, max_images=12, columns=4, out=tmp_path / "g.png")
    rows = -(-min(12, len(wrong)) // 4)
    check_png(tmp_path / "g.png", (640, round((1.9 * rows + 0.4) * 100)))
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert len(titles) == min(12, len(wrong))
    confidences = []
    for title in titles:
        n, true, pred, percent = map(
            int, re.match(r"#(\d+) true (\d)\npred (\d) \((\d+)%\)", title).groups()
        )
        assert true == y[n] != pred == probs[n].argmax()
        assert percent == round(100 * probs[n, pred])
        confidences.append(probs[n, pred])
    assert confidences == sorted(confidences, reverse=True)
    assert confidences[0] == probs[wrong].max()
    shown = [int(re.match(r"#(\d+)", t).group(1)) for t in titles]
    np.testing.assert_array_equal(figure.shown_indices, shown)


def test_gallery_without_mistakes_says_so():
    probs = np.eye(3)
    figure = plot_misclassified(np.zeros((3, 4, 4, 1)), np.arange(3), probs)
    assert "no mistakes" in [t.get_text() for ax in figure.axes for t in ax.texts]


# -- filters --------------------------------------------------------------------------------
def test_first_layer_filters_one_image_per_filter(trained, tmp_path):
    w = trained["model"].layers[0].params["w"]  # (3, 3, 1, 6)
    figure = plot_filters(trained["model"], out=tmp_path / "f.png")
    check_png(tmp_path / "f.png", (870, 250))
    images = [ax.images[0].get_array() for ax in figure.axes if ax.images]
    assert len(images) == 6
    for f, image in enumerate(images):
        np.testing.assert_allclose(image, w[:, :, 0, f], rtol=1e-6)


def test_deeper_layer_filters_as_a_mosaic(trained, tmp_path):
    w = trained["model"].layers[2].params["w"]  # (3, 3, 6, 8)
    figure = plot_filters(trained["model"], layer="conv2d_1", out=tmp_path / "f2.png")
    check_png(tmp_path / "f2.png", tuple(int(v) for v in figure.get_size_inches() * 100))
    mosaic = np.ma.filled(figure.axes[0].images[0].get_array(), np.nan)
    assert mosaic.shape == (6 * 4 - 1, 8 * 4 - 1)
    np.testing.assert_allclose(mosaic, filter_mosaic(w), rtol=1e-6)
    np.testing.assert_allclose(mosaic[2 * 4 : 2 * 4 + 3, 5 * 4 : 5 * 4 + 3], w[:, :, 2, 5])
    assert np.isnan(mosaic[3, :]).all()  # the gap between input channels 0 and 1


def test_filters_name_the_conv_layers_when_the_layer_is_unknown(trained):
    with pytest.raises(ValueError, match="conv layers are conv2d, conv2d_1"):
        plot_filters(trained["model"], layer="dense")
    with pytest.raises(ValueError, match="no Conv2D layer"):
        plot_filters(Sequential([Flatten(), Dense(2)], input_shape=(4, 4, 1), seed=0))


# -- feature maps ---------------------------------------------------------------------------
def test_feature_maps_rows_are_the_conv_and_pool_outputs(trained, tmp_path):
    model, image = trained["model"], trained["x"][3]
    figure = plot_feature_maps(model, image, max_channels=4, out=tmp_path / "fm.png")
    check_png(tmp_path / "fm.png", (620, 740))
    maps = feature_maps(model, image)
    assert [name for name, _ in maps] == [
        "input",
        "conv2d",
        "max_pooling2d",
        "conv2d_1",
        "max_pooling2d_1",
    ]
    grid = np.array(figure.axes).reshape(5, 4)
    for row, (name, fmap) in zip(grid, maps, strict=True):
        assert row[0].get_ylabel().startswith(name)
        for c, ax in enumerate(row):
            if c < fmap.shape[2]:
                np.testing.assert_array_equal(ax.images[0].get_array(), fmap[:, :, c])
            else:
                assert not ax.images
    first_conv = model.layers[0].forward(image[None])[0]
    np.testing.assert_allclose(grid[1, 2].images[0].get_array(), first_conv[:, :, 2])


# -- probabilities --------------------------------------------------------------------------
def test_probability_bars_are_the_softmax_output(trained, tmp_path):
    model, image, label = trained["model"], trained["x"][7], int(trained["y"][7])
    figure = plot_probabilities(model, image, label=label, out=tmp_path / "p.png")
    check_png(tmp_path / "p.png", (900, 350))
    bars = figure.axes[1].patches
    heights = np.array([bar.get_height() for bar in bars])
    np.testing.assert_allclose(heights, trained["probs"][7], rtol=1e-5)
    assert heights.sum() == pytest.approx(1.0, abs=1e-5)
    predicted = int(np.argmax(heights))
    assert bars[predicted].get_facecolor() != bars[(predicted + 1) % 10].get_facecolor()
    assert bars[label].get_linewidth() == 2


# -- im2col ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kernel", "strides", "padding"), [((3, 3), (1, 1), "valid"), ((5, 3), (2, 2), "same")]
)
def test_im2col_picture_row_is_the_receptive_field(trained, tmp_path, kernel, strides, padding):
    image = trained["x"][0]  # (28, 28, 1)
    (KH, KW), (SH, SW) = kernel, strides
    OH = kernels.conv_output_size(28, KH, SH, padding)
    OW = kernels.conv_output_size(28, KW, SW, padding)
    i, j = clearest_position(image, kernel, strides, padding)
    figure = plot_im2col(image, kernel, strides, padding, out=tmp_path / "i.png")
    check_png(tmp_path / "i.png", (1200, 600))
    ax_in, ax_patch, ax_row, ax_cols = figure.axes
    cols = kernels.im2col(image[None].astype(np.float64), KH, KW, strides, padding)
    assert cols.shape == (OH * OW, KH * KW)
    np.testing.assert_array_equal(ax_cols.images[0].get_array(), cols)
    row = ax_row.images[0].get_array()[0]
    (top, bottom), (left, right) = pad_amounts((1, 28, 28, 1), KH, KW, strides, padding)
    x_pad = np.pad(image[:, :, 0], ((top, bottom), (left, right)))
    window = x_pad[SH * i : SH * i + KH, SW * j : SW * j + KW]
    np.testing.assert_array_equal(row, window.ravel())
    np.testing.assert_array_equal(ax_patch.images[0].get_array(), window)
    assert row.var() == cols.var(axis=1).max()  # the default window has the most contrast
    assert 0 < (row > 0.5).sum() < row.size  # part stroke, part background: the order shows
    assert f"row {i * OW + j}" in [t.get_text() for t in ax_cols.texts]
    box = ax_in.patches[-1]
    assert (box.get_x() + 0.5, box.get_y() + 0.5) == (SW * j - left, SH * i - top)


def test_im2col_picture_checks_the_position(trained):
    with pytest.raises(ValueError, match="26x26 output"):
        plot_im2col(trained["x"][0], 3, position=(26, 0))


# -- shift experiment -----------------------------------------------------------------------
def test_shift_plot_draws_one_line_per_model(tmp_path):
    curves = {"cnn": [0.98, 0.97, 0.9, 0.8, 0.6], "dense": [0.97, 0.9, 0.6, 0.3, 0.2]}
    figure = plot_shift_accuracy(range(5), curves, out=tmp_path / "s.png")
    check_png(tmp_path / "s.png", (700, 450))
    lines = figure.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["cnn", "dense"]
    for line, values in zip(lines, curves.values(), strict=True):
        np.testing.assert_allclose(line.get_ydata(), 100 * np.array(values))
    with pytest.raises(ValueError, match="dense: expected 5 accuracies"):
        plot_shift_accuracy(range(5), {"dense": [0.9, 0.8]})


# -- saving ---------------------------------------------------------------------------------
def test_saving_is_atomic_and_overwrites(tmp_path):
    out = tmp_path / "s.png"
    out.write_bytes(b"old")
    plot_shift_accuracy([0, 1], {"m": [0.9, 0.5]}, out=out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["s.png"]  # no temporary file left behind
    with pytest.raises(ValueError, match="does not exist"):
        plot_shift_accuracy([0], {"m": [0.9]}, out=tmp_path / "missing" / "s.png")


# -- what the network looks at --------------------------------------------------------------
def test_saliency_picture_draws_the_librarys_map_with_a_colour_bar(trained, tmp_path):
    model, image = trained["model"], trained["x"][4]
    figure = plot_saliency(model, image, k=int(trained["y"][4]), out=tmp_path / "s.png")
    check_png(tmp_path / "s.png", (1000, 380))
    expected = saliency(model, image, int(trained["y"][4]))
    np.testing.assert_array_equal(figure.saliency, expected)
    ax_image, ax_map, ax_over, colour_bar = figure.axes
    np.testing.assert_array_equal(ax_map.images[0].get_array(), expected)
    assert colour_bar.get_ylabel() == "|d score / d pixel|"
    np.testing.assert_array_equal(ax_over.images[1].get_array(), expected)
    predicted = int(trained["probs"][4].argmax())
    assert ax_image.get_title().startswith(f"input: predicted {predicted}")


def test_occlusion_picture_draws_the_drops_symmetric_around_zero(trained, tmp_path):
    model, image = trained["model"], trained["x"][5]
    figure = plot_occlusion(model, image, k=2, patch=4, stride=3, out=tmp_path / "o.png")
    check_png(tmp_path / "o.png", (1000, 380))
    expected = occlusion(model, image, 2, patch=4, stride=3)
    np.testing.assert_allclose(figure.occlusion.drops, expected.drops)
    assert expected.drops.shape == (9, 9)  # (28 - 4) // 3 + 1
    ax_map = figure.axes[1]
    np.testing.assert_allclose(ax_map.images[0].get_array(), expected.drops)
    low, high = ax_map.images[0].get_clim()
    assert low == -high == -np.abs(expected.drops).max()
    assert figure.axes[3].get_ylabel() == "probability drop"


def test_fooling_picture_shows_the_change_the_new_image_and_both_probabilities(trained, tmp_path):
    model, image, label = trained["model"], trained["x"][6], int(trained["y"][6])
    target = (label + 1) % 10
    figure = plot_fooling(model, image, target, epsilon=0.3, steps=10, out=tmp_path / "f.png")
    check_png(tmp_path / "f.png", (1200, 380))
    attack = figure.attack
    ax_in, ax_change, ax_out, ax_bars = figure.axes[:4]
    np.testing.assert_array_equal(ax_change.images[0].get_array(), attack.change[:, :, 0])
    assert ax_change.images[0].get_clim() == (-0.3, 0.3)
    np.testing.assert_array_equal(ax_out.images[0].get_array(), attack.image[:, :, 0])
    heights = np.array([bar.get_height() for bar in ax_bars.patches])
    np.testing.assert_allclose(heights[:10], attack.probabilities[0])
    np.testing.assert_allclose(heights[10:], class_probabilities(model, attack.image[None])[0],
                               atol=1e-6)  # fmt: skip
    assert np.abs(attack.change).max() <= 0.3 + 1e-6


def test_class_pictures_raise_each_score(trained, tmp_path):
    model = trained["model"]
    figure = plot_class_visualisation(model, np.random.default_rng(0), steps=20,
                                      out=tmp_path / "c.png")  # fmt: skip
    check_png(tmp_path / "c.png", (1100, 300))
    assert len(figure.pictures) == len(figure.axes) == 10
    for k, (ax, picture) in enumerate(zip(figure.axes, figure.pictures, strict=True)):
        assert picture.scores[-1] > picture.scores[0]
        np.testing.assert_array_equal(ax.images[0].get_array(), picture.image[:, :, 0])
        p = class_probabilities(model, picture.image[None])[0, k]
        assert ax.get_title() == f"{k}: p = {p:.2f}"


def test_im2col_picture_colours_the_columns_by_channel(tmp_path):
    x = np.random.default_rng(0).random((6, 5, 2))
    figure = plot_im2col(x, 3, position=(1, 2), out=tmp_path / "c2.png")
    check_png(tmp_path / "c2.png", (1200, 600))
    ax_row = figure.axes[2]
    np.testing.assert_array_equal(figure.column_channels, [0, 1] * 9)
    row = ax_row.images[0].get_array()[0]
    np.testing.assert_array_equal(row[1::2], x[1:4, 2:5, 1].ravel())  # the odd columns: c = 1
    frames = [p for p in ax_row.patches if not p.get_fill()]
    assert len(frames) == 18
    colours = {tuple(frame.get_edgecolor()) for frame in frames[::2]}
    assert len(colours) == 1 and colours != {tuple(frames[1].get_edgecolor())}
    ticks = [label.get_color() for label in ax_row.get_xticklabels()]
    assert ticks[0] == ticks[2] != ticks[1] == ticks[3]

"""The concept figures of tinycnn.plots, checked on the numbers they draw.

Each figure keeps the data it draws as an attribute (``figure.sliding``, ``figure.routing``...);
these tests compute the same numbers another way (loops, the model's summary, hand formulas).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from oracles import conv2d_naive
from PIL import Image

from tinycnn import cli, kernels
from tinycnn.layers import Conv2D
from tinycnn.losses import SoftmaxCrossEntropy
from tinycnn.optim import SGD, Adam
from tinycnn.plots import (
    animate_sliding_kernel,
    plot_architecture,
    plot_backward_flow,
    plot_dropout,
    plot_im2col,
    plot_maxpool,
    plot_multichannel,
    plot_optimizer_paths,
    plot_receptive_field,
    plot_sliding_kernel,
    plot_softmax_loss,
)
from tinycnn.plots.backward_flow import gradient_flow
from tinycnn.plots.multichannel import channel_sums, cs231n_example
from tinycnn.plots.optimizer_paths import optimizer_path
from tinycnn.plots.pooling_picture import EXAMPLE_DOUT, EXAMPLE_X, route_maxpool
from tinycnn.plots.sliding import padded_output_size, size_formula, slide_kernel
from tinycnn.plots.softmax_loss import EXAMPLE_LABEL, EXAMPLE_LOGITS, softmax_loss
from tinycnn.zoo import dense_baseline, seed_cnn


def loop_maxpool_dx(x, dout, K):
    """dx by definition: scan each window row by row, the first strict maximum wins."""
    dx = np.zeros_like(x)
    for i, j in np.ndindex(dout.shape):
        best = None
        for p, q in np.ndindex(K, K):
            if best is None or x[K * i + p, K * j + q] > x[best]:
                best = (K * i + p, K * j + q)
        dx[best] += dout[i, j]
    return dx


# -- sliding kernel ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("H", "K", "S", "P", "expected"),
    [(4, 3, 1, 0, 2), (5, 3, 1, 1, 5), (5, 3, 1, 2, 7), (5, 3, 2, 0, 2), (5, 3, 2, 1, 3),
     (6, 3, 2, 1, 3)],
)  # fmt: skip
def test_output_size_formula_on_conv_arithmetic_cases(H, K, S, P, expected):
    assert padded_output_size(H, K, S, P) == expected
    rng = np.random.default_rng(H + K + S + P)
    s = slide_kernel(rng.random((H, H)), rng.random((K, K)), S, P)
    assert s.out.shape == (expected, expected)
    assert size_formula(H, K, S, P).endswith(f"= {expected}")


@pytest.mark.parametrize(("S", "P"), [(1, 0), (2, 1), (2, 2), (3, 1)])
def test_sliding_values_are_a_convolution_computed_by_loops(S, P):
    rng = np.random.default_rng(S * 10 + P)
    x, w = rng.normal(size=(6, 7)), rng.normal(size=(3, 2))
    s = slide_kernel(x, w, S, P)
    x_pad = np.pad(x, P)[None, :, :, None]
    expected = conv2d_naive(x_pad, w[:, :, None, None], np.zeros(1), (S, S), "valid")
    np.testing.assert_allclose(s.out, expected[0, :, :, 0], rtol=1e-12)
    assert s.positions == [(i, j) for i in range(s.out.shape[0]) for j in range(s.out.shape[1])]


def test_sliding_picture_draws_the_outputs_and_the_window(tmp_path):
    figure = plot_sliding_kernel(strides=2, padding=1, frame=4, out=tmp_path / "s.png")
    assert Image.open(tmp_path / "s.png").size == (900, 500)
    s = figure.sliding
    ax_in, ax_out = figure.axes
    shown = {t.get_position(): t.get_text() for t in ax_out.texts if t.get_text()}
    expected = {(j, i): f"{s.out[i, j]:g}" for i, j in s.positions[:5]}
    assert shown == expected  # outputs up to frame 4, nothing after
    window = ax_in.patches[-1]  # the outline is drawn last
    i, j = s.positions[4]
    assert (window.get_x() + 0.5, window.get_y() + 0.5) == (2 * j - 1, 2 * i - 1)
    weights = sorted(t.get_text() for t in ax_in.texts if t.get_text().startswith("×"))
    assert weights == sorted(f"×{v:g}" for v in s.w.ravel())
    assert "= 3" in figure.get_suptitle()


def test_sliding_gif_has_one_equal_sized_frame_per_position(tmp_path):
    s = animate_sliding_kernel(tmp_path / "s.gif", strides=1, padding=1)
    gif = Image.open(tmp_path / "s.gif")
    assert gif.format == "GIF" and gif.is_animated
    assert gif.n_frames == len(s.positions) == 25
    sizes, frames = set(), []
    for k in range(gif.n_frames):
        gif.seek(k)
        sizes.add(gif.size)
        frames.append(np.asarray(gif.convert("L"), dtype=np.float64))
    assert sizes == {(900, 500)}
    assert np.abs(frames[0] - frames[-1]).sum() > 0  # the frames differ: the window moves
    assert [p.name for p in tmp_path.iterdir()] == ["s.gif"]  # no temporary file left


# -- multi-channel ----------------------------------------------------------------------------
def test_multichannel_parts_sum_to_the_conv2d_output(tmp_path):
    figure = plot_multichannel(out=tmp_path / "m.png")
    result = figure.channel_sum
    x, w, b = cs231n_example()
    layer = Conv2D(1, 3, strides=2, padding="same")  # 5x5, stride 2: one padding row each side
    layer.build((5, 5, 3))
    layer.set_weights([w[:, :, :, None], np.array([b])])
    expected = layer.forward(x[None])[0, :, :, 0]
    np.testing.assert_allclose(result.out, expected, rtol=1e-12)
    x_pad = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    for c in range(3):
        window = x_pad[2:5, 2:5, c]  # output (1, 1), stride 2
        assert result.partial[c] == pytest.approx((window * w[:, :, c]).sum())
    assert result.value == pytest.approx(result.partial.sum() + b) == pytest.approx(expected[1, 1])
    assert f"= {result.value:g}" in figure.axes[-1].get_title()


def test_channel_sums_checks_its_arguments():
    with pytest.raises(ValueError, match=r"expected x \(H, W, C\) and w \(KH, KW, C\)"):
        channel_sums(np.zeros((4, 4, 2)), np.zeros((3, 3, 3)), 0.0, (0, 0))
    with pytest.raises(ValueError, match="2x2 output"):
        channel_sums(np.zeros((4, 4, 2)), np.zeros((3, 3, 2)), 0.0, (2, 0))


# -- max pooling --------------------------------------------------------------------------------
def test_maxpool_gradient_goes_to_the_first_maximum_under_ties(tmp_path):
    figure = plot_maxpool(out=tmp_path / "p.png")
    r = figure.routing
    np.testing.assert_array_equal(r.dx, loop_maxpool_dx(EXAMPLE_X, EXAMPLE_DOUT, 2))
    assert r.winners == [(0, 1), (0, 2), (2, 0), (2, 3)]
    assert all(r.dx[cell] == 0 for cell in r.tied)
    assert len({(h // 2, w // 2) for h, w in r.tied}) == 3  # "three of the four windows" (docs)
    np.testing.assert_array_equal(r.out, [[3, 2], [4, 5]])
    drawn = {t.get_position(): t.get_text() for t in figure.axes[3].texts}
    assert drawn[(1, 0)] == "0.5" and drawn[(0, 1)] == "0"  # dx[0, 1] and the tie at dx[1, 0]


def test_maxpool_routing_on_random_ties():
    rng = np.random.default_rng(7)
    for _ in range(20):
        x = rng.integers(0, 3, (6, 4)).astype(float)  # many ties
        dout = rng.normal(size=(3, 2))
        np.testing.assert_array_equal(route_maxpool(x, dout).dx, loop_maxpool_dx(x, dout, 2))


# -- architecture -------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [seed_cnn, dense_baseline])
def test_architecture_numbers_are_the_summary_numbers(make, tmp_path):
    model = make(0)
    figure = plot_architecture(model, out=tmp_path / "a.png")
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    pattern = re.compile(r"^(\S+) \(\w+\)\s+\(None, ([\d, ]+)\)\s+([\d,]+)$")
    table = [match.groups() for line in lines if (match := pattern.match(line))]
    rows = figure.rows[1:]
    assert len(table) == len(rows) == len(model.layers)
    assert [r.name for r in rows] == [t[0] for t in table]
    assert [", ".join(map(str, r.shape)) for r in rows] == [t[1] for t in table]
    assert [f"{r.params:,}" for r in rows] == [t[2] for t in table]
    total = next(line for line in lines if line.startswith("Total params"))
    assert f"{sum(r.params for r in rows):,}" == total.split()[2]
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert any(f"{rows[0].params:,} params" in t for t in texts)


def test_architecture_of_the_seed_cnn_counts_225034():
    figure = plot_architecture()
    assert sum(r.params for r in figure.rows) == 225_034
    assert "225,034 parameters" in figure.axes[0].get_title()


# -- backward flow --------------------------------------------------------------------------------
def test_backward_flow_matches_the_model_and_every_gradient_has_its_arrays_shape():
    model = seed_cnn(0).astype(np.float64)
    for layer in model.layers:
        if hasattr(layer, "rate"):
            layer.rate = 0.0  # no random mask, so the two passes can be compared
    rng = np.random.default_rng(1)
    x, y = rng.random((3, 28, 28, 1)), rng.integers(0, 10, 3)
    steps = gradient_flow(model, x, y)
    loss = SoftmaxCrossEntropy()
    loss.forward(model.forward(x, training=True, logits=True), y)
    dx = model.backward(loss.backward())
    np.testing.assert_allclose(steps[0].dx, dx, rtol=1e-10)
    for step, layer in zip(steps, model.layers, strict=True):
        assert step.dx.shape == step.x.shape and step.dout.shape == step.out.shape
        for name, grad in step.grads.items():
            assert grad.shape == layer.params[name].shape
            np.testing.assert_allclose(grad, layer.grads[name], rtol=1e-10)
    for upper, lower in zip(steps, steps[1:], strict=False):
        assert upper.out.shape == lower.x.shape
        np.testing.assert_array_equal(upper.dout, lower.dx)  # dx of one layer is dout above


def test_backward_flow_picture_prints_every_gradient_shape(tmp_path):
    figure = plot_backward_flow(out=tmp_path / "b.png")
    texts = [t.get_text() for t in figure.axes[0].texts]
    for step in figure.steps:
        assert f"dx (N, {', '.join(map(str, step.dx.shape[1:]))})" in texts
        for name, grad in step.grads.items():
            assert any(f"d{name} {grad.shape}" in t for t in texts)
    assert "dw (3, 3, 1, 32), db (32,)" in texts


# -- dropout --------------------------------------------------------------------------------------
def test_dropout_training_scales_survivors_and_inference_is_the_identity(tmp_path):
    figure = plot_dropout(rate=0.5, out=tmp_path / "d.png")
    d = figure.dropout
    np.testing.assert_array_equal(d.training, np.where(d.kept, d.x / 0.5, 0.0))
    np.testing.assert_array_equal(d.inference, d.x)
    assert 0 < d.kept.sum() < d.x.size
    assert f"{int((~d.kept).sum())} of {d.x.size} dropped" in figure.axes[1].get_title()


# -- receptive field ------------------------------------------------------------------------------
def traced_field(model, layer_index, unit):
    """Input pixels that feed unit (unit, unit) of a layer, traced back with im2col of indices."""
    rows = {unit}
    for layer, shape_in in reversed(
        list(
            zip(
                model.layers[: layer_index + 1],
                [model.input_shape, *model.output_shapes],
                strict=False,
            )
        )
    ):
        window = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
        if window is None:
            continue
        H = shape_in[0]
        index = np.arange(H, dtype=np.float64)[None, :, None, None]  # (1, H, 1, 1) row numbers
        cols = kernels.im2col(index, window[0], 1, (layer.strides[0], 1), layer.padding)
        rows = {int(v) for r in rows for v in cols[r]}
    return rows


def test_receptive_fields_equal_the_pixels_traced_back_through_the_layers(tmp_path):
    model = seed_cnn(0)
    figure = plot_receptive_field(model, out=tmp_path / "r.png")
    assert [f.size for f in figure.fields] == [3, 4, 8, 10]
    spatial = [k for k, layer in enumerate(model.layers) if len(model.output_shapes[k]) == 3]
    for f, k in zip(figure.fields, spatial, strict=True):
        rows = traced_field(model, k, f.unit)
        assert rows == set(range(f.start, f.start + f.size))
    boxes = figure.axes[0].patches
    assert [(b.get_width(), b.get_x() + 0.5) for b in boxes] == [
        (f.size, f.start) for f in figure.fields
    ]


# -- optimizers -----------------------------------------------------------------------------------
def test_gd_diverges_along_w2_at_lr_06_and_momentum_05_converges():
    gd = optimizer_path(SGD(0.6), steps=20)
    momentum = optimizer_path(SGD(0.6, momentum=0.5), steps=20)
    assert abs(gd[-1, 1]) > 100 * abs(gd[0, 1])  # w2 multiplied by 1 - 4*0.6 = -1.4 per step
    np.testing.assert_allclose(gd[:, 1], -2.0 * (-1.4) ** np.arange(21), rtol=1e-12)
    assert np.linalg.norm(momentum[-1]) < 0.05 * np.linalg.norm(momentum[0])
    v, w = np.zeros(2), np.array([-5.0, -2.0])  # Keras's momentum rule by hand
    for _ in range(20):
        v = 0.5 * v - 0.6 * np.array([0.2 * w[0], 4 * w[1]])
        w = w + v
    np.testing.assert_allclose(momentum[-1], w, rtol=1e-12)


def test_optimizer_picture_draws_tinycnns_paths(tmp_path):
    figure = plot_optimizer_paths(out=tmp_path / "o.png")
    lines = figure.axes[0].get_lines()[: len(figure.paths)]
    for line, (label, path) in zip(lines, figure.paths.items(), strict=True):
        assert line.get_label() == label
        np.testing.assert_array_equal(line.get_xdata(), path[:, 0])
    assert {len(path) for path in figure.paths.values()} == {21}  # "twenty steps" (docs)
    adam = next(path for label, path in figure.paths.items() if label.startswith("Adam"))
    np.testing.assert_array_equal(adam, optimizer_path(Adam(0.3)))


# -- the command line -----------------------------------------------------------------------------
def test_plot_help_lists_at_least_16_kinds(capsys):
    with pytest.raises(SystemExit):
        cli.main(["plot", "--help"])
    text = capsys.readouterr().out
    choices = text.split("{", 1)[1].split("}", 1)[0].split(",")
    assert len(choices) >= 16, choices


@pytest.mark.parametrize(
    ("kind", "size"),
    [("sliding", (900, 500)), ("multichannel", (1000, 700)), ("maxpool", (1200, 400)),
     ("architecture", (1300, 420)), ("backward", (1100, 800)), ("dropout", (1100, 350)),
     ("receptive-field", (800, 600)), ("optimizers", (900, 550)),
     ("im2col-channels", (1200, 600)), ("softmax-loss", (1300, 350))],
)  # fmt: skip
def test_concept_kinds_write_a_png_without_a_model(tmp_path, kind, size):
    out = tmp_path / f"{kind}.png"
    assert cli.main(["plot", kind, "--out", str(out)]) == 0
    image = Image.open(out)
    assert image.size == size
    assert np.asarray(image.convert("L"), dtype=np.float64).var() > 100.0


def test_sliding_gif_kind_and_model_count_errors(tmp_path, capsys):
    out = tmp_path / "s.gif"
    assert (
        cli.main(["plot", "sliding-gif", "--strides", "1", "--padding", "0", "--out", str(out)])
        == 0
    )
    assert Image.open(out).n_frames == 9
    assert cli.main(["plot", "maxpool", "a.npz", "--out", str(tmp_path / "m.png")]) != 0
    assert "takes no model file" in capsys.readouterr().err


# -- im2col with channels, softmax and its loss -----------------------------------------------
def test_im2col_of_three_channels_orders_columns_p_q_c(tmp_path):
    x, _, _ = cs231n_example()
    figure = plot_im2col(x, 3, strides=2, padding="same", position=(1, 1), out=tmp_path / "i.png")
    ax_in, ax_patch, ax_row, ax_cols = figure.axes
    cols = ax_cols.images[0].get_array()
    assert cols.shape == (9, 27)  # "the 9 x 27 matrix" (docs/concepts/convolution.md)
    assert "row 4" in [t.get_text() for t in ax_cols.texts]
    x_pad = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    window = x_pad[2:5, 2:5, :]  # output (1, 1), stride 2, one padding row/column each side
    for p, q, c in np.ndindex(3, 3, 3):
        assert cols[4, p * 9 + q * 3 + c] == window[p, q, c]
    np.testing.assert_array_equal(figure.column_channels, np.tile([0, 1, 2], 9))
    labels = [label.get_text() for label in ax_row.get_xticklabels()]
    assert labels[:4] == ["0,0,0", "0,0,1", "0,0,2", "0,1,0"]


def test_softmax_loss_picture_is_the_libraries_softmax_and_cross_entropy(tmp_path):
    figure = plot_softmax_loss(out=tmp_path / "s.png")
    result = figure.softmax
    z = EXAMPLE_LOGITS
    np.testing.assert_allclose(result.p, np.exp(z) / np.exp(z).sum(), rtol=1e-12)
    loss = SoftmaxCrossEntropy().forward(z[None], np.array([EXAMPLE_LABEL]))
    assert result.loss == pytest.approx(loss, rel=1e-6)
    assert np.argmax(z) != EXAMPLE_LABEL  # the largest score is another class's (docs)
    assert result.p[EXAMPLE_LABEL] < 0.5 and result.loss > 1  # "below one half", "above 1"
    ax_z, ax_exp, ax_p, ax_loss = figure.axes
    np.testing.assert_allclose([bar.get_height() for bar in ax_p.patches], result.p)
    point = ax_loss.get_lines()[1]
    assert (point.get_xdata()[0], point.get_ydata()[0]) == (result.p[3], result.loss)
    with pytest.raises(ValueError, match="a label in 0..K-1"):
        softmax_loss(z, 5)

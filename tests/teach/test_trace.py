"""tinycnn.teach.trace: every array of one training step, FLOPs by the documented formulas."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from tinycnn import cli, kernels
from tinycnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D
from tinycnn.model import Sequential
from tinycnn.saving.io import save_model
from tinycnn.teach.trace import trace
from tinycnn.testing.strategies import ConvConfig, conv_configs
from tinycnn.zoo import dense_baseline, seed_cnn


def small_conv_model(cfg: ConvConfig) -> Sequential:
    conv = Conv2D(cfg.F, (cfg.KH, cfg.KW), (cfg.SH, cfg.SW), cfg.padding, activation="relu")
    return Sequential([conv, Flatten(), Dense(3)], input_shape=(cfg.H, cfg.W, cfg.C), seed=0)


@given(cfg=conv_configs())
def test_conv_flops_and_im2col_shape_follow_the_formula(cfg: ConvConfig):
    model = small_conv_model(cfg)
    x = cfg.x(np.float32)
    result = trace(model, x)
    OH, OW, F = model.layers[0].output_shape((cfg.H, cfg.W, cfg.C))
    conv = result.cost("conv2d")
    expected = 2 * cfg.N * OH * OW * cfg.KH * cfg.KW * cfg.C * cfg.F
    assert conv.forward_flops == expected
    assert conv.backward_flops == 2 * expected
    assert conv.output_shape == (cfg.N, OH, OW, F)
    cols = kernels.im2col(x, cfg.KH, cfg.KW, (cfg.SH, cfg.SW), cfg.padding)
    forward = {t.name: t for t in result.tensors if t.layer == "conv2d" and t.phase == "forward"}
    assert forward["cols = im2col(x)"].shape == cols.shape
    assert conv.im2col_bytes == cols.size * 4
    backward = {t.name: t for t in result.tensors if t.layer == "conv2d" and t.phase == "backward"}
    assert backward["dcols = dout2d @ w2d.T"].shape == cols.shape
    assert backward["dx = col2im(dcols)"].shape == x.shape
    dense = result.cost("dense")
    assert dense.forward_flops == 2 * cfg.N * (OH * OW * F) * 3


def test_seed_cnn_costs_match_the_module_docstring():
    """2,631,040 multiply-adds forward per image, 15.8 MFLOP per training image, as trace's
    docstring says (it used to cite a PERF.md that no longer exists)."""
    import importlib

    trace_module = importlib.import_module("tinycnn.teach.trace")  # the module, not the function
    result = trace(seed_cnn(seed=0), np.zeros((1, 28, 28, 1), np.float32))
    assert result.forward_flops == 2 * 2_631_040
    assert result.forward_flops + result.backward_flops == 15_786_240
    doc = " ".join(str(trace_module.__doc__).split())
    step = result.forward_flops + result.backward_flops
    assert f"{result.forward_flops:,} forward FLOPs per image and {step:,} per image" in doc
    assert [c.forward_flops for c in result.layers if c.forward_flops] == [
        2 * 194_688,
        2 * 2_230_272,
        2 * 204_800,
        2 * 1_280,
    ]
    assert result.cost("conv2d_1").im2col_bytes == 121 * 288 * 4
    assert sum(c.param_bytes for c in result.layers) == 225_034 * 4


def test_every_layer_has_matching_forward_and_backward_shapes():
    model = seed_cnn(seed=0)
    result = trace(model, np.ones((3, 28, 28, 1), np.float32))
    outputs = {t.layer: t.shape for t in result.tensors if t.name.startswith("out")}
    gradients = {t.layer: t.shape for t in result.tensors if t.name == "dout"}
    assert outputs == gradients  # dout is shaped like out, layer by layer
    inputs = [(3, 28, 28, 1)] + [outputs[layer.name] for layer in model.layers[:-1]]
    dxs = [t.shape for t in result.tensors if t.name.startswith("dx")]
    assert dxs == inputs[::-1]
    for layer in model.layers:
        for key, param in layer.params.items():
            grad = [t for t in result.tensors if t.layer == layer.name and t.name == f"d{key}"]
            assert grad[0].shape == param.shape
    for t in result.tensors:
        assert t.nbytes == int(np.prod(t.shape)) * 4


def test_trace_leaves_the_model_untouched():
    model = Sequential(
        [Conv2D(2, 3), MaxPool2D(), Flatten(), Dropout(0.5, seed=1), Dense(2)],
        input_shape=(6, 7, 1),
        seed=0,
    )
    weights = model.get_weights()
    grads = [g.copy() for _, _, g in model.params_and_grads()]
    rng_state = model.layers[3].rng.bit_generator.state
    trace(model, np.ones((2, 6, 7, 1), np.float32))
    for before, after in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    for before, (_, _, after) in zip(grads, model.params_and_grads(), strict=True):
        np.testing.assert_array_equal(before, after)
    assert model.layers[3].rng.bit_generator.state == rng_state


def test_trace_checks_its_input():
    with pytest.raises(ValueError, match="built model"):
        trace(Sequential([Dense(2)]), np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 28, 28, 1\)"):
        trace(seed_cnn(seed=0), np.zeros((1, 28, 28)))
    with pytest.raises(ValueError, match="no layer 'conv9'"):
        trace(dense_baseline(seed=0), np.zeros((1, 28, 28, 1))).cost("conv9")


def test_printed_report_is_readable():
    text = str(trace(seed_cnn(seed=0), np.zeros((2, 28, 28, 1), np.float32)))
    assert "Trace of one training step on a batch of N=2 (float32)" in text
    assert "cols = im2col(x)" in text and "(1352, 9)" in text and "(242, 288)" in text
    assert "dcols = dout2d @ w2d.T" in text
    assert "one training step 31,572,480 (15,786,240 per image)" in text


def test_trace_command(tmp_path, capsys):
    assert cli.main(["trace", "--batch", "2"]) == 0
    assert "(15,786,240 per image)" in capsys.readouterr().out
    assert cli.main(["trace", "--model", "dense", "--batch", "1"]) == 0
    assert "one training step 4,012,032" in capsys.readouterr().out
    model = Sequential([Conv2D(3, 2), Flatten(), Dense(2)], input_shape=(5, 4, 1), seed=0)
    save_model(model, tmp_path / "m.npz")
    assert cli.main(["trace", str(tmp_path / "m.npz"), "--batch", "1"]) == 0
    assert f"{2 * 4 * 3 * 2 * 2 * 1 * 3:,}" in capsys.readouterr().out  # 2*OH*OW*KH*KW*C*F
    assert cli.main(["trace", str(tmp_path / "m.npz"), "--model", "cnn"]) == 2
    assert "not both" in capsys.readouterr().err

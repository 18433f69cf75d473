"""gradcheck itself: it must fail on broken gradients, flag kinks, and report clearly.

Gradient checks run two forward passes per element, so they use the reference (NumPy) kernels:
they prove the maths, and the Numba twins are bit-identical to them (test_kernels_numba.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from tinycnn import runtime
from tinycnn.cli import gradcheck as gradcheck_command
from tinycnn.cli import main
from tinycnn.layers.base import Layer
from tinycnn.layers.conv2d import Conv2D
from tinycnn.layers.dense import Dense
from tinycnn.layers.maxpool2d import MaxPool2D
from tinycnn.layers.relu import ReLU
from tinycnn.testing.gradcheck import GradcheckResult, TensorCheck, gradcheck, relative_error


@pytest.fixture(autouse=True)
def reference_backend():
    with runtime.use_backend("numpy"):
        yield


def conv(kernel_size=(3, 3), cls=Conv2D, input_shape=(5, 6, 3), **kwargs) -> Conv2D:
    layer = cls(2, kernel_size, name="conv2d", **kwargs)
    rng = np.random.default_rng(0)
    layer.build(input_shape, rng)
    layer.params["b"] = rng.standard_normal(2).astype(np.float32)
    return layer


X = np.random.default_rng(1).standard_normal((2, 5, 6, 3))


class FlippedBiasConv(Conv2D):
    """A planted bug: the bias gradient has the wrong sign."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = -self.grads["b"]
        return dx


class TransposedKernelConv(Conv2D):
    """A planted bug: the kernel gradient's two spatial axes swapped (same shape when KH == KW)."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["w"] = self.grads["w"].transpose(1, 0, 2, 3)
        return dx


class HalvedInputConv(Conv2D):
    """A planted bug: dx is half what it should be."""

    def backward(self, dout):
        return 0.5 * super().backward(dout)


class PlainReLU(Layer):
    """ReLU without ``decision_state``: only ``kink_tol`` can see its kinks."""

    def forward(self, x, training=False):
        self._cache = x > 0
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout * self._cache


def test_a_correct_layer_passes_and_the_result_has_every_field():
    layer = conv(padding="same", strides=(2, 1))
    result = gradcheck(layer, X)
    assert isinstance(result, GradcheckResult) and result.ok
    assert [(t.name, t.shape) for t in result.tensors] == [
        ("x", (2, 5, 6, 3)),
        ("conv2d/w", (3, 3, 3, 2)),
        ("conv2d/b", (2,)),
    ]
    for t in result.tensors:
        assert isinstance(t, TensorCheck)
        assert t.n_checked == int(np.prod(t.shape)) and t.n_kinks == 0
        assert 0 <= t.max_rel_error < 1e-8
        assert len(t.worst_index) == len(t.shape)
        assert all(0 <= i < n for i, n in zip(t.worst_index, t.shape, strict=True))
    assert result.max_rel_error == max(t.max_rel_error for t in result.tensors)
    assert result.tolerance == 1e-6 and result.eps == 1e-6


def test_the_callers_layer_is_left_untouched():
    layer = conv()
    before = [w.copy() for w in layer.get_weights()]
    gradcheck(layer, X.astype(np.float32))
    assert layer.params["w"].dtype == np.float32
    for old, new in zip(before, layer.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize(
    ("cls", "kernel_size", "broken"),
    [
        (FlippedBiasConv, (3, 2), "conv2d/b"),
        (TransposedKernelConv, (3, 3), "conv2d/w"),
        (HalvedInputConv, (2, 3), "x"),
    ],
)
def test_a_planted_bug_fails_and_is_located(cls, kernel_size, broken):
    result = gradcheck(conv(kernel_size, cls=cls), X)
    assert not result.ok
    errors = {t.name: t.max_rel_error for t in result.tensors}
    assert errors[broken] > 0.1
    assert all(error < 1e-8 for name, error in errors.items() if name != broken)
    assert "FAIL" in str(result)


def test_a_flipped_sign_reports_an_error_of_one_where_nothing_cancels():
    x = X[:1, :3, :3, :]  # one output pixel: each bias gradient is a single dout, no sum
    result = gradcheck(conv(cls=FlippedBiasConv, input_shape=(3, 3, 3)), x)
    assert result.tensors[2].max_rel_error == pytest.approx(1.0, abs=1e-6)
    summed = gradcheck(conv(cls=FlippedBiasConv), X)  # Σ dout over 24 pixels: terms cancel
    assert 0.1 < summed.tensors[2].max_rel_error <= 1.0


def test_relu_input_within_eps_of_zero_is_flagged_as_a_kink():
    x = np.random.default_rng(2).standard_normal((2, 5)) + np.where(
        np.arange(10).reshape(2, 5) % 2 == 0, 3.0, -3.0
    )  # far from 0, except for the element placed below
    x[1, 2] = 3e-7  # x ± eps straddles 0 for eps = 1e-6
    result = gradcheck(ReLU(), x)
    check = result.tensors[0]
    assert (check.n_kinks, check.n_checked) == (1, 9)
    assert result.ok and check.max_rel_error < 1e-9
    # The same kink, invisible without a decision state, looks like a bug ...
    blind = gradcheck(PlainReLU(), x).tensors[0]
    assert blind.n_kinks == 0 and blind.worst_index == (1, 2) and blind.max_rel_error > 0.1
    # ... unless the one-sided slopes are compared.
    slopes = gradcheck(PlainReLU(), x, kink_tol=1e-3).tensors[0]
    assert (slopes.n_kinks, slopes.n_checked) == (1, 9) and slopes.max_rel_error < 1e-9


def test_a_max_pool_tie_is_flagged_as_a_kink():
    x = np.random.default_rng(3).standard_normal((1, 4, 4, 1))
    x[0, 0, 1, 0] = x[0, 0, 0, 0] = 5.0  # a tie for the top-left window
    layer = MaxPool2D(2)
    layer.build((4, 4, 1))
    result = gradcheck(layer, x)
    kinks = result.tensors[0].n_kinks
    assert kinks == 2 and result.tensors[0].n_checked == 14 and result.ok


def test_nested_relu_activation_kinks_are_seen_through_conv():
    layer = conv(activation="relu").astype(np.float64)
    w, b = layer.params["w"], layer.params["b"]
    # shift filter 0's bias so that output pixel (0, 0, 0) has pre-activation 1e-7 < eps
    pre = np.sum(X[0, 0:3, 0:3, :] * w[:, :, :, 0]) + b[0]
    b[0] -= pre - 1e-7
    result = gradcheck(layer, X)
    checks = {t.name: t for t in result.tensors}
    assert checks["conv2d/b"].n_kinks == 1  # b[0] ± eps moves that pixel across 0
    assert checks["x"].n_kinks >= 1  # so do the inputs under its window with |w| > 0.1
    assert result.ok


def test_relative_error_definition():
    a = np.array([1.0, -2.0, 1e-9, 0.0])
    n = np.array([1.0, 2.0, 2e-9, 0.0])
    error = relative_error(a, n)
    # sign flip -> 1; a tiny element is measured against a tenth of the largest (0.4)
    np.testing.assert_allclose(error, [0.0, 1.0, 1e-9 / 0.4, 0.0])
    # terms: a sum that cancelled is measured against the size of what it summed
    np.testing.assert_allclose(
        relative_error(np.array([0.002]), np.array([0.0021]), [3.0]), [1e-4 / 3.002]
    )


def test_explicit_dout_and_shape_errors():
    layer = MaxPool2D(2)
    layer.build((4, 4, 1))
    x = np.random.default_rng(4).standard_normal((1, 4, 4, 1))
    zero = gradcheck(layer, x, dout=np.zeros((1, 2, 2, 1)))
    assert zero.max_rel_error == 0.0
    with pytest.raises(ValueError, match=r"dout should have shape \(1, 2, 2, 1\), got \(2, 2\)"):
        gradcheck(layer, x, dout=np.zeros((2, 2)))


def test_report_text_and_verbose_printing(capsys):
    result = gradcheck(conv(), X, verbose=True, tolerance=1e-3)
    printed = capsys.readouterr().out
    assert printed.strip() == str(result)
    lines = str(result).splitlines()
    assert lines[0].startswith("gradcheck Conv2D(filters=2") and "eps=1e-06" in lines[0]
    assert lines[1].split()[:3] == ["tensor", "shape", "max"]
    assert [line.split()[0] for line in lines[2:5]] == ["x", "conv2d/w", "conv2d/b"]
    assert lines[5].strip().startswith("OK: max rel error") and "tolerance 0.001" in lines[5]


def test_cli_checks_every_builtin_layer(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    for label, _ in gradcheck_command.CASES:
        assert f"== {label}\ngradcheck " in out
    n = len(gradcheck_command.CASES)
    assert f"gradcheck: {n} of {n} checks passed" in out
    assert "FAIL" not in out


def test_cli_exit_status_is_one_when_a_check_fails(capsys, monkeypatch):
    def broken(rng):
        return conv(cls=FlippedBiasConv), X, {}

    monkeypatch.setattr(gradcheck_command, "CASES", [("broken conv", broken)])
    assert main(["gradcheck", "--seed", "3"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "failed: broken conv" in out


def test_builds_an_unbuilt_layer_and_takes_a_loss_by_name():
    x = np.random.default_rng(3).standard_normal((2, 6, 5, 2))
    result = gradcheck(Conv2D(3, (2, 3)), x, seed=4)
    assert [t.name for t in result.tensors] == ["x", "conv2d/w", "conv2d/b"]
    assert result.ok, str(result)
    logits = np.random.default_rng(5).standard_normal((3, 4))
    dense = Dense(4)
    dense.build((4,), np.random.default_rng(6))
    by_name = gradcheck(dense, logits, np.array([0, 3, 1]), loss="softmax_cross_entropy")
    assert by_name.ok, str(by_name)
    with pytest.raises(ValueError, match="loss"):
        gradcheck(dense, logits, np.array([0, 3, 1]), loss="hinge")

"""Training never keeps or saves non-finite weights (issue 17, finding 1).

The loop checks every gradient before the update and every weight after it
(``tinycnn.training.guard``). These tests poison one batch *after* the input checks (through an
augmenter, as a data pipeline might), so the NaN or inf appears during training, and check that
training stops naming the epoch, batch and parameter, that the model keeps exactly the finite
weights it had, and that no checkpoint or model file with NaN/inf weights is written.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from helpers_train import small_mnist, tiny_cnn

from tinycnn.layers import Dense, Flatten
from tinycnn.model import Sequential, load_model
from tinycnn.optim import SGD, Adam
from tinycnn.saving.checkpoint import load_checkpoint
from tinycnn.saving.io import save_model
from tinycnn.training.augment import Augmenter
from tinycnn.training.callbacks import LambdaCallback
from tinycnn.training.guard import FiniteGuard, squared_norm
from tinycnn.training.loop import NonFiniteLossError


@pytest.fixture(scope="module")
def data():
    (x, y), _ = small_mnist(n_train=256, n_test=8)
    return x, y


class Poison(Augmenter):
    """Leaves batches unchanged except batch ``batch`` (0-based, counted over the whole run),
    where ``edit(xb)`` changes them in place."""

    def __init__(self, batch, edit):
        super().__init__(rotation_range=0.0, shift_range=0.0)
        self.batch, self.edit, self.seen = batch, edit, 0

    def __call__(self, xb, rng):
        xb = xb.copy()
        if self.seen == self.batch:
            self.edit(xb)
        self.seen += 1
        return xb


def hidden_model(seed=0):
    """Flatten - Dense(8, relu) - Dense(10), with pixel 0's row of the first kernel positive,
    so a -inf at pixel 0 gives -inf pre-activations that ReLU turns into 0: the forward pass
    and the loss stay finite, but backward makes dw = x.T @ dz hold -inf * 0 = NaN."""
    model = Sequential([Flatten(), Dense(8, activation="relu"), Dense(10)], (14, 14, 1), seed)
    model.layers[1].params["w"][0] = np.abs(model.layers[1].params["w"][0]) + 0.1
    model.compile(optimizer=Adam(1e-3))
    return model


def weights_after(model_factory, data, batches, **fit):
    """The weights after ``batches`` clean updates (one epoch, no shuffling)."""
    kept = []
    model = model_factory()
    with contextlib.suppress(NonFiniteLossError):  # a later batch may fail: not looked at
        model.fit(
            *data, epochs=1, shuffle=False, verbose=0, batch_size=32,
            callbacks=[LambdaCallback(on_batch_end=lambda b, logs: kept.append(
                model.get_weights()) if b == batches - 1 else None)], **fit,
        )  # fmt: skip
    return kept[0]


def set_first_pixel(value):
    def edit(xb):
        xb[:, 0, 0, 0] = value

    return edit


def test_inf_pixel_with_finite_loss_stops_before_the_update(data, tmp_path):
    """The issue's case: one -inf pixel in a late batch, the loss finite, the gradient NaN."""
    model = hidden_model()
    ckpt = tmp_path / "run.ckpt.npz"
    with pytest.raises(NonFiniteLossError) as info:
        model.fit(
            *data, epochs=2, shuffle=False, verbose=0, batch_size=32, checkpoint=ckpt,
            augment=Poison(9, set_first_pixel(-np.inf)),  # epoch 2, batch 2
        )  # fmt: skip
    message = str(info.value)
    assert "the gradient of dense/w is NaN or infinite at epoch 2/2, batch 2/8" in message
    assert "the update was not applied" in message
    assert (info.value.epoch, info.value.batch) == (2, 2)
    assert info.value.history.stopped == "non_finite_update"
    assert info.value.history.history["loss"] and np.isfinite(info.value.history.history["loss"])
    # The checkpoint of epoch 1 is what is on disk, finite; the model holds epoch 2, batch 1.
    saved = load_checkpoint(ckpt)
    assert saved.epoch == 1 and all(np.isfinite(w).all() for w in saved.weights)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    save_model(model, tmp_path / "after.npz")  # a finite model saves and loads
    load_model(tmp_path / "after.npz")


def test_the_model_keeps_exactly_the_weights_of_the_previous_step(data):
    expected = weights_after(hidden_model, data, 3)
    model = hidden_model()
    with pytest.raises(NonFiniteLossError, match="batch 4/8"):
        model.fit(
            *data, epochs=1, shuffle=False, verbose=0, batch_size=32,
            augment=Poison(3, set_first_pixel(-np.inf)),
        )  # fmt: skip
    for got, want in zip(model.get_weights(), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_an_overflowing_update_goes_back_to_the_weights_before_it(data):
    """Adam with a huge learning rate: finite gradients, an update that overflows."""

    def exploding():
        model = tiny_cnn(seed=0)
        model.compile(optimizer=Adam(1e9))
        return model

    model = exploding()
    with pytest.raises(NonFiniteLossError, match="the update made conv2d/w NaN or inf") as e:
        model.fit(*data, epochs=1, shuffle=False, verbose=0, batch_size=32)
    assert "went back to those before this update" in str(e.value)
    assert e.value.batch >= 2
    expected = weights_after(exploding, data, e.value.batch - 1)
    for got, want in zip(model.get_weights(), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_risky_step_is_copied_and_restored_exactly():
    model = Sequential([Flatten(), Dense(10)], (14, 14, 1), seed=0)
    model.compile(optimizer=SGD(1.0))
    guard = FiniteGuard(model, epochs=1, steps=1)
    model.layers[1].grads["w"][:] = 1e7  # a gradient of norm over 1e6: risky
    guard.check_gradients(0, 0)
    before = model.get_weights()
    model.layers[1].params["w"] -= 1e38 * model.layers[1].grads["w"]  # overflows to -inf
    with pytest.raises(NonFiniteLossError, match="went back to those before this update"):
        guard.check_weights(0, 0)
    for got, want in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, want)


def test_an_unforeseen_overflow_goes_back_to_the_latest_snapshot():
    """With the risk thresholds out of reach, the guard falls back to its snapshot."""
    model = Sequential([Flatten(), Dense(10)], (14, 14, 1), seed=0)
    model.compile(optimizer=SGD(1.0))
    start = model.get_weights()
    guard = FiniteGuard(model, epochs=1, steps=1)
    guard.check_gradients(0, 0)  # zero gradients: a healthy step
    assert guard.before_update is None  # so no copy was made
    model.layers[1].params["w"][0, 0] = np.inf  # as if the update had overflowed
    with pytest.raises(NonFiniteLossError, match="latest finite snapshot, taken at the start"):
        guard.check_weights(0, 0)
    for got, want in zip(model.get_weights(), start, strict=True):
        np.testing.assert_array_equal(got, want)


def test_healthy_training_makes_no_copy_per_step(data, monkeypatch):
    """The guard copies the weights only for snapshots (every 100 steps) and risky updates."""
    copies = []
    original = FiniteGuard._copy
    monkeypatch.setattr(FiniteGuard, "_copy", lambda self: copies.append(1) or original(self))
    model = hidden_model()
    model.fit(*data, epochs=2, batch_size=8, verbose=0, seed=0)  # 64 steps
    assert len(copies) == 1  # the snapshot at the start only


def test_saving_refuses_non_finite_weights(tmp_path):
    model = hidden_model()
    model.layers[2].params["b"][3] = np.nan
    with pytest.raises(ValueError, match="refusing to save weight dense_1/b"):
        save_model(model, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_squared_norm_flags_nan_inf_and_overflow():
    assert squared_norm(np.ones(4, np.float32)) == 4.0
    assert np.isnan(squared_norm(np.array([1, np.nan], np.float32)))
    assert np.isinf(squared_norm(np.array([1, -np.inf], np.float32)))
    assert np.isinf(squared_norm(np.array([3e30, 1], np.float32)))  # finite, but risky

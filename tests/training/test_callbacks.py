"""Callbacks: the hooks fit calls, EarlyStopping's rules, ModelCheckpoint's files."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_train import small_mnist, tiny_cnn

from tinycnn.model import load_model
from tinycnn.training.callbacks import Callback, EarlyStopping, LambdaCallback, ModelCheckpoint


class FakeModel:
    """Enough of a model for EarlyStopping: weights are one number, the epoch it was set."""

    def __init__(self):
        self.weights = [np.array(-1.0)]
        self.stop_training = False

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]


def drive(callback, values, monitor="val_loss"):
    """Feed one metric value per epoch like fit does; returns the epochs that ran."""
    model = FakeModel()
    callback.set_model(model)
    callback.on_train_begin()
    ran = []
    for epoch, value in enumerate(values):
        model.weights = [np.array(float(epoch))]
        callback.on_epoch_end(epoch, {monitor: value})
        ran.append(epoch)
        if model.stop_training:
            break
    callback.on_train_end()
    return ran, model


def test_early_stopping_waits_patience_epochs():
    ran, _ = drive(EarlyStopping(patience=2), [1.0, 0.8, 0.9, 0.85, 0.7, 0.6])
    assert ran == [0, 1, 2, 3]  # two epochs without beating 0.8


def test_early_stopping_patience_zero_stops_at_first_non_improvement():
    ran, _ = drive(EarlyStopping(patience=0), [1.0, 0.8, 0.9, 0.7])
    assert ran == [0, 1, 2]


def test_early_stopping_restores_best_weights():
    stopper = EarlyStopping(patience=1, restore_best_weights=True)
    _, model = drive(stopper, [1.0, 0.5, 0.6, 0.4])
    assert stopper.best_epoch == 1 and stopper.best == 0.5 and stopper.stopped_epoch == 2
    assert float(model.weights[0]) == 1.0  # the weights of epoch 1, the best


def test_early_stopping_without_restoring_keeps_last_weights():
    _, model = drive(EarlyStopping(patience=1), [1.0, 0.5, 0.6])
    assert float(model.weights[0]) == 2.0


def test_min_delta_and_mode():
    ran, _ = drive(EarlyStopping(patience=1, min_delta=0.1), [1.0, 0.95, 0.5])
    assert ran == [0, 1]  # 0.95 is not better by more than 0.1
    ran, _ = drive(
        EarlyStopping("val_accuracy", patience=1), [0.5, 0.6, 0.55], monitor="val_accuracy"
    )
    assert ran == [0, 1, 2]  # "auto" means higher is better for accuracy
    ran, _ = drive(EarlyStopping("score", patience=1, mode="max"), [1, 2, 3, 2], "score")
    assert ran == [0, 1, 2, 3]


def test_missing_metric_is_a_clear_error():
    with pytest.raises(ValueError, match="monitor 'val_loss' is not among.*validation data"):
        drive(EarlyStopping(), [1.0], monitor="loss")
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="best")


@pytest.fixture(scope="module")
def data():
    return small_mnist(n_train=200, n_test=10)[0]


def test_fit_calls_the_hooks_in_order(data):
    events = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            events.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            events.append(f"epoch_begin {epoch}")

        def on_batch_end(self, batch, logs=None):
            assert set(logs) == {"loss", "accuracy"}
            events.append(f"batch {batch}")

        def on_epoch_end(self, epoch, logs=None):
            assert set(logs) == {"loss", "accuracy", "val_loss", "val_accuracy"}
            events.append(f"epoch_end {epoch}")

        def on_train_end(self, logs=None):
            events.append("train_end")

    model = tiny_cnn()
    model.compile()
    recorder = Recorder()
    model.fit(*data, epochs=2, batch_size=64, validation_split=0.2, verbose=0, callbacks=[recorder])
    assert recorder.model is model
    per_epoch = ["batch 0", "batch 1", "batch 2"]  # 160 images in batches of 64
    assert events == [
        "train_begin",
        "epoch_begin 0",
        *per_epoch,
        "epoch_end 0",
        "epoch_begin 1",
        *per_epoch,
        "epoch_end 1",
        "train_end",
    ]


def test_a_callback_can_stop_training(data):
    model = tiny_cnn()
    model.compile()
    stop = LambdaCallback(on_epoch_end=lambda epoch, logs: setattr(model, "stop_training", True))
    h = model.fit(*data, epochs=5, verbose=0, callbacks=[stop])
    assert h.epoch == [0] and h.stopped == "early_stopping"


def test_early_stopping_in_fit(data):
    model = tiny_cnn()
    model.compile()
    stopper = EarlyStopping(monitor="loss", patience=1, min_delta=10.0)  # never improves enough
    h = model.fit(*data, epochs=5, verbose=0, callbacks=[stopper])
    assert h.epoch == [0, 1] and stopper.stopped_epoch == 1


def test_model_checkpoint_saves_every_epoch_or_only_the_best(data, tmp_path):
    model = tiny_cnn()
    model.compile()
    every = ModelCheckpoint(tmp_path / "m-{epoch:02d}-{loss:.2f}.npz", save_best_only=False)
    best = ModelCheckpoint(tmp_path / "best.npz", save_best_only=True, monitor="loss")
    h = model.fit(*data, epochs=3, seed=0, verbose=0, callbacks=[every, best])
    assert [p.split("/")[-1] for p in every.saved] == [
        f"m-{e + 1:02d}-{loss:.2f}.npz" for e, loss in enumerate(h.history["loss"])
    ]
    improvements = [
        i for i, v in enumerate(h.history["loss"]) if v == min(h.history["loss"][: i + 1])
    ]
    assert len(best.saved) == len(improvements)
    assert improvements == [0, 1, 2]  # with seed 0 the loss falls every epoch
    restored = load_model(tmp_path / "best.npz")
    for a, b in zip(restored.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)

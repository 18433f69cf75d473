"""fit / evaluate / predict: learning, the validation split, reproducibility, input checks."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from helpers_train import small_mnist, tiny_cnn

from tinycnn.layers import Dense, Flatten
from tinycnn.losses import SoftmaxCrossEntropy
from tinycnn.model import Sequential
from tinycnn.optim import Adam
from tinycnn.training.loop import evaluate, fit, predict, predict_classes
from tinycnn.training.run import _split


@pytest.fixture(scope="module")
def data():
    return small_mnist(n_train=600, n_test=200)


def compiled(seed=0, learning_rate=3e-3):
    model = tiny_cnn(seed)
    model.compile(optimizer=Adam(learning_rate))
    return model


def test_loss_falls_and_history_is_recorded(data):
    (x, y), (xt, yt) = data
    model = compiled()
    loss_before, _ = model.evaluate(xt, yt)
    h = model.fit(x, y, epochs=4, batch_size=32, validation_split=0.1, seed=0, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert h.epoch == [0, 1, 2, 3] and len(h.times) == 4
    assert h.history["loss"][-1] < h.history["loss"][0] - 0.5
    assert model.evaluate(xt, yt)[0] < loss_before - 0.5
    assert h.history["val_accuracy"][-1] > 0.5
    assert h.params["seed"] == 0 and h.params["batch_size"] == 32
    assert h.params["train_samples"] == 540 and h.params["validation_samples"] == 60
    assert h.params["steps"] == 17 and h.stopped is None
    assert all(p.dtype == np.float32 for p in model.get_weights())


def test_validation_split_is_stratified_seeded_and_from_the_training_data(data):
    (x, y), _ = data
    train_a, (x_val, y_val) = _split(x, y, y, 0.2, None, seed=5)
    train_b, _ = _split(x, y, y, 0.2, None, seed=5)
    train_c, _ = _split(x, y, y, 0.2, None, seed=6)
    np.testing.assert_array_equal(train_a, train_b)
    assert not np.array_equal(train_a, train_c)
    val_rows = np.setdiff1d(np.arange(len(y)), train_a)
    assert len(val_rows) == 120 and len(np.intersect1d(train_a, val_rows)) == 0
    np.testing.assert_array_equal(x_val, x[val_rows])  # validation images are training images
    counts, val_counts = np.bincount(y, minlength=10), np.bincount(y_val, minlength=10)
    assert np.all(np.abs(val_counts - 0.2 * counts) <= 1)  # every class in proportion


def test_validation_metrics_are_computed_on_the_split_rows(data):
    (x, y), _ = data
    model = compiled()
    h = model.fit(x, y, epochs=1, validation_split=0.25, seed=3, verbose=0)
    _, (x_val, y_val) = _split(x, y, y, 0.25, None, seed=3)
    loss, acc = evaluate(model, x_val, y_val)
    assert h.history["val_loss"][0] == pytest.approx(loss, rel=1e-6)
    assert h.history["val_accuracy"][0] == pytest.approx(acc)


def test_explicit_validation_data(data):
    (x, y), (xt, yt) = data
    model = compiled()
    h = model.fit(x, y, epochs=1, validation_data=(xt, yt), seed=0, verbose=0)
    assert h.history["val_accuracy"][0] == pytest.approx(evaluate(model, xt, yt)[1])
    assert h.params["train_samples"] == 600


def test_same_seed_same_weights_and_seed_is_recorded(data):
    (x, y), _ = data
    a, b = compiled(), compiled()
    ha = a.fit(x, y, epochs=1, validation_split=0.1, verbose=0, augment=True)
    b.fit(x, y, epochs=1, validation_split=0.1, verbose=0, augment=True, seed=ha.params["seed"])
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    c = compiled()
    c.fit(x, y, epochs=1, validation_split=0.1, verbose=0, augment=True, seed=1234)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def test_one_hot_labels_train_like_integer_labels(data):
    (x, y), _ = data
    a, b = compiled(), compiled()
    a.fit(x, y, epochs=1, seed=0, verbose=0)
    b.fit(x, np.eye(10, dtype=np.float32)[y], epochs=1, seed=0, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-6)


def test_evaluate_matches_a_direct_computation(data):
    (x, y), _ = data
    model = tiny_cnn()
    logits = model.forward(x, logits=True)
    loss = SoftmaxCrossEntropy().forward(logits, y)
    acc = np.mean(np.argmax(logits, 1) == y)
    result = evaluate(model, x, y, batch_size=64, return_dict=True)
    assert result["loss"] == pytest.approx(loss, rel=1e-5)
    assert result["accuracy"] == pytest.approx(acc)


def test_predict_probabilities_and_classes(data):
    _, (xt, _) = data
    model = tiny_cnn()
    p = predict(model, xt, batch_size=37)
    assert p.shape == (200, 10) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(p, model.forward(xt), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(predict_classes(model, xt, batch_size=64), p.argmax(axis=1))


def test_training_does_not_copy_the_dataset(data):
    (x, y), _ = data
    x = np.tile(x, (50, 1, 1, 1))  # 30,000 images, 23.5 MB
    y = np.tile(y, 50)
    x.flags.writeable = False
    model = Sequential([Flatten(), Dense(10)], input_shape=(14, 14, 1), seed=0)
    model.compile(optimizer="sgd")
    tracemalloc.start()
    model.fit(x, y, epochs=1, batch_size=64, seed=0, verbose=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.05 * x.nbytes, f"peak {peak} bytes for a {x.nbytes}-byte dataset"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"batch_size": 2.5}, "batch_size must be a positive integer"),
        ({"validation_split": 1.0}, r"validation_split must be in \[0, 1\)"),
        ({"validation_split": 0.1, "validation_data": "x"}, "not both"),
    ],
)
def test_bad_arguments(data, kwargs, message):
    (x, y), _ = data
    with pytest.raises(ValueError, match=message):
        fit(compiled(), x, y, verbose=0, **kwargs)


def test_bad_inputs(data):
    (x, y), _ = data
    with pytest.raises(ValueError, match="dtype uint8.*scale_images"):
        fit(compiled(), (x * 255).astype(np.uint8), y, verbose=0)
    with pytest.raises(ValueError, match=r"labels of shape \(600,\)"):
        fit(compiled(), x, y[:-1], verbose=0)
    with pytest.raises(ValueError, match="not compiled"):
        fit(tiny_cnn(), x, y, verbose=0)

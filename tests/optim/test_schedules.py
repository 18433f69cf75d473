"""Learning-rate schedules, ReduceLROnPlateau, and bit-identical resume with either."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers_train import small_mnist, tiny_cnn

from tinycnn.model import load_model
from tinycnn.optim import SGD, Adam, get_optimizer
from tinycnn.optim.schedules import (
    CosineDecay,
    ExponentialDecay,
    PiecewiseConstantDecay,
    get_schedule,
    serialize,
)
from tinycnn.saving.checkpoint import load_checkpoint
from tinycnn.saving.io import save_model
from tinycnn.training.callbacks import ReduceLROnPlateau
from tinycnn.zoo import recipe


def test_exponential_decay_smooth_and_staircase():
    smooth = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    stairs = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert smooth(0) == 0.1 and smooth(10) == pytest.approx(0.05) and smooth(20) == 0.025
    assert smooth(5) == pytest.approx(0.1 * 0.5**0.5)
    assert [stairs(t) for t in (0, 9, 10, 19, 20)] == [0.1, 0.1, 0.05, 0.05, 0.025]


def test_piecewise_constant_boundaries_belong_to_the_left():
    schedule = PiecewiseConstantDecay([100, 200], [1.0, 0.5, 0.1])
    assert [schedule(t) for t in (0, 100, 101, 200, 201, 10**6)] == [1, 1, 0.5, 0.5, 0.1, 0.1]
    with pytest.raises(ValueError, match="expected 3 values for 2 boundaries, got 2"):
        PiecewiseConstantDecay([1, 2], [1.0, 0.5])


def test_cosine_decay_with_warmup():
    schedule = CosineDecay(0.0, decay_steps=100, alpha=0.1, warmup_target=1.0, warmup_steps=10)
    assert schedule(0) == 0.0 and schedule(5) == 0.5
    assert schedule(10) == 1.0
    assert schedule(60) == pytest.approx(0.1 + 0.9 * 0.5)
    assert schedule(110) == pytest.approx(0.1) and schedule(500) == pytest.approx(0.1)
    plain = CosineDecay(2.0, decay_steps=4)
    assert [plain(t) for t in (0, 2, 4, 9)] == pytest.approx([2.0, 1.0, 0.0, 0.0])


@pytest.mark.parametrize(
    "schedule",
    [
        ExponentialDecay(0.1, 3, 0.9, staircase=True),
        PiecewiseConstantDecay([2], [0.1, 0.01]),
        CosineDecay(1e-4, 7, alpha=0.05, warmup_target=1e-2, warmup_steps=3),
    ],
)
def test_optimizers_use_the_schedule_at_their_step_count(schedule):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(5) for _ in range(6)]
    p = np.zeros(5)
    opt = SGD(schedule)
    for t, g in enumerate(grads):
        before = p.copy()
        assert opt.learning_rate == schedule(t)
        opt.update([p], [g])
        assert opt.current_lr == schedule(t)  # the first update uses schedule(0), as Keras
        np.testing.assert_array_equal(p, before - g * schedule(t))
    with pytest.raises(ValueError, match="cannot be set"):
        opt.learning_rate = 0.5


def test_schedules_round_trip_through_configs_and_model_files(tmp_path):
    schedule = CosineDecay(1e-4, 50, warmup_target=1e-3, warmup_steps=5)
    assert get_schedule(serialize(schedule)).get_config() == schedule.get_config()
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'Nope'"):
        get_schedule({"class_name": "Nope"})
    model = tiny_cnn(0)
    model.compile(optimizer=Adam(schedule))
    rebuilt = get_optimizer({"class_name": "Adam", "config": model.optimizer.get_config()})
    assert rebuilt.schedule is not None and rebuilt.schedule.get_config() == schedule.get_config()
    save_model(model, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert type(loaded.optimizer.schedule) is CosineDecay
    assert loaded.optimizer.schedule.get_config() == schedule.get_config()


def test_reduce_lr_on_plateau_follows_keras_rule():
    class Model:
        optimizer = SGD(1.0)

    callback = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, cooldown=2, min_lr=0.2)
    callback.set_model(Model())
    callback.on_train_begin()
    rates = []
    for epoch, loss in enumerate([5, 4, 4, 4, 4, 4, 4, 4, 4, 4]):
        logs = {"loss": float(loss)}
        callback.on_epoch_end(epoch, logs)
        rates.append(Model.optimizer.learning_rate)
        assert logs["learning_rate"] == (rates[-2] if epoch else 1.0)
    # Waits 2 epochs, halves; the cool-down counts down from 2 starting with the next epoch and
    # holds the wait at 0 while it is above 0 after counting (1 epoch here, Keras's order);
    # then 2 more epochs of waiting, ... and never below min_lr.
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2]
    with pytest.raises(ValueError, match="factor must be in"):
        ReduceLROnPlateau(factor=1.0)


FIT = {"batch_size": 64, "validation_split": 0.1, "augment": True, "verbose": 0, "seed": 7}


@pytest.fixture(scope="module")
def data():
    return small_mnist(n_train=400, n_test=10)[0]  # 360 training images: 6 batches per epoch


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_resume_with_a_schedule_is_bit_identical(data, tmp_path):
    def compiled():
        model = tiny_cnn(seed=0)
        model.compile(optimizer=Adam(CosineDecay(1e-3, 18, warmup_target=5e-3, warmup_steps=4)))
        return model

    whole = compiled()
    history = whole.fit(*data, epochs=3, **FIT)
    ckpt = tmp_path / "run.ckpt.npz"
    compiled().fit(*data, epochs=1, checkpoint=ckpt, **FIT)
    resumed = load_model(ckpt)  # the schedule comes back from the file, not from this test
    assert resumed.optimizer.schedule is not None
    resumed_history = resumed.fit(*data, epochs=3, resume=ckpt, **FIT)
    assert_same_weights(resumed.get_weights(), whole.get_weights())
    assert resumed_history.history == history.history
    assert resumed.optimizer.current_lr == whole.optimizer.current_lr != 1e-3


def test_resume_with_reduce_lr_on_plateau_is_bit_identical(data, tmp_path):
    def run(epochs, **kwargs):
        model = tiny_cnn(seed=0)
        model.compile(optimizer=Adam(3e-3))
        # min_delta so large that nothing counts as an improvement after epoch 1: the rate falls
        # at epochs 3 and 5, so the resumed run must carry the wait counter and the reduced rate.
        callback = ReduceLROnPlateau("val_loss", factor=0.5, patience=2, min_delta=10.0)
        history = model.fit(*data, epochs=epochs, callbacks=[callback], **FIT, **kwargs)
        return model, history

    whole, history = run(6)
    assert whole.optimizer.learning_rate == 3e-3 / 4
    ckpt = tmp_path / "run.ckpt.npz"
    run(4, checkpoint=ckpt)
    state = load_checkpoint(ckpt)
    assert state.callbacks[0]["state"]["wait"] == 1
    assert float(state.optimizer_state["learning_rate"]) == 3e-3 / 2
    resumed, resumed_history = run(6, resume=ckpt)
    assert_same_weights(resumed.get_weights(), whole.get_weights())
    assert resumed_history.history == history.history
    assert resumed.optimizer.learning_rate == 3e-3 / 4


def test_cnn_bn_recipe_spans_the_run():
    plan = recipe("cnn_bn", train_samples=54_000)
    assert (plan.epochs, plan.batch_size) == (15, 64) and plan.augment is not None
    schedule = plan.optimizer.schedule
    steps = 844 * 15
    assert schedule(0) == pytest.approx(1e-4) and schedule(844) == pytest.approx(2e-3)
    assert schedule(steps) == 0.0 and schedule(steps // 2) > 1e-3
    assert recipe("cnn", 54_000).optimizer.learning_rate == 1e-3
    with pytest.raises(ValueError, match="unknown zoo model 'vgg'"):
        recipe("vgg", 10)
    assert math.isclose(schedule(844 + (steps - 844) // 2), 1e-3, rel_tol=1e-3)

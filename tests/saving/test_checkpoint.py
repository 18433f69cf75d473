"""Checkpoints: bit-identical resume, Ctrl-C (in process and to a CLI subprocess), NaN stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers_train import small_mnist, tiny_cnn

from tinycnn.model import load_model
from tinycnn.optim import Adam
from tinycnn.saving.checkpoint import load_checkpoint
from tinycnn.saving.io import save_model
from tinycnn.training.augment import Augmenter
from tinycnn.training.callbacks import LambdaCallback
from tinycnn.training.loop import NonFiniteLossError, TrainingError, TrainingInterrupted

FIT = {"batch_size": 64, "validation_split": 0.1, "augment": True, "verbose": 0}


@pytest.fixture(scope="module")
def data():
    return small_mnist(n_train=400, n_test=10)[0]  # 360 training images: 6 batches per epoch


def compiled():
    model = tiny_cnn(seed=0)  # has Dropout, so its generator state matters
    model.compile(optimizer=Adam(3e-3))
    return model


@pytest.fixture(scope="module")
def uninterrupted(data):
    model = compiled()
    history = model.fit(*data, epochs=3, seed=7, **FIT)
    return model.get_weights(), history


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_array_equal(wa, wb)


def interrupt_at(batch_number):
    """A callback that sends this process SIGINT (Ctrl-C) after the given 0-based batch."""
    count = {"n": 0}

    def on_batch_end(batch, logs):
        if count["n"] == batch_number:
            os.kill(os.getpid(), signal.SIGINT)
        count["n"] += 1

    return LambdaCallback(on_batch_end=on_batch_end)


def test_resume_after_an_epoch_is_bit_identical(data, uninterrupted, tmp_path):
    ckpt = tmp_path / "run.ckpt.npz"
    first = compiled()
    first.fit(*data, epochs=1, seed=7, checkpoint=ckpt, **FIT)
    state = load_checkpoint(ckpt)
    assert (state.epoch, state.step) == (1, 0) and state.fit_config["seed"] == 7
    assert int(state.optimizer_state["iterations"]) == 6
    resumed = compiled()
    history = resumed.fit(*data, epochs=3, resume=ckpt, **FIT)  # seed comes from the checkpoint
    assert_same_weights(resumed.get_weights(), uninterrupted[0])
    assert history.history == uninterrupted[1].history


def test_ctrl_c_mid_epoch_then_resume_is_bit_identical(data, uninterrupted, tmp_path):
    ckpt = tmp_path / "run.ckpt.npz"
    model = compiled()
    with pytest.raises(TrainingInterrupted, match=f"after epoch 2/3, batch 3/6.*{ckpt}") as info:
        model.fit(*data, epochs=3, seed=7, checkpoint=ckpt, callbacks=[interrupt_at(8)], **FIT)
    assert isinstance(info.value, KeyboardInterrupt) and info.value.checkpoint == str(ckpt)
    assert info.value.history.stopped == "interrupted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    state = load_checkpoint(ckpt)
    assert (state.epoch, state.step) == (1, 3)
    assert_same_weights(state.weights, model.get_weights())  # saved after the current batch
    resumed = compiled()
    history = resumed.fit(*data, epochs=3, resume=ckpt, **FIT)
    assert_same_weights(resumed.get_weights(), uninterrupted[0])
    assert history.history == uninterrupted[1].history


def test_resume_refuses_other_settings_and_model_files(data, tmp_path):
    ckpt = tmp_path / "run.ckpt.npz"
    compiled().fit(*data, epochs=1, seed=7, checkpoint=ckpt, **FIT)
    with pytest.raises(ValueError, match="batch_size: checkpoint 64, now 32"):
        compiled().fit(*data, epochs=2, resume=ckpt, **{**FIT, "batch_size": 32})
    with pytest.raises(ValueError, match="labels_crc32"):
        x, y = data
        compiled().fit(x, y[::-1].copy(), epochs=2, resume=ckpt, **FIT)
    with pytest.raises(ValueError, match="seed 7, not 8"):
        compiled().fit(*data, epochs=2, seed=8, resume=ckpt, **FIT)
    with pytest.raises(ValueError, match="already done 1 epochs"):
        compiled().fit(*data, epochs=1, resume=ckpt, **FIT)
    model_file = tmp_path / "model.npz"
    save_model(compiled(), model_file)
    with pytest.raises(ValueError, match="not a training checkpoint"):
        compiled().fit(*data, epochs=2, resume=model_file, **FIT)
    assert load_model(ckpt).count_params() == compiled().count_params()  # opens as a model


class PoisonBatch(Augmenter):
    """Passes batches through unchanged, except one pixel of batch ``batch`` (0-based) set to
    ``value``: a NaN or inf that appears during training, after the input checks."""

    def __init__(self, batch: int, value: float) -> None:
        super().__init__(rotation_range=0.0, shift_range=0.0)
        self.batch, self.value, self.seen = batch, value, 0

    def __call__(self, xb, rng):
        xb = xb.copy()
        if self.seen == self.batch:
            xb[5, 3, 3, 0] = self.value
        self.seen += 1
        return xb


def test_nan_during_training_stops_at_once_and_keeps_the_last_finite_weights(data):
    x, y = data
    after_second_update = []
    clean = compiled()
    clean.fit(
        x, y, epochs=1, shuffle=False, verbose=0,
        callbacks=[LambdaCallback(on_batch_end=lambda b, logs: after_second_update.append(
            clean.get_weights()) if b == 1 else None)],
    )  # fmt: skip
    model = compiled()
    with pytest.raises(NonFiniteLossError, match="loss became nan at epoch 1/2, batch 3/7") as info:
        model.fit(x, y, epochs=2, shuffle=False, verbose=0, augment=PoisonBatch(2, np.nan))
    error = info.value
    assert isinstance(error, TrainingError) and isinstance(error, FloatingPointError)
    assert (error.epoch, error.batch) == (1, 3) and error.history.stopped == "non_finite_loss"
    assert "seen at epoch 1, batch 2" in str(error)
    # Every update was checked finite, so the model keeps the weights after batch 2.
    assert_same_weights(model.get_weights(), after_second_update[0])


def test_exploding_learning_rate_stops_with_finite_weights(data, tmp_path):
    ckpt = tmp_path / "c.npz"
    model = tiny_cnn(seed=0)
    model.compile(optimizer=Adam(1e9))
    with pytest.raises(NonFiniteLossError, match="NaN or inf.*no checkpoint had"):
        model.fit(*data, epochs=3, seed=0, verbose=0, checkpoint=ckpt)
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    assert not ckpt.exists()


CLI_TRAIN = [
    "-m", "tinycnn", "train", "--subset", "--limit", "2000", "--model", "dense",
    "--epochs", "50", "--seed", "0", "--verbose", "2",
]  # fmt: skip


def test_ctrl_c_to_the_cli_leaves_a_loadable_checkpoint(tmp_path):
    out, ckpt = tmp_path / "m.npz", tmp_path / "m.ckpt.npz"
    proc = subprocess.Popen(
        [sys.executable, *CLI_TRAIN, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 120
    line = ""
    while not line.startswith("Epoch") and time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line or proc.poll() is None, proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert f"checkpoint saved to {ckpt}" in stderr and "--resume" in stderr
    assert not out.exists()  # the final model is only written when training completes
    state = load_checkpoint(ckpt)
    assert state.epoch < 50 and state.history["params"]["seed"] == 0
    model = load_model(ckpt)
    assert model.count_params() == 669_706

"""Model files: round trip, no pickle, atomic writes (kill -9), and every refused file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers_train import small_mnist, tiny_cnn

from tinycnn.model import load_model
from tinycnn.saving.io import FORMAT_VERSION, load_weights, read_npz, save_model
from tinycnn.zoo import dense_baseline


@pytest.fixture(scope="module")
def trained():
    (x, y), (xt, _) = small_mnist(n_train=200, n_test=50)
    model = tiny_cnn()
    model.compile(optimizer="sgd")
    model.fit(x, y, epochs=1, seed=0, verbose=0)
    return model, xt


@pytest.fixture
def saved(trained, tmp_path):
    path = tmp_path / "model.npz"
    save_model(trained[0], path)
    return path


def test_round_trip_gives_identical_predictions(trained, saved):
    model, xt = trained
    loaded = load_model(saved)
    np.testing.assert_array_equal(loaded.predict(xt), model.predict(xt))
    assert loaded.get_config() == model.get_config()
    assert [w.dtype for w in loaded.get_weights()] == [np.float32] * len(model.get_weights())
    assert type(loaded.optimizer).__name__ == "SGD"  # training config restored


def test_file_layout_has_no_pickle(saved):
    with np.load(saved, allow_pickle=False) as npz:
        meta = npz["meta"]
        assert meta.dtype.kind == "U" and meta.ndim == 0
        doc = json.loads(str(meta))
        assert doc["format"] == "tinycnn-model" and doc["format_version"] == FORMAT_VERSION
        assert [w["name"] for w in doc["weights"]][:2] == ["conv2d/w", "conv2d/b"]
        assert doc["training_config"]["optimizer"]["class_name"] == "SGD"
        assert sorted(npz.files) == ["meta"] + [f"w{i:03d}" for i in range(6)]


def test_save_is_atomic_and_leaves_no_temporary_files(trained, saved):
    save_model(trained[0], saved)  # overwrite
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model.npz"]
    mask = os.umask(0)
    os.umask(mask)
    assert saved.stat().st_mode & 0o777 == 0o666 & ~mask


def test_load_weights_into_same_architecture(trained, saved):
    model = tiny_cnn(seed=99)
    load_weights(model, saved)
    np.testing.assert_array_equal(model.predict(trained[1]), trained[0].predict(trained[1]))


# -- refused files --------------------------------------------------------------------------
def rewrite(path: Path, change) -> None:
    """Rewrite a model file with ``change(arrays)`` applied (without tinycnn's checks)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def edit_meta(path: Path, **changes) -> None:
    def change(arrays):
        doc = json.loads(str(arrays["meta"]))
        doc.update(changes)
        arrays["meta"] = np.array(json.dumps(doc))

    rewrite(path, change)


def refused(path, match):
    with pytest.raises(ValueError, match=match) as info:
        load_model(path)
    assert str(path) in str(info.value)  # the message names the file


def test_refuses_other_architecture(saved):
    with pytest.raises(ValueError, match="different architecture") as info:
        load_weights(dense_baseline(seed=0), saved)
    assert str(saved) in str(info.value) and "conv2d/w" in str(info.value)


def test_refuses_newer_format(saved):
    edit_meta(saved, format_version=FORMAT_VERSION + 1)
    refused(saved, f"newer tinycnn.*version {FORMAT_VERSION + 1}")


def test_refuses_truncated_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    refused(saved, "truncated or corrupt")


def test_refuses_corrupt_file(saved):
    data = bytearray(saved.read_bytes())
    data[len(data) // 3] ^= 0xFF  # one flipped byte inside a weight array
    saved.write_bytes(bytes(data))
    refused(saved, "truncated or corrupt|Bad CRC|corrupt")


def test_refuses_a_file_that_is_not_a_zip(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("hello")
    refused(path, "truncated or corrupt")


def test_refuses_pickled_objects_without_running_them(saved, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    def add_object(arrays):
        arrays["w000"] = np.array([Evil()], dtype=object)

    rewrite(saved, add_object)
    refused(saved, "pickled Python objects")
    assert not marker.exists()


def test_refuses_missing_entries(saved, tmp_path):
    rewrite(saved, lambda arrays: arrays.pop("w003"))
    refused(saved, "missing weight entry 'w003'")
    rewrite(saved, lambda arrays: arrays.pop("meta"))
    refused(saved, "missing the 'meta' entry")


def test_refuses_wrong_shapes_and_other_formats(saved):
    rewrite(saved, lambda arrays: arrays.update(w000=np.zeros((1, 2), np.float32)))
    refused(saved, "corrupt")
    edit_meta(saved, format="someone-else")
    refused(saved, "not a tinycnn model file")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_model(tmp_path / "nope.npz")


def test_read_npz_checks_every_entry_size(saved):
    with zipfile.ZipFile(saved) as z:
        names = z.namelist()
    assert set(read_npz(saved)) == {n.removesuffix(".npy") for n in names}


# -- kill -9 during a save ------------------------------------------------------------------
SAVER = """
import sys
from tinycnn.saving.io import save_model
from tinycnn.layers import Dense
from tinycnn.model import Sequential
model = Sequential([Dense(2048)], input_shape=(2048,), seed=0)  # 16 MB of weights
print("ready", flush=True)
while True:
    save_model(model, sys.argv[1])
"""


def test_kill_9_during_save_never_leaves_a_half_written_file(tmp_path):
    path = tmp_path / "big.npz"
    rng = np.random.default_rng(0)
    landed = 0
    for _ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.5))  # somewhere in the middle of a later save
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        model = load_model(path)  # whatever is under the final name is complete
        assert model.count_params() == 2048 * 2048 + 2048
        leftovers = [p.name for p in tmp_path.iterdir() if p.name != "big.npz"]
        # The next process's first save removed the earlier leftovers: at most this kill's.
        assert len(leftovers) <= 1
        assert all(name.startswith(".big.npz.") and name.endswith(".tmp") for name in leftovers)
        landed += len(leftovers)
    assert landed, "no kill landed inside a save: the test did not test anything"
    save_model(model, path)  # the next save cleans up after the killed writer
    assert [p.name for p in tmp_path.iterdir()] == ["big.npz"]

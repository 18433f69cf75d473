"""MNIST loading: the real facts of the data set, where the files are looked for, the subset."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT

from tinycnn.data import download, mnist
from tinycnn.data.arrays import scale_images, stratified_counts
from tinycnn.data.idx import save_idx
from tinycnn.data.mnist import (
    MNIST_FILES,
    SUBSET_DIR,
    MnistNotFoundError,
    load_mnist,
    load_mnist_or_subset,
    read_mnist,
)
from tinycnn.data.subset import SUBSET_SIZES, subset_indices

# From ../shared/data/mnist/README.md
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def full(mnist_dir):
    """The full MNIST, read once for this module."""
    return load_mnist(mnist_dir)


@pytest.fixture(autouse=True)
def no_network_and_private_places(monkeypatch, tmp_path):
    """No test here may reach a real mirror, or see the user's own data folders."""
    monkeypatch.setattr(download, "MIRRORS", ())
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def fake_mnist(folder: Path, n_train=12, n_test=6, gz=True, seed=0) -> tuple:
    """Write a small MNIST-format data set (random pixels) and return its arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        save_idx(folder / (name + (".gz" if gz else "")), array)
    return tuple(arrays.values())


def assert_same_data(loaded, arrays):
    (x_train, y_train), (x_test, y_test) = loaded
    np.testing.assert_array_equal(x_train[..., 0], arrays[0])
    np.testing.assert_array_equal(y_train, arrays[1])
    np.testing.assert_array_equal(x_test[..., 0], arrays[2])
    np.testing.assert_array_equal(y_test, arrays[3])


# --- the real data set -----------------------------------------------------------------------


def test_full_mnist_shapes_and_types(full):
    (x_train, y_train), (x_test, y_test) = full
    assert x_train.shape == (60_000, 28, 28, 1) and x_test.shape == (10_000, 28, 28, 1)
    assert y_train.shape == (60_000,) and y_test.shape == (10_000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}


def test_full_mnist_label_facts(full):
    (_, y_train), (_, y_test) = full
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == TEST_COUNTS
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_full_mnist_mean_pixel(full):
    (x_train, _), _ = full
    assert round(float(x_train.mean()), 3) == 33.318
    assert round(float(scale_images(x_train).mean(dtype=np.float64)), 4) == 0.1307


def test_environment_variable_points_at_the_data(monkeypatch, mnist_dir, full):
    monkeypatch.setenv(mnist.ENV_VAR, str(mnist_dir))
    assert mnist.locate_mnist() == (mnist_dir, mnist.ENV_VAR)
    (x_train, y_train), _ = load_mnist(download=False)
    np.testing.assert_array_equal(x_train, full[0][0])


# --- where the files are looked for ----------------------------------------------------------


def test_path_reads_raw_or_gzipped_files(tmp_path):
    arrays = fake_mnist(tmp_path / "gz", gz=True)
    assert_same_data(load_mnist(tmp_path / "gz"), arrays)
    arrays = fake_mnist(tmp_path / "raw", gz=False, seed=1)
    assert_same_data(load_mnist(str(tmp_path / "raw")), arrays)


def test_environment_variable_comes_before_the_cache(monkeypatch, tmp_path):
    env_arrays = fake_mnist(tmp_path / "env", seed=1)
    fake_mnist(mnist.cache_dir(), seed=2)
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "env"))
    assert_same_data(load_mnist(), env_arrays)


def test_cache_is_used_when_the_environment_variable_is_unset_or_incomplete(monkeypatch, tmp_path):
    cache_arrays = fake_mnist(mnist.cache_dir(), seed=2)
    assert mnist.cache_dir() == tmp_path / "cache" / "tinycnn" / "mnist"
    assert_same_data(load_mnist(), cache_arrays)
    fake_mnist(tmp_path / "env", seed=1)
    (tmp_path / "env" / "t10k-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "env"))
    assert mnist.locate_mnist() == (mnist.cache_dir(), "cache")
    assert_same_data(load_mnist(), cache_arrays)


def test_cache_defaults_to_home_and_ignores_a_relative_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert mnist.cache_dir() == tmp_path / "home" / ".cache" / "tinycnn" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert mnist.cache_dir() == tmp_path / "home" / ".cache" / "tinycnn" / "mnist"


def test_nothing_found_says_where_it_looked_and_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "empty"))
    with pytest.raises(MnistNotFoundError) as caught:
        load_mnist(download=False)
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    assert f"{tmp_path / 'empty'} (TINYCNN_DATA_DIR): missing train-images-idx3-ubyte" in message
    assert f"{mnist.cache_dir()} (cache)" in message
    assert "downloading was turned off" in message
    assert f"copy them into {mnist.cache_dir()}" in message and "set TINYCNN_DATA_DIR" in message
    # what to pass instead, as README and docs say (load_mnist never swaps the subset in silently)
    assert "load_mnist(subset=True)" in message and "load_mnist_or_subset()" in message


def test_nothing_found_and_no_mirror_reports_the_failed_download():
    with pytest.raises(MnistNotFoundError, match="the download failed: could not download"):
        load_mnist()
    assert not any(mnist.cache_dir().glob("*idx*-ubyte*"))


def test_an_explicit_folder_missing_files_is_an_error(tmp_path):
    fake_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MnistNotFoundError, match="lacks train-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(MnistNotFoundError, match="is not a folder"):
        load_mnist(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("name", "array", "message"),
    [
        ("train-labels-idx1-ubyte", np.zeros(11, np.uint8), "12 images but labels of shape"),
        ("train-labels-idx1-ubyte", np.zeros(12, np.int32), "expected elements of type uint8"),
        ("train-images-idx3-ubyte", np.zeros((12, 784), np.uint8), "images of shape .N, H, W."),
        ("t10k-images-idx3-ubyte", np.zeros((6, 20, 20), np.uint8), "expected the same size"),
    ],
)
def test_inconsistent_files_are_refused(tmp_path, name, array, message):
    fake_mnist(tmp_path)
    save_idx(tmp_path / (name + ".gz"), array)
    with pytest.raises(ValueError, match=message):
        read_mnist(tmp_path)


def test_subset_and_path_together_are_refused(tmp_path):
    with pytest.raises(ValueError, match="either path or subset=True"):
        load_mnist(tmp_path, subset=True)


def test_fallback_to_the_subset_prints_one_line(capsys):
    (x_train, y_train), (x_test, y_test) = load_mnist_or_subset()
    assert x_train.shape == (10_000, 28, 28, 1) and x_test.shape == (2_000, 28, 28, 1)
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "embedded subset of 10,000 training and 2,000 test images" in err


def test_no_fallback_when_the_full_set_is_found(monkeypatch, tmp_path, capsys):
    arrays = fake_mnist(tmp_path / "env")
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "env"))
    assert_same_data(load_mnist_or_subset(), arrays)
    assert capsys.readouterr().err == ""


def test_no_fallback_for_an_explicit_path_or_a_corrupt_file(monkeypatch, tmp_path):
    with pytest.raises(MnistNotFoundError):
        load_mnist_or_subset(tmp_path / "nowhere")
    fake_mnist(tmp_path / "env")
    (tmp_path / "env" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x00\x00\x08")
    monkeypatch.setenv(mnist.ENV_VAR, str(tmp_path / "env"))
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: truncated header"):
        load_mnist_or_subset()


# --- the embedded subset ---------------------------------------------------------------------


def test_subset_shapes_and_size_on_disk():
    (x_train, y_train), (x_test, y_test) = load_mnist(subset=True)
    assert x_train.shape == (10_000, 28, 28, 1) and y_train.shape == (10_000,)
    assert x_test.shape == (2_000, 28, 28, 1) and y_test.shape == (2_000,)
    assert x_train.dtype == y_train.dtype == np.uint8
    assert sum(p.stat().st_size for p in SUBSET_DIR.iterdir()) <= 2_000_000


def test_subset_is_stratified_like_the_full_set():
    """Class counts are the full set's proportions within one image: floor or ceil of the quota
    ``size * n_k / N``, using the published full-set counts."""
    (_, y_train), (_, y_test) = load_mnist(subset=True)
    for y, full_counts, size in [
        (y_train, TRAIN_COUNTS, SUBSET_SIZES["train"]),
        (y_test, TEST_COUNTS, SUBSET_SIZES["t10k"]),
    ]:
        counts = np.bincount(y, minlength=10)
        quota = size * np.array(full_counts) / sum(full_counts)
        assert np.all(np.abs(counts - quota) < 1)
        np.testing.assert_array_equal(counts, stratified_counts(np.array(full_counts), size))


def test_subset_images_are_the_full_set_images_at_the_recorded_indices(full):
    (x_train, y_train), (x_test, y_test) = load_mnist(subset=True)
    train_indices, test_indices = subset_indices()
    (fx_train, fy_train), (fx_test, fy_test) = full
    for indices, n in [(train_indices, 60_000), (test_indices, 10_000)]:
        assert np.all(np.diff(indices) > 0) and 0 <= indices[0] and indices[-1] < n
    np.testing.assert_array_equal(x_train, fx_train[train_indices])
    np.testing.assert_array_equal(y_train, fy_train[train_indices])
    np.testing.assert_array_equal(x_test, fx_test[test_indices])
    np.testing.assert_array_equal(y_test, fy_test[test_indices])


def test_script_regenerates_the_subset_byte_for_byte(mnist_dir, tmp_path):
    script = REPO_ROOT / "scripts" / "make_mnist_subset.py"
    cmd = [sys.executable, str(script), "--source", str(mnist_dir), "--out", str(tmp_path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    shipped = sorted(p.name for p in SUBSET_DIR.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == shipped
    assert len(shipped) == 6 and {n.removesuffix(".gz") for n in shipped} >= set(MNIST_FILES)
    for name in shipped:
        assert (tmp_path / name).read_bytes() == (SUBSET_DIR / name).read_bytes(), name

"""``tinycnn data info`` and ``tinycnn data download`` (mirrors are local folders via file://)."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from tinycnn.cli import main
from tinycnn.data import download, mnist
from tinycnn.data.idx import idx_bytes, save_idx
from tinycnn.data.mnist import MNIST_FILES

SUBSET_TRAIN_LINE = "train 10,000 images 28x28x1, labels per class: 987 1124 993 1022 974 904"


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setattr(download, "MIRRORS", ())
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def fake(tmp_path):
    """A folder with a small MNIST-format data set, and the sha256 of its files."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (7, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.array([0, 1, 1, 2, 2, 2, 9], dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.array([3, 3, 0], dtype=np.uint8),
    }
    folder = tmp_path / "fake"
    folder.mkdir()
    for name, array in arrays.items():
        save_idx(folder / (name + ".gz"), array)
    checksums = {n: hashlib.sha256(idx_bytes(a)).hexdigest() for n, a in arrays.items()}
    return folder, checksums


def test_info_on_a_folder_prints_counts(fake, capsys):
    folder, _ = fake
    assert main(["data", "info", "--data", str(folder)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"full MNIST: {folder} (from --data)"
    assert out[1] == "  train      7 images 28x28x1, labels per class: 1 2 3 0 0 0 0 0 0 1"
    assert out[2] == "  test       3 images 28x28x1, labels per class: 1 0 0 2"
    assert out[3] == f"embedded subset: {mnist.SUBSET_DIR}"
    assert out[4].strip().startswith(SUBSET_TRAIN_LINE)


def test_info_follows_the_environment_variable(monkeypatch, fake, capsys):
    folder, _ = fake
    monkeypatch.setenv(mnist.ENV_VAR, str(folder))
    assert main(["data", "info"]) == 0
    assert capsys.readouterr().out.startswith(f"full MNIST: {folder} (from TINYCNN_DATA_DIR)\n")


def test_info_without_data_says_where_it_looked(capsys):
    assert main(["data", "info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("full MNIST: not found; looked in\n  $TINYCNN_DATA_DIR (not set)\n")
    assert f"  {mnist.cache_dir()} (cache)\n" in out
    assert "run 'tinycnn data download'" in out
    assert SUBSET_TRAIN_LINE in out


def test_info_on_a_missing_folder_is_an_error(tmp_path, capsys):
    assert main(["data", "info", "--data", str(tmp_path / "nowhere")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("tinycnn data: error: ") and "is not a folder" in captured.err


def test_download_fetches_into_a_folder_then_finds_it_complete(monkeypatch, fake, tmp_path, capsys):
    folder, checksums = fake
    monkeypatch.setattr(download, "MNIST_SHA256", checksums)
    target = tmp_path / "target"
    assert main(["data", "download", "--dir", str(target), "--mirror", folder.as_uri()]) == 0
    out = capsys.readouterr().out
    assert out.count("downloaded ") == 4
    assert sorted(p.name for p in target.iterdir()) == sorted(n + ".gz" for n in MNIST_FILES)
    assert main(["data", "download", "--dir", str(target), "--mirror", folder.as_uri()]) == 0
    assert capsys.readouterr().out == f"all four files are already in {target}\n"


def test_download_defaults_to_the_cache(monkeypatch, fake, capsys):
    folder, checksums = fake
    monkeypatch.setattr(download, "MNIST_SHA256", checksums)
    assert main(["data", "download", "--mirror", folder.as_uri()]) == 0
    assert mnist.locate_mnist() == (mnist.cache_dir(), "cache")
    assert f"downloaded {mnist.cache_dir()}" in capsys.readouterr().out


def test_download_failure_is_one_error_and_leaves_nothing(fake, tmp_path, capsys):
    folder, _ = fake  # the real checksums do not match these files
    target = tmp_path / "target"
    assert main(["data", "download", "--dir", str(target), "--mirror", folder.as_uri()]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tinycnn data: error: could not download train-images-idx3-ubyte")
    assert "checksum mismatch" in err
    assert list(target.iterdir()) == []


def test_data_needs_an_action(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["data"])
    assert caught.value.code == 2
    assert "required: <action>" in capsys.readouterr().err


def test_help_lists_the_actions(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["data", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "info      where the data is found" in out and "download  fetch the four files" in out


def test_runs_as_a_module(fake):
    folder, _ = fake
    cmd = [sys.executable, "-m", "tinycnn", "data", "info", "--data", str(folder)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.startswith(f"full MNIST: {folder} (from --data)\n")

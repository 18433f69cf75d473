"""The train / evaluate / predict / summary / doctor commands, and their one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from tinycnn.cli import main
from tinycnn.data import load_mnist
from tinycnn.data.pictures import mnist_style, resize_area
from tinycnn.model import load_model

TRAIN = ["train", "--subset", "--limit", "600", "--model", "dense", "--epochs", "2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    out = folder / "m.npz"
    code = main([*TRAIN, "--seed", "1", "--verbose", "2", "--out", str(out)])
    assert code == 0
    return out


def test_train_prints_progress_and_test_accuracy(trained, tmp_path, capsys):
    out = tmp_path / "again.npz"
    assert main([*TRAIN, "--seed", "1", "--verbose", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Data: 540 training and 60 validation images (split from the training set" in text
    assert "2,000 test images" in text
    assert re.search(r"^Epoch 2/2\n9/9 - .* - val_accuracy: 0\.\d{4}$", text, re.M)
    accuracy = float(re.search(r"^Test accuracy: (\d+\.\d\d)% \(loss", text, re.M).group(1))
    assert accuracy > 50
    assert (tmp_path / "again.ckpt.npz").exists()
    for a, b in zip(load_model(out).get_weights(), load_model(trained).get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # same seed, same model


def test_jit_compile_flag_runs_the_fused_steps_and_says_so(tmp_path, capsys):
    cnn = ["train", "--subset", "--limit", "200", "--model", "cnn", "--epochs", "1", "--seed", "1"]
    for flag, expected in [([], "Runs: eager on the "), (["--jit-compile"], "Runs: jit_compile")]:
        out = tmp_path / f"cnn{len(flag)}.npz"
        assert main([*cnn, "--verbose", "2", "--out", str(out), *flag]) == 0
        text = capsys.readouterr().out
        runs = [line for line in text.splitlines() if line.startswith("Runs: ")]
        assert len(runs) == 1 and runs[0].startswith(expected), text
    with_jit, eager = load_model(tmp_path / "cnn1.npz"), load_model(tmp_path / "cnn0.npz")
    for a, b in zip(with_jit.get_weights(), eager.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-3)  # same run, float32 rounding apart


def test_resume_continues_a_cli_run(trained, tmp_path, capsys):
    out = tmp_path / "more.npz"
    checkpoint = trained.with_name("m.ckpt.npz")
    resume = [*TRAIN[:-1], "3", "--verbose", "2", "--out", str(out), "--resume", str(checkpoint)]
    assert main(resume) == 0
    text = capsys.readouterr().out
    assert "seed 1" in text and "Resuming from" in text and "Epoch 3/3" in text
    assert "Epoch 1/3" not in text


def test_evaluate_prints_accuracy_matrix_and_report(trained, capsys):
    assert main(["evaluate", str(trained), "--subset"]) == 0
    text = capsys.readouterr().out
    accuracy = float(re.search(r"Test accuracy: (\d+\.\d\d)% on 2,000 images", text).group(1))
    rows = re.findall(r"^\s+(\d) ((?:\s+\d+){10})$", text, re.M)
    cm = np.array([[int(v) for v in counts.split()] for _, counts in rows])
    assert cm.shape == (10, 10) and cm.sum() == 2000
    assert np.trace(cm) / 20 == pytest.approx(accuracy, abs=0.01)
    assert re.search(rf"^\s+accuracy\s+{accuracy / 100:.4f}\s+2000$", text, re.M)
    assert "weighted avg" in text and "f1-score" in text


def test_predict_reads_pictures(trained, tmp_path, capsys):
    from PIL import Image

    (_, _), (x_test, y_test) = load_mnist(subset=True)
    paths = []
    for i in range(3):  # dark ink on white paper, enlarged, off-centre, as a phone photo
        paper = np.full((120, 90), 255, dtype=np.uint8)
        digit = 255 - np.kron(x_test[i, ..., 0], np.ones((3, 3), dtype=np.uint8))
        paper[10:94, 2:86] = digit
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(paper).save(path)
        paths.append(str(path))
    assert main(["predict", str(trained), *paths]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    model = load_model(trained)
    direct = model.predict_classes(x_test[:3].astype(np.float32) / 255)
    for line, path, label in zip(lines, paths, direct, strict=True):
        match = re.fullmatch(
            rf"{re.escape(path)}: (\d) \((\d+\.\d)%\)  \d \(.*%\)  \d \(.*%\)", line
        )
        assert match and int(match.group(1)) == label


def test_mnist_style_keeps_an_mnist_digit_nearly_unchanged():
    (_, _), (x_test, _) = load_mnist(subset=True)
    for image in x_test[:5, ..., 0].astype(np.float32) / 255:
        out = mnist_style(1.0 - image)[..., 0]  # as dark ink on light paper
        assert out.shape == (28, 28) and out.max() <= 1.0
        assert np.corrcoef(out.ravel(), image.ravel())[0, 1] > 0.8
    np.testing.assert_allclose(resize_area(np.ones((7, 5)), 3, 2), np.ones((3, 2)))
    with pytest.raises(ValueError, match="no digit found"):
        mnist_style(np.full((10, 10), 0.7))


def test_summary_and_doctor(trained, capsys):
    assert main(["summary", "--model", "cnn"]) == 0
    assert "Total params: 225,034" in capsys.readouterr().out
    assert main(["summary", "--model", str(trained)]) == 0
    assert "Total params: 669,706" in capsys.readouterr().out
    code = main(["doctor", "--model", "dense", "--subset", "--samples", "64"])
    text = capsys.readouterr().out
    assert code == 0 and text.startswith("tinycnn doctor: 6 checks")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "missing.npz", "--subset"], "missing.npz: no such file"),
        (["predict", "missing.npz", "x.png"], "missing.npz: no such file"),
        (["train", "--subset", "--validation-split", "1.5"], "--validation-split must be in"),
        (["train", "--subset", "--resume", "nope.ckpt"], "--resume nope.ckpt: no such file"),
        (["train", "--data", "no_such_dir"], "--data no_such_dir: no such folder"),
        (["summary", "--model", "garbage.npz"], "garbage.npz: not a readable tinycnn file"),
        (["train", "--subset", "--model", "cnn_bn", "--lr", "0.1"], "recipe's schedule; drop --lr"),
    ],
)
def test_errors_are_one_line_without_traceback(argv, message, tmp_path):
    (tmp_path / "garbage.npz").write_text("not a model")
    result = subprocess.run(
        [sys.executable, "-m", "tinycnn", *argv], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_train_a_recipe_model_uses_its_schedule_and_augmentation(tmp_path, capsys):
    out = tmp_path / "bn.npz"
    argv = ["train", "--subset", "--limit", "200", "--model", "cnn_bn", "--epochs", "1"]
    assert main([*argv, "--seed", "0", "--verbose", "0", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Recipe: 1 epochs, augmentation, Adam with CosineDecay(" in text
    assert "Model: cnn_bn, 225,930 parameters" in text
    model = load_model(out)
    assert type(model.optimizer.schedule).__name__ == "CosineDecay"
    assert model.optimizer.schedule.decay_steps == 3 - 1  # 180 images: 3 steps, 1 of warm-up
    assert load_model(out.with_name("bn.ckpt.npz")).layers[2].state["moving_mean"].any()


def test_argument_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--epochs", "0"])
    assert info.value.code == 2 and "--epochs: must be > 0" in capsys.readouterr().err


def test_trained_model_file_carries_its_history_for_curves(trained, tmp_path):
    from tinycnn.saving.io import read_meta, read_npz

    history = read_meta(trained, read_npz(trained))["history"]
    assert history["epoch"] == [0, 1]
    assert len(history["history"]["val_loss"]) == 2
    out = tmp_path / "curves.png"
    assert main(["plot", "curves", str(trained), "--out", str(out)]) == 0
    assert out.stat().st_size > 1000

"""``tinycnn plot <kind> model.npz --out file.png`` for every kind, and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tinycnn import cli
from tinycnn.data import load_mnist, scale_images
from tinycnn.data.mnist import SUBSET_DIR
from tinycnn.layers import Conv2D, Dense, Flatten, MaxPool2D
from tinycnn.model import Sequential, load_model
from tinycnn.optim import Adam
from tinycnn.saving.io import save_model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny CNN (model file, checkpoint, history JSON) and a tiny dense model, trained."""
    folder = tmp_path_factory.mktemp("plot_cli")
    (x, y), _ = load_mnist(subset=True)
    x, y = scale_images(x[:400]), y[:400]
    cnn = Sequential(
        [
            Conv2D(4, 3, activation="relu"),
            MaxPool2D(),
            Conv2D(4, 3, activation="relu"),
            MaxPool2D(),
            Flatten(),
            Dense(10, activation="softmax"),
        ],
        input_shape=(28, 28, 1),
        seed=0,
    )
    dense = Sequential(
        [Flatten(), Dense(10, activation="softmax")], input_shape=(28, 28, 1), seed=0
    )
    for model in (cnn, dense):
        model.compile(Adam(3e-3))
    history = cnn.fit(
        x, y, epochs=2, validation_split=0.25, seed=0, verbose=0, checkpoint=folder / "cnn.ckpt"
    )
    dense.fit(x, y, epochs=2, seed=0, verbose=0)
    save_model(cnn, folder / "cnn.npz")
    save_model(dense, folder / "dense.npz")
    (folder / "history.json").write_text(json.dumps(history.to_dict()))
    return folder


def plot(files, tmp_path, kind, *extra, models=("cnn.npz",)):
    out = tmp_path / f"{kind}.png"
    argv = [
        "plot",
        kind,
        *(str(files / m) for m in models),
        "--out",
        str(out),
        "--data",
        str(SUBSET_DIR),
        "--limit",
        "200",
        *extra,
    ]
    return cli.main(argv), out


def check_png(path, size):
    image = Image.open(path)
    assert image.size == size
    assert np.asarray(image.convert("L"), dtype=np.float64).var() > 100.0


@pytest.mark.parametrize(
    ("kind", "extra", "size"),
    [
        ("confusion", (), (700, 600)),
        ("filters", (), (630, 250)),
        ("filters", ("--layer", "conv2d_1"), (1000, 1030)),
        ("feature-maps", ("--index", "5"), (1140, 740)),
        ("probabilities", ("--index", "5"), (900, 350)),
        ("im2col", ("--index", "5"), (1200, 600)),
        ("saliency", ("--index", "5", "--class", "3"), (1000, 380)),
        ("occlusion", ("--index", "5"), (1000, 380)),
        ("adversarial", ("--index", "5", "--target", "2", "--steps", "3"), (1200, 380)),
        ("class-visualisation", (), (1100, 300)),
    ],
)
def test_every_kind_writes_a_png(files, tmp_path, capsys, kind, extra, size):
    status, out = plot(files, tmp_path, kind, *extra)
    assert status == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    check_png(out, size)


def test_mistakes_gallery(files, tmp_path):
    status, out = plot(files, tmp_path, "mistakes")
    assert status == 0
    check_png(out, (800, 990))  # 25 mistakes in 5 rows of 5


def test_shift_takes_two_models(files, tmp_path):
    status, out = plot(
        files, tmp_path, "shift", "--max-shift", "2", models=("cnn.npz", "dense.npz")
    )
    assert status == 0
    check_png(out, (700, 450))


def test_curves_from_a_checkpoint_or_a_history_file(files, tmp_path, capsys):
    status, out = plot(files, tmp_path, "curves", models=("cnn.ckpt",))
    assert status == 0, capsys.readouterr().err
    check_png(out, (1000, 400))
    out.unlink()
    status, out = plot(files, tmp_path, "curves", "--history", str(files / "history.json"))
    assert status == 0
    check_png(out, (1000, 400))


def test_curves_without_history_is_a_clear_error(files, tmp_path, capsys):
    status, out = plot(files, tmp_path, "curves")
    assert status == 2
    assert "holds no training history; give one with --history" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("kind", "extra", "models", "message"),
    [
        ("filters", (), ("cnn.npz", "dense.npz"), "'filters' takes one model file, got 2"),
        ("filters", ("--layer", "dense"), ("cnn.npz",), "no Conv2D layer named 'dense'"),
        ("filters", (), ("dense.npz",), "the model has no Conv2D layer"),
        ("probabilities", ("--index", "200"), ("cnn.npz",), "--index must be in 0..199"),
        ("confusion", (), ("missing.npz",), "no such file"),
        ("saliency", ("--class", "10"), ("cnn.npz",), "class must be an integer in 0..9, got 10"),
        ("adversarial", ("--target", "12"), ("cnn.npz",), "target must be an integer in 0..9"),
        ("adversarial", ("--epsilon", "0"), ("cnn.npz",), "epsilon must be in (0, 1], got 0.0"),
        ("adversarial", ("--steps", "0"), ("cnn.npz",), "steps must be in 1..100, got 0"),
    ],
)
def test_errors_are_one_line_with_status_2(files, tmp_path, capsys, kind, extra, models, message):
    status, out = plot(files, tmp_path, kind, *extra, models=models)
    assert status == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_missing_output_folder(files, tmp_path, capsys):
    argv = ["plot", "filters", str(files / "cnn.npz"), "--out", str(tmp_path / "no" / "f.png")]
    assert cli.main(argv) == 2
    assert "folder" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["architecture", "backward", "receptive-field"])
def test_model_figures_draw_the_given_model_else_the_seed_cnn(files, tmp_path, monkeypatch, kind):
    import tinycnn.plots

    drawn = []
    name = {
        "architecture": "plot_architecture",
        "backward": "plot_backward_flow",
        "receptive-field": "plot_receptive_field",
    }[kind]
    real = getattr(tinycnn.plots, name)

    def spy(model, out):
        drawn.append(model)
        return real(model, out=out)

    monkeypatch.setattr(tinycnn.plots, name, spy)
    out = tmp_path / f"{kind}.png"
    assert cli.main(["plot", kind, str(files / "cnn.npz"), "--out", str(out)]) == 0
    assert drawn[-1].count_params() == load_model(files / "cnn.npz").count_params()
    assert cli.main(["plot", kind, "--out", str(out)]) == 0
    assert drawn[-1] is None  # the figure's default: the seed CNN
    check_png(out, Image.open(out).size)


def test_model_kinds_need_their_model_files(files, tmp_path, capsys):
    out = str(tmp_path / "x.png")
    assert cli.main(["plot", "confusion", "--out", out]) == 2
    assert "'confusion' takes one model file, got 0" in capsys.readouterr().err
    assert cli.main(["plot", "shift", "--out", out]) == 2
    assert "'shift' takes one or more model files, got none" in capsys.readouterr().err
    models = [str(files / "cnn.npz")] * 2
    assert cli.main(["plot", "architecture", *models, "--out", out]) == 2
    assert "takes at most one model file, got 2" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kind", "written"), [("maxpool", "maxpool.png"), ("sliding-gif", "sliding.gif")]
)
def test_without_out_the_picture_is_named_after_its_kind(kind, written, tmp_path, monkeypatch):
    """A caption quotes ``tinycnn plot maxpool``; as written, it must run."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["plot", kind]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [written]
    assert Image.open(tmp_path / written).size[0] > 100

"""doctor: a healthy model passes; each classic mistake is caught with a hint."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers_train import small_mnist, tiny_cnn

from tinycnn.teach.doctor import doctor


@pytest.fixture(scope="module")
def data():
    return small_mnist(n_train=300, n_test=10)[0]


def run(model, x, y):
    """The checks, with a short overfitting budget (these models are broken on purpose)."""
    return doctor(model, x, y, samples=128, overfit_steps=20, verbose=False)


def test_healthy_model_passes_and_is_left_unchanged(data, capsys):
    model = tiny_cnn()
    before = model.get_weights()
    report = doctor(model, *data, samples=128, overfit_steps=200)
    printed = capsys.readouterr().out
    assert report.ok, str(report)
    assert [c.name for c in report.checks] == [
        "input scale",
        "initial loss",
        "overfit 20 examples",
        "update/weight ratio",
        "dead ReLUs",
        "activation scale",
    ]
    initial = report["initial loss"].values
    assert initial["expected"] == pytest.approx(math.log(10))
    assert abs(initial["loss"] - math.log(10)) < 0.3
    assert report["overfit 20 examples"].values["accuracy"] == 1.0
    assert set(report["update/weight ratio"].values["ratios"]) == {
        "conv2d/w",
        "dense/w",
        "dense_1/w",
    }
    assert len(report["dead ReLUs"].values["zero_fraction"]["conv2d"]) == 6  # one per channel
    assert printed.startswith("tinycnn doctor: 6 checks") and "[ok  ] initial loss" in printed
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_unscaled_pixels_are_caught(data):
    x, y = data
    report = run(tiny_cnn(), x * 255, y)
    assert report["input scale"].status == "fail" and "255" in report["input scale"].hint
    assert report["initial loss"].status in ("warn", "fail")
    assert not report.ok and "hint: the inputs look like raw 0-255 pixels" in str(report)


def test_dead_relus_and_missing_gradients_are_caught(data):
    model = tiny_cnn()
    conv = model.layers[0]
    conv.params["b"][...] = -100.0  # every conv output negative: all channels dead
    report = run(model, *data)
    dead = report["dead ReLUs"]
    assert dead.status == "fail" and "conv2d: 100%" in dead.summary.replace("worst layer ", "")
    assert np.all(np.array(dead.values["zero_fraction"]["conv2d"]) == 1.0)
    ratio = report["update/weight ratio"]
    assert ratio.status == "fail" and "conv2d/w" in ratio.values["zero_grad"]
    assert report["overfit 20 examples"].status in ("warn", "fail")


def test_vanishing_activations_are_caught(data):
    model = tiny_cnn()
    for layer in model.layers:
        for key in layer.params:
            layer.params[key] *= 1e-3
    report = run(model, *data)
    scale = report["activation scale"]
    assert scale.status == "warn" and "vanishing" in scale.hint
    assert min(scale.values["rms"].values()) < 1e-3


def test_huge_weights_give_a_bad_initial_loss(data):
    model = tiny_cnn()
    model.layers[-1].params["w"] *= 300.0
    report = run(model, *data)
    assert report["initial loss"].status == "fail"
    assert report["initial loss"].values["ratio"] > 2


def test_nan_inputs_and_bad_arguments(data):
    x, y = data
    x = x.copy()
    x[0, 0, 0, 0] = np.nan
    with np.errstate(invalid="ignore"):
        report = doctor(tiny_cnn(), x[:1], y[:1], samples=1, overfit_steps=2, verbose=False)
    assert report["input scale"].status == "fail"
    with pytest.raises(ValueError, match="x has 300 examples but y has 299"):
        doctor(tiny_cnn(), *data[:1], data[1][:-1], verbose=False)


def stated_band(summary: str) -> tuple[float, float]:
    """The band the update/weight summary says is ok, read back from its text."""
    import re

    match = re.search(r"ok between (\S+) and (\S+);", summary)
    assert match, summary
    return float(match.group(1)), float(match.group(2))


@pytest.mark.parametrize("learning_rate", [1e-3, 2.0, 1e-7])
def test_update_ratio_verdict_matches_the_band_it_states(data, learning_rate):
    """ok exactly when every ratio lies in the band the summary prints (doctor said "about 1e-3
    is healthy" beside [ok] for ratios of 4e-3 to 1.3e-2)."""
    from tinycnn.optim import SGD
    from tinycnn.teach.doctor import RATIO_BAND, check_update_ratio

    model = tiny_cnn()
    model.compile(optimizer=SGD(learning_rate))
    x, y = data
    check = check_update_ratio(model, x[:128], y[:128])
    low, high = stated_band(check.summary)
    assert (low, high) == RATIO_BAND
    ratios = list(check.values["ratios"].values())
    inside = all(low <= r <= high for r in ratios)
    assert check.status == ("ok" if inside else "warn"), (check.status, ratios)
    assert f"{min(ratios):.1e}" in check.summary and f"{max(ratios):.1e}" in check.summary
    if learning_rate == 1e-3:
        assert inside
    else:
        assert not inside

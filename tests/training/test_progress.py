"""Keras-style progress output: plain lines off a terminal, a live bar on one, silence at 0."""

from __future__ import annotations

import io
import re

import pytest
from helpers_train import small_mnist, tiny_cnn

from tinycnn.training.progress import Progress, format_eta, format_metric, format_seconds

CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # anything but "\n"
EPOCH_LINE = re.compile(
    r"^(\d+)/\1 - \d+(\.\d)?s - loss: \d\.\d{4} - accuracy: \d\.\d{4} - "
    r"val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}$"
)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def data():
    return small_mnist(n_train=300, n_test=10)[0]


def fit_output(data, stream, verbose):
    model = tiny_cnn()
    model.compile()
    model.fit(*data, epochs=2, validation_split=0.2, seed=0, verbose=verbose, stream=stream)
    return stream.getvalue()


def test_plain_lines_when_not_a_terminal(data):
    text = fit_output(data, io.StringIO(), verbose=1)
    assert not CONTROL.search(text), repr(text)
    runs, *lines = text.splitlines()
    assert re.fullmatch(
        r"Runs: eager on the num(py|ba) backend: every layer runs its own forward and backward; "
        r"threads: \d+ BLAS, \d+ Numba \(.+\)",
        runs,
    )
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert EPOCH_LINE.match(lines[1]) and EPOCH_LINE.match(lines[3]), lines
    assert lines[1].startswith("4/4 - ")  # 240 training images in batches of 64


def test_live_bar_on_a_terminal(data):
    text = fit_output(data, FakeTerminal(), verbose=1)
    assert "\r" in text
    final = text.split("\n")[2].split("\r")[-1].rstrip()  # after "Runs: ..." and "Epoch 1/2"
    assert re.match(r"4/4 \[=+\] - \d+(\.\d)?s - loss: .* - val_accuracy: \d\.\d{4}$", final)


def test_verbose_2_is_plain_even_on_a_terminal(data):
    text = fit_output(data, FakeTerminal(), verbose=2)
    assert not CONTROL.search(text)
    assert len(text.splitlines()) == 5 and text.startswith("Runs: ")


def test_verbose_0_is_silent(data, capsys):
    assert fit_output(data, io.StringIO(), verbose=0) == ""
    assert capsys.readouterr().out == ""


def test_evaluate_prints_one_line(data):
    model = tiny_cnn()
    stream = io.StringIO()
    loss, acc = model.evaluate(*data, batch_size=100, verbose=1, stream=stream)
    assert re.fullmatch(
        rf"3/3 - \d+(\.\d)?s - loss: {loss:.4f} - accuracy: {acc:.4f}\n", stream.getvalue()
    )


def test_bar_drawing_pads_over_longer_previous_line():
    stream = FakeTerminal()
    progress = Progress(1, stream)
    progress.begin(10)
    progress.batch_end(10, {"loss": 12345.0})
    progress.end({"loss": 0.5})
    last = stream.getvalue().split("\r")[-1]
    assert last.endswith("\n") and "[==============================]" in last


def test_formatting_helpers():
    assert format_metric(0.12345) == "0.1235"
    assert format_metric(1.5e-5) == "1.5000e-05"
    assert format_metric(0.0) == "0.0000"
    assert format_seconds(12.4) == "12s" and format_seconds(0.46) == "0.5s"
    assert [format_eta(s) for s in (45, 187, 3723)] == ["45s", "3:07", "1:02:03"]
    with pytest.raises(ValueError, match="verbose"):
        Progress(3)

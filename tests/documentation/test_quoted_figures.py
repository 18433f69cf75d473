"""Figures quoted in prose match what was measured or what the data says.

A figure that a page cannot compute itself (ten epochs on full MNIST are too slow for CI) must
agree with the measured records in ``docs/benchmarks.md``; figures about the data set are
recomputed from full MNIST. (Figures computed in an executed page, such as tutorial 5's shares
of parameters and arithmetic, are asserted in the page itself.)
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import REPO_ROOT, in_ci

README = (REPO_ROOT / "README.md").read_text()
BENCHMARKS = (REPO_ROOT / "docs" / "benchmarks.md").read_text()
LATEST = BENCHMARKS.split("## Latest figures", 1)[1]
TUTORIALS = REPO_ROOT / "tutorials"


def flat(text: str) -> str:
    """Prose with line breaks, comment markers and repeated spaces folded."""
    return " ".join(text.replace("\n# ", "\n").split())


def accuracy_row(model: str) -> tuple[list[float], float]:
    """(accuracies of seeds 0-4, median) of a row of the latest accuracy table."""
    row = next(line for line in LATEST.splitlines() if line.startswith(f"| {model} |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    seeds = [float(v) for v in cells[1].split(",")]
    return seeds, float(np.median(seeds))


def test_benchmark_medians_are_the_medians_of_their_seeds():
    for model, median in (("seed CNN", 99.25), ("seed CNN, `--augment`", 99.31)):
        assert accuracy_row(model)[1] == pytest.approx(median)


def test_readme_full_data_figures_are_the_latest_measured_ones():
    paragraph = flat(README.split("With the full data set", 1)[1].split("\n\n", 1)[0])
    seeds, median = accuracy_row("seed CNN")
    assert f"median {median:.2f}% over five seeds" in paragraph
    assert f"{min(seeds):.2f}-{max(seeds):.2f}%" in paragraph
    assert f"`--augment` {accuracy_row('seed CNN, `--augment`')[1]:.2f}%" in paragraph
    assert f"about {round(median, 1)}% test accuracy" in paragraph
    low, high = map(float, re.search(r"about (\d+)-(\d+) s per epoch", paragraph).groups())
    epoch = float(re.search(r"\*\*(\d+\.\d+) s\*\* \|", LATEST).group(1))  # tinycnn, real epoch
    assert low <= epoch <= high


def test_getting_started_accuracy_is_the_latest_median():
    text = flat((REPO_ROOT / "docs" / "getting_started.md").read_text())
    median = accuracy_row("seed CNN")[1]
    assert f"reach about {round(median, 1)}% test accuracy" in text


def test_tutorial_6_ten_epoch_figures_match_the_benchmarks():
    text = flat((TUTORIALS / "06_dense_vs_cnn.py").read_text())
    dense = float(np.median(accuracy_row("dense baseline (unchanged code)")[0]))
    cnn = accuracy_row("seed CNN")[1]
    quoted = re.search(
        r"dense network reaches about (\d+(?:\.\d)?)% and the CNN about (\d+\.\d)%", text
    )
    assert quoted, "tutorial 6's ten-epoch sentence changed"
    assert abs(float(quoted.group(1)) - dense) < 0.5 and abs(float(quoted.group(2)) - cnn) < 0.1


def full_mnist():
    from tinycnn.data.mnist import MnistNotFoundError, load_mnist

    try:
        return load_mnist(download=False)
    except MnistNotFoundError:
        if in_ci():
            pytest.fail("full MNIST is needed (TINYCNN_DATA_DIR)")
        pytest.skip("full MNIST not found (set TINYCNN_DATA_DIR)")


def test_tutorial_1_figures_about_full_mnist():
    text = flat((TUTORIALS / "01_mnist_idx.py").read_text())
    (x_train, y_train), _ = full_mnist()
    counts = np.bincount(y_train, minlength=10)
    labels = " ".join(str(v) for v in y_train[:10])
    assert f"the first ten training labels are {labels}," in text
    fewest, most = int(np.argmin(counts)), int(np.argmax(counts))
    assert (fewest, most) == (5, 1)  # the text names fives and ones
    assert f"between {counts[fewest]:,} (fives) and {counts[most]:,} (ones)" in text
    mean = float(x_train.mean(dtype=np.float64))
    assert f"the mean pixel is {mean:.3f}, i.e. {mean / 255:.4f} after scaling" in text


def test_tutorial_5_full_training_figures_match_the_records():
    """99.17% is seed 0 of the protocol with the eager (bit-identical) steps, in the changelog."""
    text = flat((TUTORIALS / "05_train_seed_cnn.py").read_text())
    quoted = re.search(r"test accuracy of (\d+\.\d+)%, (\d+) mistakes among 10,000", text)
    assert quoted, "tutorial 5's full-training sentence changed"
    accuracy, mistakes = float(quoted.group(1)), int(quoted.group(2))
    assert mistakes == round(10_000 * (1 - accuracy / 100))
    changelog = (REPO_ROOT / "docs" / "changelog.md").read_text()
    row = next(line for line in changelog.splitlines() if line.startswith("| seed CNN | 0-4 |"))
    assert row.split("|")[3].split(",")[0].strip() == f"{accuracy:.2f}%"  # seed 0


def test_tutorial_5_quick_run_figure_is_the_readme_sample():
    """The quick run (1 epoch, subset, seed 0) is the README's sample command."""
    text = flat((TUTORIALS / "05_train_seed_cnn.py").read_text())
    quoted = re.search(r"1 epoch on the subset only, which reaches about (\d+)%", text)
    sample = re.search(r"Test accuracy: (\d+\.\d+)%", README)
    assert quoted and sample
    assert round(float(sample.group(1))) == int(quoted.group(1))

"""The docs say what the code does: each check here fails if a page drifts from the code again.

- the gradient-checking page states the stencil, the constants and the kink rule of
  ``tinycnn.testing.gradcheck``, and a layer whose backward *is* that stencil passes to rounding;
- every docs page has exactly one H1 (a second one becomes a top-level navigation entry);
- no page claims what the code contradicts (downloads, what ``save`` keeps);
- the benchmarks page holds how to reproduce and the latest figures, the history is in the
  changelog, and no number was lost in the move.
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
from conftest import REPO_ROOT

from tinycnn.layers import Layer
from tinycnn.testing import gradcheck as gradcheck_module
from tinycnn.testing.gradcheck import gradcheck

DOCS = REPO_ROOT / "docs"
GRADCHECK_PAGE = DOCS / "concepts" / "gradient_checking.md"
STENCIL = r"\frac{8\,[\phi(u+h) - \phi(u-h)] - [\phi(u+2h) - \phi(u-2h)]}{12h}"


def power_of_ten(text: str, pattern: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found"
    return 10.0 ** int(match.group(1))


def test_gradient_checking_page_states_the_codes_constants():
    text = GRADCHECK_PAGE.read_text()
    defaults = inspect.signature(gradcheck).parameters
    assert STENCIL in text
    assert power_of_ten(text, r"h = 10\^\{(-?\d+)\}") == defaults["eps"].default
    assert power_of_ten(text, r"`tolerance`, \$10\^\{(-?\d+)\}\$") == defaults["tolerance"].default
    floor = re.search(r"F = ([\d.]+) \\cdot \\max", text)
    assert floor and float(floor.group(1)) == gradcheck_module.FLOOR
    assert r"\max(|a| + T,\ F)" in text
    # the kink rule: the state at u + 2h against the three other evaluations
    assert "differs from the one at $u + h$, $u - h$ or $u - 2h$" in text
    source = inspect.getsource(gradcheck_module._numerical_gradient)
    assert "for step in (2, 1, -1, -2)" in source and "states[1:]" in source
    assert "8 * (values[1] - values[-1]) - (values[2] - values[-2])" in source
    assert "12 * eps" in source
    assert "two-point" in text  # named only as the rule not used


class Sine(Layer):
    """``out = sin(3x)``; ``backward`` returns a difference quotient of ``forward`` at ``eps``."""

    def __init__(self, rule: str, eps: float) -> None:
        super().__init__()
        self.rule, self.eps = rule, eps

    def output_shape(self, input_shape):
        return input_shape

    def forward(self, x, training=False):
        self._cache = x
        return np.sin(3 * x)

    def backward(self, dout):
        x, h = self._cache, self.eps

        def f(v):
            return np.sin(3 * v)

        if self.rule == "five-point":  # the page's formula
            slope = (8 * (f(x + h) - f(x - h)) - (f(x + 2 * h) - f(x - 2 * h))) / (12 * h)
        else:
            slope = (f(x + h) - f(x - h)) / (2 * h)
        return slope * dout


def test_gradcheck_uses_the_pages_stencil():
    x = np.random.default_rng(0).normal(size=(3, 4))
    five = gradcheck(Sine("five-point", 0.05), x, eps=0.05).max_rel_error
    two = gradcheck(Sine("two-point", 0.05), x, eps=0.05).max_rel_error
    assert five < 1e-12 and two > 1e-4


# -- one H1 per page -----------------------------------------------------------------------
def doc_pages() -> list:
    pages = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)
    assert len(pages) >= 10
    return pages


def h1_headings(text: str) -> list[str]:
    """Markdown H1 lines outside fenced code blocks."""
    headings, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and re.match(r"# \S", line):
            headings.append(line)
    return headings


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_every_docs_page_has_exactly_one_h1(page):
    assert len(h1_headings(page.read_text())) == 1, h1_headings(page.read_text())


def test_h1_counter_sees_a_second_h1_but_not_code():
    assert len(h1_headings("# A\n\ntext\n\n# B\n")) == 2
    assert len(h1_headings("# A\n\n```bash\n# a comment\n```\n")) == 1


# -- claims the code contradicts ------------------------------------------------------------
def test_getting_started_says_load_mnist_downloads():
    from tinycnn import load_mnist

    text = " ".join((DOCS / "getting_started.md").read_text().split())
    assert inspect.signature(load_mnist).parameters["download"].default is True
    assert not re.search(r"never downloads|no download|nothing is downloaded", text, re.I)
    assert "**downloads** them" in text and "`download=False`" in text


def test_tutorial_5_says_save_does_not_keep_the_optimizer_state():
    """Tutorial 5 also asserts it in an executed cell (restored Adam has taken 0 steps)."""
    text = " ".join((REPO_ROOT / "tutorials" / "05_train_seed_cnn.py").read_text().split())
    text = text.replace(" # ", " ")
    assert "weights and the optimizer state into" not in text
    assert "but not the optimizer's state" in text
    assert "restored.optimizer.iterations == 0" in text


# -- benchmarks: how to reproduce and the latest figures; the history in the changelog ------
def headings(text: str, level: int) -> list[str]:
    return [line[level + 1 :] for line in text.splitlines() if re.match("#" * level + " ", line)]


def test_benchmarks_page_is_reproduce_then_latest_figures():
    text = (DOCS / "benchmarks.md").read_text()
    assert headings(text, 2)[:2] == ["How to reproduce", "Latest figures"]
    assert not [h for h in headings(text, 2) if re.match(r"Runs? \d", h)]  # history: changelog
    assert "```bash" in text.split("## Latest figures")[0]  # the commands come first
    assert "{doc}`changelog`" in text
    assert "changelog" in (DOCS / "index.md").read_text().split()


def test_changelog_holds_the_run_history():
    """Runs are labelled by the UTC date and time their figures were recorded, newest first."""
    text = (DOCS / "changelog.md").read_text()
    stamps = re.findall(r"^## .*?(\d{4}-\d\d-\d\d)\D+?(\d\d:\d\d)", text, re.M)
    assert stamps[0] == ("2026-11-22", "06:01")  # the three runs of the first section
    times = [time for _, time in stamps]
    assert {"00:23", "00:51", "01:49", "04:10"} <= set(times)
    assert times.count("00:23") == 2  # one thread and two threads, one record
    latest = (DOCS / "benchmarks.md").read_text()
    assert not re.search(r"^#+ Run \d", latest, re.M)  # no run-by-run sections left there


def test_the_draw_a_digit_page_is_linked_from_tutorial_7_and_the_docs():
    tutorial = (REPO_ROOT / "tutorials" / "07_inside_the_cnn.py").read_text()
    started = (DOCS / "getting_started.md").read_text()
    for text in (tutorial, started):
        assert "$ tinycnn serve" in text and "http://127.0.0.1:8000/" in text
    assert "tutorials/07_inside_the_cnn" in started
    assert 'server.url + "api/explain"' in tutorial  # the tutorial asks the page's server


def test_benchmark_commands_name_existing_scripts_systems_and_options():
    from tinycnn.cli.bench_systems import SYSTEMS

    text = (DOCS / "benchmarks.md").read_text().split("## Latest figures")[0]
    commands = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert commands
    for block in commands:
        command = " ".join(block.replace("\\\n", " ").split())
        for script in re.findall(r"python (tests/benchmarks/\S+\.py)", command):
            assert (REPO_ROOT / script).is_file(), script
        for option in ("--systems", "--full-epoch"):
            for names in re.findall(rf"{option} ([\w,]+)", command):
                assert set(names.split(",")) <= set(SYSTEMS), (option, names)

"""Every tutorial runs top to bottom as a plain script, with the fast settings.

Each ``tutorials/NN_name.py`` is run in a subprocess with ``TINYCNN_TUTORIAL_FAST=1`` (small
subsets, one epoch), the Agg backend and ``TINYCNN_TUTORIAL_FIGURES`` pointing at a temporary
folder; the test fails if the script exits with an error or does not save the figures it names. A
tutorial that prints ``TUTORIAL SKIPPED: <reason>`` (tutorial 9 without TensorFlow) is skipped,
except in CI, where TensorFlow is installed and a skip would hide a failure.
Cheap static checks make sure the files stay jupytext percent notebooks that use the public API.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, SHARED_MNIST, in_ci

TUTORIALS_DIR = REPO_ROOT / "tutorials"
TUTORIALS = sorted(TUTORIALS_DIR.glob("[0-9][0-9]_*.py"))
TIMEOUT_SECONDS = 300  # a tutorial in fast mode takes seconds; this only stops a hang
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tutorial_env(figures: Path) -> dict[str, str]:
    """The environment a tutorial runs in: fast settings, no display, MNIST if available."""
    env = dict(os.environ)
    env.update(TINYCNN_TUTORIAL_FAST="1", TINYCNN_TUTORIAL_FIGURES=str(figures), MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    # One thread per pool: the test checks that the tutorials run, not how fast, and on a busy
    # machine a two-thread parallel region waits for a core (docs/changelog.md, 2026-11-22 00:23)
    for pool in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env.setdefault(pool, "1")
    if not env.get("TINYCNN_DATA_DIR") and SHARED_MNIST.is_dir():
        env["TINYCNN_DATA_DIR"] = str(SHARED_MNIST)
    return env


def saved_figure_names(source: str) -> list[str]:
    """The PNG names a tutorial saves through its ``out("name.png")`` helper."""
    return sorted(set(re.findall(r"\bout\(\s*\"([^\"]+\.png)\"\s*\)", source)))


def test_tutorials_are_numbered_from_zero_without_gaps():
    numbers = [int(path.name[:2]) for path in TUTORIALS]
    assert numbers == list(range(len(TUTORIALS))), [p.name for p in TUTORIALS]
    assert TUTORIALS[0].name == "00_intuition.py"  # intuition first, before any layer code


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_is_a_jupytext_percent_notebook(path: Path):
    source = path.read_text(encoding="utf-8")
    assert source.startswith("# ---\n# jupyter:\n"), "missing the jupytext header"
    assert "format_name: percent" in source
    assert "name: python3" in source, "the header must name the python3 kernel (docs build)"
    first_markdown = source.split("# %% [markdown]\n", 1)[1]
    title = first_markdown.splitlines()[0]
    number = int(path.name[:2])
    assert title.startswith(f"# # {number}. "), f"the first cell must be the title, got {title!r}"
    assert source.count("# %%\n") >= 2, "expected code cells"


@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_imports_only_the_public_api(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    private = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tinycnn"):
            parts = node.module.split(".") + [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            parts = [
                p for a in node.names if a.name.startswith("tinycnn") for p in a.name.split(".")
            ]
        else:
            continue
        private += [part for part in parts if part.startswith("_")]
    assert not private, f"{path.name} imports private names: {private}"


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_as_a_script(path: Path, tmp_path: Path):
    figures = tmp_path / "figures"
    figures.mkdir()
    result = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env=tutorial_env(figures),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    output = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0, f"{path.name} failed (exit {result.returncode}):\n{output}"
    skipped = re.search(r"^TUTORIAL SKIPPED: (.*)$", result.stdout, re.MULTILINE)
    if skipped:  # e.g. tutorial 9 without TensorFlow: fine on a laptop, not in CI
        if in_ci():
            pytest.fail(f"{path.name} skipped in CI: {skipped.group(1)}")
        pytest.skip(f"{path.name}: {skipped.group(1)}")
    for name in saved_figure_names(path.read_text(encoding="utf-8")):
        png = figures / name
        assert png.is_file(), f"{path.name} did not save {name}; saved {os.listdir(figures)}"
        assert png.read_bytes()[:8] == PNG_MAGIC, f"{name} is not a PNG"

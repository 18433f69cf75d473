"""The concept pages' figures: drawn by code at build time, referenced by every page, shipped.

- ``docs/_ext/concept_figures.py`` draws every figure it lists (PNG files and one animated GIF).
- Every page under ``docs/concepts/`` shows at least one of them, and only ones it lists.
- A small Sphinx build of the concept pages (MyST, the figure extension) writes HTML in which
  every page has an ``<img>`` and the GIF is copied into the site.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from PIL import Image

DOCS = REPO_ROOT / "docs"
CONCEPTS = sorted((DOCS / "concepts").glob("*.md"))
sys.path.insert(0, str(DOCS / "_ext"))
concept_figures = importlib.import_module("concept_figures")

FIGURE = re.compile(r"^```\{figure\} figures/(\S+)$", re.MULTILINE)


def test_concept_pages_exist():
    assert len(CONCEPTS) >= 8


@pytest.mark.parametrize("page", CONCEPTS, ids=[p.stem for p in CONCEPTS])
def test_every_concept_page_shows_a_generated_figure(page: Path):
    names = FIGURE.findall(page.read_text(encoding="utf-8"))
    assert names, f"{page.name} has no figure"
    unknown = sorted(set(names) - set(concept_figures.FIGURES))
    assert not unknown, f"{page.name} shows figures nothing generates: {unknown}"


def test_generated_figures_are_not_committed():
    tracked = subprocess.run(
        ["git", "ls-files", "docs/concepts/figures"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert tracked == ""
    assert "concepts/figures/" in (DOCS / ".gitignore").read_text(encoding="utf-8")


def test_the_generator_draws_every_figure(tmp_path: Path):
    paths = concept_figures.generate(tmp_path / "figures")
    assert [p.name for p in paths] == list(concept_figures.FIGURES)
    for path in paths:
        image = Image.open(path)
        assert image.format == path.suffix[1:].upper().replace("JPG", "JPEG")
        assert image.size[0] >= 700 and image.size[1] >= 300
    assert Image.open(tmp_path / "figures" / "sliding.gif").n_frames > 1


CONF = """
import sys
sys.path.insert(0, {ext!r})
extensions = ["myst_parser", "concept_figures", "sphinx.ext.mathjax"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
root_doc = "concepts/index"
exclude_patterns = ["_build"]
suppress_warnings = ["ref", "myst.xref_missing", "toc"]
"""


@pytest.mark.slow
def test_built_concept_pages_each_contain_an_image(tmp_path: Path):
    source = tmp_path / "src"
    shutil.copytree(
        DOCS / "concepts", source / "concepts", ignore=shutil.ignore_patterns("figures")
    )
    (source / "conf.py").write_text(CONF.format(ext=str(DOCS / "_ext")), encoding="utf-8")
    html = tmp_path / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(source), str(html)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for page in CONCEPTS:
        built = (html / "concepts" / f"{page.stem}.html").read_text(encoding="utf-8")
        assert "<img" in built, f"concepts/{page.stem}.html has no image"
    gifs = list((html / "_images").glob("*.gif"))
    assert gifs and Image.open(gifs[0]).n_frames > 1

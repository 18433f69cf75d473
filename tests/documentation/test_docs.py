"""Cheap checks of the documentation machinery (the full strict build is a CI stage).

- The offline check finds every kind of resource a page could load from another host, and
  ignores ordinary links.
- The API reference lists every public name of ``tinycnn.__all__``.
- MathJax is vendored (script and fonts, a few MB) and configured, so math renders offline.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

import tinycnn

DOCS = REPO_ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))

api_pages = importlib.import_module("api_pages")
offline_check = importlib.import_module("offline_check")
star_args = importlib.import_module("star_args")

EXTERNAL_PAGE = """<html><head>
<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>
<link rel="stylesheet" href="//fonts.googleapis.com/css?family=Roboto">
<link rel="preload" href='http://example.org/font.woff2' as="font">
<style>@import "https://example.com/more.css"; body { background: url(https://x.org/a.png) }</style>
</head><body><img src="https://example.net/logo.png"><iframe src="//video.example/e"></iframe>
</body></html>"""

LOCAL_PAGE = """<html><head>
<script src="_static/mathjax/tex-chtml-full.js"></script>
<link rel="stylesheet" href="_static/styles/furo.css?v=1">
<style>body { background: url(_static/a.png) } svg { fill: url(#grad) }</style>
<svg xmlns="http://www.w3.org/2000/svg"></svg>
</head><body><a href="https://github.com/">a link, fetched only when clicked</a>
<img src="../_images/digits.png"></body></html>"""


def test_offline_check_finds_every_external_resource():
    urls = offline_check.external_resources(EXTERNAL_PAGE)
    assert sorted(urls) == sorted(
        [
            "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js",
            "//fonts.googleapis.com/css?family=Roboto",
            "http://example.org/font.woff2",
            "https://example.com/more.css",
            "https://x.org/a.png",
            "https://example.net/logo.png",
            "//video.example/e",
        ]
    )


def test_offline_check_accepts_local_resources_and_links():
    assert offline_check.external_resources(LOCAL_PAGE) == []


def test_offline_check_scans_html_and_css_files(tmp_path: Path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "index.html").write_text(LOCAL_PAGE, encoding="utf-8")
    (tmp_path / "bad.html").write_text(EXTERNAL_PAGE, encoding="utf-8")
    (tmp_path / "_static" / "theme.css").write_text(
        "@font-face { src: url('https://fonts.gstatic.com/x.woff2') }", encoding="utf-8"
    )
    (tmp_path / "_static" / "script.js").write_text("// https://example.com", encoding="utf-8")
    problems = offline_check.scan(tmp_path)
    assert sorted(path.name for path in problems) == ["bad.html", "theme.css"]
    assert problems[tmp_path / "_static" / "theme.css"] == ["https://fonts.gstatic.com/x.woff2"]


def test_api_reference_lists_every_public_name():
    documented = {
        id(api_pages.lookup(name))
        for names in api_pages.public_entries().values()
        for name in names
    }
    missing = [
        name
        for name in tinycnn.__all__
        if not name.startswith("__")
        and not inspect.ismodule(getattr(tinycnn, name))
        and id(getattr(tinycnn, name)) not in documented
    ]
    assert not missing, f"public names missing from the API reference: {missing}"


def test_api_reference_lists_the_public_api_only_in_user_groups():
    entries = api_pages.public_entries()
    names = [name for group in entries.values() for name in group]
    assert "Other" not in entries, entries.get("Other")
    page = api_pages.render(entries)
    titles = [line for line in page.splitlines() if line in entries]
    assert titles == [group for group in api_pages.ORDER if group in entries]
    assert titles[:4] == ["Model", "Layers", "Losses", "Optimizers"]
    for group in ("Model", "Layers", "Losses", "Optimizers", "Training and callbacks", "Data"):
        assert group in entries
    for group in ("Saving and loading", "Plots", "Teaching tools"):
        assert group in entries
    assert "tinycnn.Conv2D" in entries["Layers"] and "tinycnn.Adam" in entries["Optimizers"]
    assert (
        "tinycnn.training.callbacks.ModelCheckpoint" in names or "tinycnn.ModelCheckpoint" in names
    )
    assert "tinycnn.gradcheck" in entries["Testing your own layers"]  # testing/gradcheck.py
    assert len(names) == len(set(names)) <= 120  # was 212 with the internals
    internal = ("tinycnn.fast", "tinycnn.cli", "tinycnn.kernels.")
    assert not [name for name in names if name.startswith(internal)]
    assert not [name for name in names if name.rpartition(".")[2].endswith("_numba")]


def test_api_reference_lists_public_names_of_modules_without_all():
    names = api_pages.public_names(importlib.import_module("tinycnn.training.metrics"))
    assert "accuracy" in names and "confusion_matrix" in names
    assert not [name for name in names if name.startswith("_")]


def test_api_page_gives_names_that_shadow_a_module_their_own_page():
    # tinycnn.teach.trace is a function and a module; autosummary alone would document the module
    assert api_pages.shadows_module("tinycnn.teach.trace")
    assert not api_pages.shadows_module("tinycnn.seed_cnn")
    assert ".. autofunction:: trace" in api_pages.stub("tinycnn.teach.trace")
    text = "\n".join(
        api_pages.render_topic("Diagnostics", ["tinycnn.teach.trace", "tinycnn.teach.doctor"])
    )
    assert "generated/tinycnn.teach.trace" in text and ":py:obj:`tinycnn.teach.trace`" in text


def test_mathjax_is_vendored_and_configured():
    mathjax = DOCS / "_static" / "mathjax"
    script = mathjax / "tex-chtml-full.js"
    assert script.stat().st_size > 500_000  # the real bundle, not a placeholder
    assert (
        mathjax / "output" / "chtml" / "fonts" / "woff-v2" / "MathJax_Main-Regular.woff"
    ).exists()
    total = sum(path.stat().st_size for path in mathjax.rglob("*") if path.is_file())
    assert total < 4_000_000, f"vendored MathJax grew to {total / 1e6:.1f} MB"
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert re.search(r'^mathjax_path = "mathjax/tex-chtml-full\.js"$', conf, re.MULTILINE)


@pytest.mark.parametrize("page", ["index.md", "getting_started.md", "faq.md", "cli.md"])
def test_hand_written_pages_exist(page: str):
    assert (DOCS / page).read_text(encoding="utf-8").startswith("# ")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("x : ndarray, shape (N, *input_shape)", "x : ndarray, shape (N, \\*input_shape)"),
        (
            "If x does not have shape (N, *input_shape).",
            "If x does not have shape (N, \\*input_shape).",
        ),
        ("shape (*batch, K)", "shape (\\*batch, K)"),
        ("a convolution is *equivariant*: shifts", "a convolution is *equivariant*: shifts"),
        ("sizes, *not* shapes (N, H)", "sizes, *not* shapes (N, H)"),
    ],
)
def test_star_args_are_escaped_and_emphasis_is_kept(line: str, expected: str):
    assert star_args.escape_star_args(line) == expected


def test_cli_reference_covers_every_command_and_nested_command():
    from tinycnn.cli import COMMANDS

    cli_text = importlib.import_module("cli_text")
    texts = dict(cli_text.help_texts())
    expected = {"tinycnn"} | {f"tinycnn {name.replace('_', '-')}" for name in COMMANDS}
    assert expected <= set(texts)
    assert "tinycnn data info" in texts  # a command's own subcommands are included
    for title, text in texts.items():
        assert text.startswith(f"usage: {title}"), title


def test_tutorial_9_page_says_clearly_when_it_was_not_run(monkeypatch):
    tutorial_sources = importlib.import_module("tutorial_sources")
    source = (REPO_ROOT / "tutorials" / "09_tensorflow_parity.py").read_text()
    text = tutorial_sources.with_notice(source, "tensorflow")
    cells = text.split("# %%")
    assert "# # 9. Checking against TensorFlow" in cells[1]  # the title stays first
    assert "```{warning}" in cells[2] and "**not run**" in cells[2]
    assert text.replace(cells[2].join(["# %%", ""]), "", 1) == source
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "tensorflow" else real(name)
    )
    assert tutorial_sources.missing_package("09_tensorflow_parity.py") == "tensorflow"
    assert tutorial_sources.missing_package("05_train_seed_cnn.py") is None


def test_generated_pages_of_names_no_longer_public_are_removed(tmp_path):
    for name in ("tinycnn.Conv2D", "tinycnn.set_bit_identical", "tinycnn.fast.plan.plan"):
        (tmp_path / f"{name}.rst").write_text(name)
    (tmp_path / "notes.txt").write_text("kept")
    stale = api_pages.remove_stale_pages(tmp_path, {"tinycnn.Conv2D"})
    assert sorted(p.name for p in stale) == [
        "tinycnn.fast.plan.plan.rst",
        "tinycnn.set_bit_identical.rst",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "tinycnn.Conv2D.rst"]

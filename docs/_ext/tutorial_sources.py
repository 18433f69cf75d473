"""Copy the tutorials into the docs source tree so myst-nb can render them.

The tutorials live in ``tutorials/NN_name.py`` (jupytext percent format) at the repository root,
where users run them. Sphinx only reads files under ``docs/``, so on every build the current
versions are copied to ``docs/tutorials/`` (those copies are git-ignored) and executed there by
myst-nb. A file is rewritten only when its text changed, so an unchanged tutorial is not read
again by an incremental build.

A tutorial that needs an optional package (tutorial 9: TensorFlow) is not executed when the
package is missing (``conf.py`` excludes it), and its copy gets a warning box after its first
cell saying so, so that the page never looks like a run that printed nothing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Sphinx is needed only by the hook, so tests can import this module
    from sphinx.application import Sphinx

TUTORIALS = Path(__file__).resolve().parents[2] / "tutorials"
# Tutorial file pattern -> the package it needs to run.
NEEDS = {"09_": "tensorflow"}


def missing_package(name: str) -> str | None:
    """The optional package a tutorial needs and this environment lacks, or None."""
    for prefix, package in NEEDS.items():
        if name.startswith(prefix) and importlib.util.find_spec(package) is None:
            return package
    return None


def with_notice(text: str, package: str) -> str:
    """The tutorial's text with a warning cell, after its first cell, that it was not run."""
    notice = (
        "# %% [markdown]\n"
        "# ```{warning}\n"
        f"# This page was built without {package}, so the cells below were **not run** and show\n"
        '# no output. Install the reference extra (`pip install -e ".[reference]"`) and\n'
        "# rebuild, or run the tutorial yourself, to see the numbers.\n"
        "# ```\n\n"
    )
    first = text.index("# %%")
    second = text.index("# %%", first + 4)
    return text[:second] + notice + text[second:]


def tutorial_files() -> list[Path]:
    """The numbered tutorials, in order."""
    return sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))


def copy_tutorials(app: Sphinx, config: object) -> None:
    """Mirror ``tutorials/NN_*.py`` into ``<srcdir>/tutorials/``, removing stale copies."""
    target = Path(app.srcdir) / "tutorials"
    target.mkdir(exist_ok=True)
    sources = tutorial_files()
    names = {source.name for source in sources}
    for stale in target.glob("[0-9][0-9]_*.py"):
        if stale.name not in names:
            stale.unlink()
    for source in sources:
        text = source.read_text(encoding="utf-8")
        package = missing_package(source.name)
        if package is not None:
            text = with_notice(text, package)
        copy = target / source.name
        if not copy.exists() or copy.read_text(encoding="utf-8") != text:
            copy.write_text(text, encoding="utf-8")


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("config-inited", copy_tutorials)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

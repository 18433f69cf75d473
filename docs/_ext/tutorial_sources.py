"""Copy the tutorials into the docs source tree so myst-nb can render them.

The tutorials live in ``tutorials/NN_name.py`` (jupytext percent format) at the repository root,
where users run them. Sphinx only reads files under ``docs/``, so on every build the current
versions are copied to ``docs/tutorials/`` (those copies are git-ignored) and executed there by
myst-nb. A file is rewritten only when its text changed, so an unchanged tutorial is not read
again by an incremental build.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx

TUTORIALS = Path(__file__).resolve().parents[2] / "tutorials"


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
        copy = target / source.name
        if not copy.exists() or copy.read_text(encoding="utf-8") != text:
            copy.write_text(text, encoding="utf-8")


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("config-inited", copy_tutorials)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

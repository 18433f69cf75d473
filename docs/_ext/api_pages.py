"""Write the API reference page from the package itself, so it lists every public name.

At ``config-inited`` (before Sphinx and autosummary look for source files) this writes
``api/index.rst`` (git-ignored): one autosummary table per topic, with a generated page for each
entry.

Which names are public:

- every name in ``tinycnn.__all__``, documented as ``tinycnn.<name>``;
- every name in the ``__all__`` of a public submodule (no component starting with ``_``, and not
  the command implementations ``tinycnn.commands``), documented as ``<module>.<name>``, unless
  the same object is already listed at the top level.

Topics come from the module that defines each object (``tinycnn.layers.conv2d`` -> Layers).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

TOPICS = {
    "model": "Models",
    "zoo": "Models",
    "layers": "Layers",
    "losses": "Losses",
    "optim": "Optimizers",
    "train": "Training and evaluation",
    "callbacks": "Training and evaluation",
    "metrics": "Training and evaluation",
    "data": "Data",
    "io": "Saving and loading",
    "kernels": "Kernels",
    "gradcheck": "Gradient checking",
    "plots": "Plots",
    "trace": "Plots",
    "doctor": "Diagnostics",
    "interop": "TensorFlow interoperability",
    "backend": "Kernels",
    "config": "Configuration",
    "cli": "Command line",
}
ORDER = list(dict.fromkeys(TOPICS.values())) + ["Other"]
SKIPPED_PACKAGES = ("tinycnn.commands",)

HEADER = """\
API reference
=============

Every public name of tinycnn, generated from the docstrings (numpydoc style: each array
argument states its shape in the symbols ``N H W C F KH KW OH OW S P``). Most names are
importable from the top-level package, e.g. ``from tinycnn import Conv2D``; the others from the
module shown.

"""


def topic_of(obj: object, fallback_module: str) -> str:
    """The section an object belongs to, from the module that defines it."""
    module = obj.__name__ if isinstance(obj, types.ModuleType) else None
    module = module or getattr(obj, "__module__", None) or fallback_module
    parts = module.split(".")
    return TOPICS.get(parts[1], "Other") if len(parts) > 1 else "Other"


def public_modules() -> list[types.ModuleType]:
    """``tinycnn`` and its importable public submodules, in name order."""
    import tinycnn

    modules = [tinycnn]
    for info in pkgutil.walk_packages(tinycnn.__path__, prefix="tinycnn."):
        name = info.name
        if any(part.startswith("_") for part in name.split(".")) or name.startswith(
            SKIPPED_PACKAGES
        ):
            continue
        try:
            modules.append(importlib.import_module(name))
        except ImportError as error:  # an optional dependency (e.g. TensorFlow) is missing
            logger.info("api_pages: skipping %s (%s)", name, error)
    return modules


def public_entries() -> dict[str, list[str]]:
    """Map topic -> documented names (``tinycnn.Conv2D``, ``tinycnn.plots.plot_filters``)."""
    seen: set[int] = set()
    entries: dict[str, list[str]] = {}
    for module in public_modules():
        for name in getattr(module, "__all__", ()):
            if name.startswith("__"):
                continue
            obj = getattr(module, name)
            if id(obj) in seen or not (
                inspect.isclass(obj) or callable(obj) or inspect.ismodule(obj)
            ):
                continue
            seen.add(id(obj))
            entries.setdefault(topic_of(obj, module.__name__), []).append(
                f"{module.__name__}.{name}"
            )
    return entries


def render(entries: dict[str, list[str]]) -> str:
    """The reStructuredText of the API page."""
    lines = [HEADER]
    for topic in ORDER:
        if topic not in entries:
            continue
        lines += [
            topic,
            "-" * len(topic),
            "",
            ".. autosummary::",
            "   :toctree: generated",
            "   :nosignatures:",
            "",
        ]
        lines += [f"   {name}" for name in entries[topic]]
        lines.append("")
    return "\n".join(lines)


def write_api_page(app: Sphinx, config: object) -> None:
    page = Path(app.srcdir) / "api" / "index.rst"
    page.parent.mkdir(exist_ok=True)
    text = render(public_entries())
    if not page.exists() or page.read_text(encoding="utf-8") != text:
        page.write_text(text, encoding="utf-8")


def setup(app: Sphinx) -> dict[str, object]:
    # Before Sphinx and autosummary look for source files.
    app.connect("config-inited", write_api_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

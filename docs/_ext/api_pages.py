"""Write the API reference page from the package itself, so it lists every public name.

At ``config-inited`` (before Sphinx and autosummary look for source files) this writes
``api/index.rst`` (git-ignored): one autosummary table per topic, with a generated page for each
entry.

Which names are public:

- every name in ``tinycnn.__all__``, documented as ``tinycnn.<name>``;
- for every public submodule (no component starting with ``_``, and not the command
  implementations ``tinycnn.cli``): the names in its ``__all__``, or, when it has none,
  every function and class it defines whose name does not start with ``_``; documented as
  ``<module>.<name>``, unless the same object is already listed (at the top level, say).

Modules themselves are not entries (their names are covered one by one).

Topics come from the module that defines each object (``tinycnn.layers.conv2d`` -> Layers).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import pkgutil
import types
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Sphinx is needed only by the hook, so tests can import this module
    from sphinx.application import Sphinx

logger = logging.getLogger(__name__)

TOPICS = {
    "model": "Models",
    "zoo": "Models",
    "layers": "Layers",
    "initializers": "Layers",
    "losses": "Losses",
    "optim": "Optimizers",
    "train": "Training and evaluation",
    "callbacks": "Training and evaluation",
    "history": "Training and evaluation",
    "progress": "Training and evaluation",
    "augment": "Training and evaluation",
    "metrics": "Training and evaluation",
    "data": "Data",
    "preprocess": "Data",
    "io": "Saving and loading",
    "checkpoint": "Saving and loading",
    "kernels": "Kernels",
    "fused": "Kernels",
    "winograd": "Kernels",
    "direct_conv": "Kernels",
    "workspace": "Kernels",
    "config": "Kernels",
    "gradcheck": "Gradient checking",
    "doctor": "Diagnostics",
    "trace": "Diagnostics",
    "experiments": "Experiments",
    "plots": "Plots",
    "interop": "TensorFlow interoperability",
    "serve": "Serving",
    "cli": "Command line",
    "testing": "Testing your own layers",
}
ORDER = list(dict.fromkeys(TOPICS.values())) + ["Other"]
SKIPPED_PACKAGES = ("tinycnn.cli",)

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


def public_names(module: types.ModuleType) -> list[str]:
    """``module.__all__``, else the functions and classes it defines without a leading ``_``."""
    if hasattr(module, "__all__"):
        return [name for name in module.__all__ if not name.startswith("_")]
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    ]


def public_entries() -> dict[str, list[str]]:
    """Map topic -> documented names (``tinycnn.Conv2D``, ``tinycnn.plots.plot_filters``)."""
    seen: set[int] = set()
    entries: dict[str, list[str]] = {}
    for module in public_modules():
        for name in public_names(module):
            obj = getattr(module, name)
            if id(obj) in seen or inspect.ismodule(obj) or not callable(obj):
                continue
            seen.add(id(obj))
            topic = topic_of(obj, module.__name__)
            entries.setdefault(topic, []).append(f"{module.__name__}.{name}")
    return entries


def shadows_module(name: str) -> bool:
    """Whether ``name`` is also a module (``tinycnn.teach.trace`` the function, and the module)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def lookup(name: str) -> object:
    """The object an entry names: attribute ``attr`` of module ``module`` for ``module.attr``."""
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def summary_line(name: str) -> str:
    """The first line of the docstring of the object called ``name``."""
    doc = inspect.getdoc(lookup(name)) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def stub(name: str) -> str:
    """A page documenting ``name`` directly (autosummary would document the module instead)."""
    module, _, attr = name.rpartition(".")
    obj = lookup(name)
    directive = "autoclass" if inspect.isclass(obj) else "autofunction"
    options = ["   :members:", "   :show-inheritance:"] if inspect.isclass(obj) else []
    title = name.replace("_", "\\_")
    return "\n".join(
        [
            title,
            "=" * len(title),
            "",
            f".. currentmodule:: {module}",
            "",
            f".. {directive}:: {attr}",
        ]
        + options
        + [""]
    )


def render_topic(topic: str, names: list[str]) -> list[str]:
    """An autosummary table, plus a table and stub pages for names that shadow a module.

    autosummary imports ``tinycnn.teach.trace`` as the module ``tinycnn/teach/trace.py``, not as the
    function ``trace`` that ``tinycnn/__init__.py`` exports; those get their own stub page.
    """
    lines = [topic, "-" * len(topic), ""]
    plain = [name for name in names if not shadows_module(name)]
    shadowing = [name for name in names if shadows_module(name)]
    if plain:
        lines += [".. autosummary::", "   :toctree: generated", "   :nosignatures:", ""]
        lines += [f"   {name}" for name in plain] + [""]
    if shadowing:
        lines += [".. toctree::", "   :hidden:", ""]
        lines += [f"   generated/{name}" for name in shadowing] + [""]
        lines += [".. list-table::", "   :class: autosummary longtable", ""]
        for name in shadowing:
            lines += [f"   * - :py:obj:`{name}`", f"     - {summary_line(name)}"]
        lines.append("")
    return lines


def render(entries: dict[str, list[str]]) -> str:
    """The reStructuredText of the API page."""
    lines = [HEADER]
    for topic in ORDER:
        if topic in entries:
            lines += render_topic(topic, entries[topic])
    return "\n".join(lines)


def write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless the file already holds it (keeps incremental builds incremental)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def write_api_page(app: Sphinx, config: object) -> None:
    entries = public_entries()
    api = Path(app.srcdir) / "api"
    write_if_changed(api / "index.rst", render(entries))
    for names in entries.values():
        for name in filter(shadows_module, names):
            write_if_changed(api / "generated" / f"{name}.rst", stub(name))


def setup(app: Sphinx) -> dict[str, object]:
    # Before Sphinx and autosummary look for source files.
    app.connect("config-inited", write_api_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

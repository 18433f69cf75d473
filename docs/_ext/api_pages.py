"""Write the API reference page from the package itself: the public API, grouped as a user looks.

At ``config-inited`` (before Sphinx and autosummary look for source files) this writes
``api/index.rst`` (git-ignored): one autosummary table per group, with a generated page for each
entry.

The public API is

- every name in ``tinycnn.__all__``, documented as ``tinycnn.<name>``;
- the names listed in ``PUBLIC_MODULES``: a module's ``__all__`` (``None``) or the names given,
  documented as ``<module>.<name>`` unless the same object is already listed.

Nothing else: internals such as the speed path (``tinycnn.fast``), the kernels' twins, the
command implementations and the page server's helpers are read in the source, not listed.
Modules themselves are not entries. Each entry's group comes from the package room that defines
it (``tinycnn.layers.conv2d`` -> Layers); a test fails when a public name lands in the
catch-all "Other" group.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import types
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Sphinx is needed only by the hook, so tests can import this module
    from sphinx.application import Sphinx

logger = logging.getLogger(__name__)

# Modules beyond the top level whose names a user imports: None means the module's __all__.
PUBLIC_MODULES: dict[str, list[str] | None] = {
    "tinycnn.layers": None,
    "tinycnn.initializers": ["glorot_uniform", "he_uniform", "fan_in_uniform", "zeros"],
    "tinycnn.losses": ["log_softmax", "get_loss"],
    "tinycnn.optim": ["Optimizer", "get_optimizer"],
    "tinycnn.training.callbacks": [
        "Callback",
        "LambdaCallback",
        "EarlyStopping",
        "ModelCheckpoint",
    ],
    "tinycnn.training.metrics": [
        "accuracy",
        "confusion_matrix",
        "precision_recall_f1",
        "classification_report",
    ],
    "tinycnn.data": None,
    "tinycnn.saving.io": ["save_model", "load_weights"],
    "tinycnn.runtime": ["Runtime", "Threads", "thread_policy"],
    "tinycnn.interop": ["to_keras", "from_keras"],
    "tinycnn.plots": None,
    "tinycnn.teach.looks": None,
    "tinycnn.serve": ["make_server", "DigitServer", "load_default_model"],
    "tinycnn.testing": None,  # when present
}

# The package room defining an object -> its group.
TOPICS = {
    "model": "Model",
    "zoo": "Model",
    "layers": "Layers",
    "initializers": "Layers",
    "losses": "Losses",
    "optim": "Optimizers",
    "training": "Training and callbacks",
    "data": "Data",
    "saving": "Saving and loading",
    "interop": "Saving and loading",
    "runtime": "Backend",
    "plots": "Plots",
    "teach": "Teaching tools",
    "kernels": "Teaching tools",
    "serve": "Teaching tools",
    "testing": "Testing your own layers",
}
ORDER = list(dict.fromkeys(TOPICS.values())) + ["Other"]  # test_docs.py: no "Other"

HEADER = """\
API reference
=============

The public API of tinycnn, grouped as you would look for it, generated from the docstrings
(numpydoc style: each array argument states its shape in the symbols
``N H W C F KH KW OH OW S P``). Most names are importable from the top-level package, e.g.
``from tinycnn import Conv2D``; the others from the module shown. Internals (the speed path,
the kernels' Numba twins, the command line's implementation) are documented in their source.

"""


def topic_of(obj: object, fallback_module: str) -> str:
    """The group an object belongs to, from the package room that defines it."""
    module = obj.__name__ if isinstance(obj, types.ModuleType) else None
    module = module or getattr(obj, "__module__", None) or fallback_module
    parts = module.split(".")
    return TOPICS.get(parts[1], "Other") if len(parts) > 1 else "Other"


def public_modules() -> list[tuple[types.ModuleType, list[str]]]:
    """``(module, names)`` of the public API: ``tinycnn`` first, then ``PUBLIC_MODULES``."""
    import tinycnn

    modules = [(tinycnn, public_names(tinycnn))]
    for name, names in PUBLIC_MODULES.items():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:  # tinycnn.testing, when absent
            logger.info("api_pages: skipping %s (%s)", name, error)
            continue
        modules.append((module, public_names(module) if names is None else names))
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
    """Map group -> documented names (``tinycnn.Conv2D``, ``tinycnn.plots.plot_filters``)."""
    seen: set[int] = set()
    entries: dict[str, list[str]] = {}
    for module, names in public_modules():
        for name in names:
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


def remove_stale_pages(folder: Path, names: set[str]) -> list[Path]:
    """Delete generated pages of names no longer listed (Sphinx would still read them)."""
    stale = [page for page in folder.glob("tinycnn*.rst") if page.stem not in names]
    for page in stale:
        page.unlink()
    return stale


def write_api_page(app: Sphinx, config: object) -> None:
    entries = public_entries()
    api = Path(app.srcdir) / "api"
    remove_stale_pages(api / "generated", {name for names in entries.values() for name in names})
    write_if_changed(api / "index.rst", render(entries))
    for names in entries.values():
        for name in filter(shadows_module, names):
            write_if_changed(api / "generated" / f"{name}.rst", stub(name))


def setup(app: Sphinx) -> dict[str, object]:
    # Before Sphinx and autosummary look for source files.
    app.connect("config-inited", write_api_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

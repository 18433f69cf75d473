"""Sphinx configuration for the tinycnn documentation.

Build (strict, as CI does)::

    pip install -e ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html

The tutorials (``tutorials/*.py``, jupytext percent format) are copied into ``docs/tutorials/``
and executed by myst-nb during the build with ``TINYCNN_TUTORIAL_FAST=1`` (small data, few
epochs), so the rendered pages show real outputs and figures. Set ``TINYCNN_DOCS_EXECUTE=off``
to skip execution while editing prose, or ``TINYCNN_TUTORIAL_FAST=0`` to render full runs.

Everything the pages load is served from ``_static``: MathJax is vendored in
``_static/mathjax`` and furo loads no web fonts. After the build, ``_ext/offline_check.py``
fails the build if any page refers to a script, style sheet or font on another host.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

from tinycnn._version import __version__  # noqa: E402

project = "tinycnn"
author = "The tinycnn developers"
copyright = "2025, the tinycnn developers"  # noqa: A001
release = __version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_nb",
    "tutorial_sources",
    "concept_figures",
    "api_pages",
    "cli_help",
    "offline_check",
    "resolve_refs",
    "star_args",
]

exclude_patterns = [
    "_build",
    "_ext",
    "conf.py",
    "jupyter_execute",
    "**/.ipynb_checkpoints",
    "guides/template_pack",  # an exercise pack the teaching guide includes, not a page
]
templates_path = ["_templates"]
root_doc = "index"

# -- strictness: every cross-reference must resolve -----------------------------------------
nitpicky = True
# numpydoc types are prose ("ndarray, shape (N, H, W, C)"); _ext/resolve_refs.py shows their words
# as text and links bare tinycnn class names. These outside names have no inventory offline (no
# intersphinx), so they are text too. Any other unresolved reference fails the build.
type_prose_words = (
    "ndarray",
    "NDArray",
    "ArrayLike",
    "DTypeLike",
    "Array",
    "Shape",
    "Generator",
    "Figure",
    "Axes",
    "Path",
    "PathLike",
    "Namespace",
    "ArgumentParser",
    "Callable",
    "Iterator",
    "Iterable",
    "Mapping",
    "Sequence",
    "Any",
)
_OUTSIDE = "|".join(
    ["numpy", "np", "matplotlib", "numba", "keras", "tensorflow", "tf"]  # third-party
    + ["argparse", "os", "pathlib", "typing", "collections", "contextlib", "http", "socketserver"]
    + ["io"]
)
nitpick_ignore_regex = [("py:class", rf"({_OUTSIDE})\..*")]

# -- autodoc / autosummary / napoleon (numpydoc style) ---------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc sections state the types, with shapes
autodoc_preserve_defaults = True
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True

# -- MyST and myst-nb --------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
nb_execution_mode = "off" if os.environ.get("TINYCNN_DOCS_EXECUTE") == "off" else "force"
nb_execution_timeout = 900
nb_execution_in_temp = True  # run in a fresh folder: nothing written into the source tree
# Tutorial 9 compares with TensorFlow; without it (no reference extra) it is shown unexecuted,
# under a warning box that says so (_ext/tutorial_sources.py). CI installs TensorFlow, so there
# it always runs.
if importlib.util.find_spec("tensorflow") is None:
    nb_execution_excludepatterns = ["tutorials/09_*"]
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# The kernels inherit this process's environment: fast tutorial settings, no display, and one
# thread per pool (on a shared machine two-thread parallel regions wait for a free core and run
# up to 100x slower; see docs/benchmarks.md).
os.environ.setdefault("TINYCNN_TUTORIAL_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
for _pool in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_pool, "1")

# -- HTML -------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"tinycnn {release}"
html_static_path = ["_static"]
html_theme_options = {"navigation_with_keys": True}
html_show_sourcelink = True
# MathJax is vendored (see _static/mathjax/README.md): no CDN, math renders offline.
mathjax_path = "mathjax/tex-chtml-full.js"
mathjax3_config = {"options": {"enableMenu": False}}

"""Escape the star of ``*input_shape`` in docstrings, so shapes like ``(N, *input_shape)`` work.

numpydoc writes a batch of inputs as ``x : ndarray, shape (N, *input_shape)``, Python's star
meaning "followed by the entries of input_shape". In reStructuredText a lone ``*`` opens
emphasis, so Sphinx warns ("Inline emphasis start-string without end-string") and the strict
build fails. Before napoleon reads a docstring, this turns a star that directly follows ``(`` or
``, `` and directly precedes a name that ends at ``)`` or ``,`` into ``\\*``. Emphasis such as
``*equivariant*`` is left alone (its name is followed by ``*``, not by ``)`` or ``,``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sphinx.application import Sphinx

STAR_ARG = re.compile(r"(?<=[(,] )\*(?=[A-Za-z_]\w*[),])|(?<=\()\*(?=[A-Za-z_]\w*[),])")


def escape_star_args(line: str) -> str:
    """``"shape (N, *input_shape)"`` -> ``"shape (N, \\*input_shape)"``."""
    return STAR_ARG.sub(r"\\*", line)


def process_docstring(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    lines[:] = [escape_star_args(line) for line in lines]


def setup(app: Sphinx) -> dict[str, object]:
    # Before napoleon (default priority 500) turns the numpydoc sections into fields.
    app.connect("autodoc-process-docstring", process_docstring, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

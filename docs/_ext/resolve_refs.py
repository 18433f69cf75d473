"""Resolve references Sphinx misses, without weakening strict (nitpicky) cross-references.

**Aliases.** A public object is documented once, under the name users import it by
(``tinycnn.im2col``), but docstrings may name it by the module that defines it
(``tinycnn.kernels.im2col.im2col``). Sphinx links such aliases for classes (autodoc's
``:canonical:``) but not for functions; here any ``py`` reference whose target imports to a
documented object links to that object's page.

**Type prose.**

numpydoc types are written for people: ``x : ndarray, shape (N, H, W, C)`` or
``padding : {"valid", "same"}``. Sphinx's Python domain turns every word of a type field into a
class reference, and ``nitpicky`` mode would fail on ``shape``, ``N`` or ``"same"}``. The
``py:class`` references that Sphinx could not resolve are handled in this order:

1. a bare name (``Sequential``, or ``figure_size`` in a ``:func:`` role) links to the documented
   tinycnn object whose full name ends with it, when exactly one does (any ``py`` role);
2. for ``py:class`` and ``py:obj`` only, a word of prose (contains a space, a quote, a brace,
   a hyphen, ``*``, ``=`` or starts with a digit),
   a lowercase word in a type (``shape``, ``units``: classes are CamelCase), a single shape
   symbol (``N``, ``KH``) or a name listed in ``conf.type_prose_words`` is shown as plain text.

**Internals.** The API page lists the public API only. A reference to a tinycnn object that
exists but is not listed (``tinycnn.kernels.same_padding``, a helper named in a docstring of
its own module) is shown as code text without a link: the reader finds it in the source.

Anything else stays unresolved, so a mistyped ``:class:`tinycnn.Conv2d``` or a reference to a
name that does not exist still fails the build.
"""

from __future__ import annotations

import importlib
import re
import sys
from functools import cache

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

PROSE = re.compile(r"[\s'\"{}()*=,:<>\[\]-]|^\d|^[A-Z]{1,2}\d?$|^\.\.\.$")


def import_object(dotted: str) -> object | None:
    """The object a dotted path names (``package.module.attr``), or None."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


@cache
def documented_names() -> dict[int, str]:
    """``id(object) -> documented full name`` for every entry of the API page."""
    from api_pages import public_entries

    names: dict[int, str] = {}
    for entries in public_entries().values():
        for name in entries:
            obj = import_object(name)
            if obj is not None:
                names.setdefault(id(obj), name)
    return names


def resolve_alias(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.Element
) -> nodes.Element | None:
    target = node["reftarget"]
    if node.get("refdomain") != "py" or not target.startswith("tinycnn."):
        return None
    name = documented_names().get(id(import_object(target)))
    if name is None or name == target:
        return None
    found = env.get_domain("py").resolve_any_xref(
        env, node["refdoc"], app.builder, name, node, contnode
    )
    return found[0][1] if found else None


def resolve_prose(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.Element
) -> nodes.Element | None:
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    domain = env.get_domain("py")
    if re.fullmatch(r"[A-Za-z_]\w*", target):
        matches = [name for name in domain.objects if name.endswith(f".{target}")]
        # a class documented under an alias is also listed under its canonical name
        public = [
            name
            for name in matches
            if name.startswith("tinycnn.") and not domain.objects[name].aliased
        ]
        if len(public) == 1:
            found = domain.resolve_any_xref(
                env, node["refdoc"], app.builder, public[0], node, contnode
            )
            if found:
                return found[0][1]
    if node.get("reftype") not in {"class", "obj"}:
        return None
    lowercase_word = node["reftype"] == "class" and re.fullmatch(r"[a-z_][a-z0-9_-]*", target)
    if PROSE.search(target) or lowercase_word or target in app.config.type_prose_words:
        return contnode
    return None


def internal_object(target: str, module: str | None) -> object | None:
    """The tinycnn object ``target`` names (dotted, or bare: defined by one tinycnn module)."""
    if target.startswith("tinycnn."):
        return import_object(target)
    if not re.fullmatch(r"[A-Za-z_]\w*", target):
        return None
    if module and module.startswith("tinycnn"):
        found = import_object(f"{module}.{target}")
        if found is not None:
            return found
    defined = {
        id(obj): obj
        for name, loaded in list(sys.modules.items())
        if name.startswith("tinycnn.") and loaded is not None
        for obj in [getattr(loaded, target, None)]
        if obj is not None and getattr(obj, "__module__", "").startswith("tinycnn")
    }
    return next(iter(defined.values())) if len(defined) == 1 else None


def resolve_internal(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.Element
) -> nodes.Element | None:
    if node.get("refdomain") != "py":
        return None
    if internal_object(node["reftarget"], node.get("py:module")) is None:
        return None
    return contnode


def setup(app: Sphinx) -> dict[str, object]:
    app.add_config_value("type_prose_words", (), "env")
    app.connect("missing-reference", resolve_alias)
    app.connect("missing-reference", resolve_prose)
    app.connect("missing-reference", resolve_internal)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

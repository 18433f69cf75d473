"""Fail the build when a page would fetch anything from the internet.

After an HTML build, every ``.html`` page and ``.css`` file of the output is scanned for
resources on other hosts: ``<script src>``, ``<link href>`` (style sheets, fonts, preloads),
``<img src>``, ``<iframe src>`` and CSS ``url(...)`` / ``@import``. Each one found is a warning,
which ``sphinx-build -W`` turns into a failed build. Ordinary hyperlinks (``<a href>``) are fine:
they are only followed when a reader clicks them. ``tests/documentation/test_docs.py`` checks the
patterns.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Sphinx is imported only by the hooks, so tests can import this module
    from sphinx.application import Sphinx

EXTERNAL = r"(?:https?:)?//"
HTML_PATTERNS = [
    re.compile(
        rf"<(?:script|img|iframe|source|audio|video)\b[^>]*\ssrc\s*=\s*[\"']?({EXTERNAL}[^\"'\s>]+)",
        re.I,
    ),
    re.compile(rf"<link\b[^>]*\shref\s*=\s*[\"']?({EXTERNAL}[^\"'\s>]+)", re.I),
]
CSS_PATTERNS = [
    re.compile(rf"url\(\s*[\"']?({EXTERNAL}[^\"')\s]+)", re.I),
    re.compile(rf"@import\s+[\"']({EXTERNAL}[^\"']+)", re.I),
]
# XML namespaces are identifiers, not downloads.
HARMLESS = re.compile(r"^https?://www\.w3\.org/")


def external_resources(text: str, css: bool = False) -> list[str]:
    """URLs on other hosts that ``text`` (an HTML page or a CSS file) would load."""
    patterns = CSS_PATTERNS if css else HTML_PATTERNS + CSS_PATTERNS
    found = [match.group(1) for pattern in patterns for match in pattern.finditer(text)]
    return [url for url in found if not HARMLESS.match(url)]


def scan(outdir: Path) -> dict[Path, list[str]]:
    """Map each output file that loads something from another host to those URLs."""
    problems: dict[Path, list[str]] = {}
    for path in sorted(outdir.rglob("*")):
        if path.suffix not in {".html", ".css"} or not path.is_file():
            continue
        urls = external_resources(
            path.read_text(encoding="utf-8", errors="replace"), path.suffix == ".css"
        )
        if urls:
            problems[path] = urls
    return problems


def check_build(app: Sphinx, exception: Exception | None) -> None:
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    for path, urls in scan(outdir).items():
        for url in sorted(set(urls)):
            logger.warning(
                "%s loads %s from another host; the docs must work offline",
                path.relative_to(outdir),
                url,
                type="tinycnn",
                subtype="offline",
            )


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("build-finished", check_build)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""The ``tinycnn-cli`` directive: the command line reference, generated from argparse.

``.. tinycnn-cli::`` renders ``tinycnn --help`` and then, for every name in
``tinycnn.cli.COMMANDS``, a section with the text ``tinycnn <command> --help`` prints (and one
for each of a command's own subcommands, such as ``tinycnn data info``). The text
comes from the same parser the console script builds (``tinycnn.cli.build_parser``), formatted at
a fixed width, so the reference cannot drift from the program.
"""

from __future__ import annotations

from cli_text import help_texts
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


class CliHelp(SphinxDirective):
    """One section per command, each holding its ``--help`` text as a literal block."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        import tinycnn.cli

        self.env.note_dependency(tinycnn.cli.__file__)
        sections: list[nodes.Node] = []
        for title, text in help_texts():
            section_id = nodes.make_id(title)
            section = nodes.section(ids=[section_id], names=[nodes.fully_normalize_name(title)])
            section += nodes.title(text=title)
            paragraph = nodes.paragraph()
            paragraph += nodes.literal(text=f"{title} --help")
            paragraph += nodes.Text(" prints:")
            section += paragraph
            block = nodes.literal_block(text.rstrip() + "\n", text.rstrip() + "\n")
            block["language"] = "text"
            section += block
            self.state.document.note_implicit_target(section, section)
            sections.append(section)
        return sections


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("tinycnn-cli", CliHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

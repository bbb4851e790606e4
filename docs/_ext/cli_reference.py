"""``.. cnninspect-cli::`` -- the command line reference, from the real argparse parser.

Each command in :data:`cnninspect.integrations.cli.COMMANDS` becomes a section with its help
line and its ``--help`` output, so a new command or option shows up in the docs
without anyone editing them.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles


@contextmanager
def _columns(width: int):
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


class CliReference(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        from cnninspect import cli

        with _columns(92):
            parser = cli.build_parser()
            subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
            lines = ["``cnninspect``", "-" * 14, "", ".. code-block:: text", ""]
            lines += ["   " + line for line in parser.format_help().splitlines()]
            for name in cli.COMMANDS:
                sub = subparsers.choices[name]
                title = f"``cnninspect {name}``"
                lines += ["", title, "-" * len(title), "", sub.description or "", "", ".. code-block:: text", ""]
                lines += ["   " + line for line in sub.format_help().splitlines()]
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="cnninspect-cli"), node)
        return node.children


def setup(app):
    app.add_directive("cnninspect-cli", CliReference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

"""``.. cnninspect-chapter::`` -- ``cnninspect chapter``'s output, computed while the docs build.

The page that shows the chapter's figures beside cnninspect's is never typed by hand:
this directive runs :func:`cnninspect.chapter.replay.replay` and prints its text, so a
changed figure or erratum shows up in the docs by itself. ``:errata:`` keeps only the
errata; a mismatch (cnninspect disagreeing with a right figure) fails the build.
"""

from __future__ import annotations

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective


class ChapterReplay(SphinxDirective):
    has_content = False
    option_spec = {"errata": directives.flag}

    def run(self) -> list[nodes.Node]:
        from cnninspect.chapter.replay import ChapterReplay as Replay
        from cnninspect.chapter.replay import replay

        result = replay()
        for module in ("facts", "replay", "sections", "pictures", "models"):
            self.env.note_dependency(__import__(f"cnninspect.chapter.{module}", fromlist=["x"]).__file__)
        if not result.ok:
            bad = ", ".join(f.key for f in result.by_status("mismatch"))
            raise self.error(f"cnninspect chapter: figures that disagree with the chapter: {bad}")
        if "errata" in self.options:
            result = Replay([f for f in result.figures if f.status != "equal"])
        text = "$ cnninspect chapter" + (" --errata" if "errata" in self.options else "") + "\n" + result.to_text()
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def setup(app):
    app.add_directive("cnninspect-chapter", ChapterReplay)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

"""``.. cnninspect-lint:: package.module:attr``: a model's lint findings as a table in the page.

Options: ``:input-shape:``, ``:kwargs:``, ``:select:``, ``:ignore:`` (comma-separated codes
or prefixes), ``:object-size:``, ``:precision:``, ``:caption:``, ``:name:``, ``:class:``.
The lint reuses the summary the other directives of the build made of the same model.
"""

from __future__ import annotations

from docutils import nodes
from docutils.parsers.rst import directives

from cnninspect.errors import OptionError
from cnninspect.integrations.sphinx.directives import _ModelDirective
from cnninspect.integrations.sphinx.tables import build_table


def _codes(text: str | None) -> list[str] | None:
    return [c.strip() for c in text.split(",") if c.strip()] if text else None


def _object_size(text: str | None) -> int | tuple[int, ...] | None:
    if not text:
        return None
    try:
        sizes = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise OptionError(f":object-size: {text!r}: give pixels, e.g. 64 or 64,96") from None
    return sizes[0] if len(sizes) == 1 else sizes


class LintDirective(_ModelDirective):
    """The findings of ``cnninspect lint`` on one model: code, layer, message and fix."""

    # free text each: build() turns them into lint()'s arguments
    option_spec = {
        **_ModelDirective.common_options,
        **dict.fromkeys(("select", "ignore", "object-size", "precision"), directives.unchanged),
    }

    def build(self) -> list[nodes.Node]:
        from cnninspect.analyses.lint import lint

        a = self.analyse()
        report = lint(
            a.model, summary=a.summary, model_name=a.spec,
            select=_codes(self.options.get("select")), ignore=_codes(self.options.get("ignore")),
            object_size=_object_size(self.options.get("object-size")),
            precision=self.options.get("precision"),
        )  # fmt: skip
        title = self.options.get("caption") or f"Lint findings for {a.summary.model_name}"
        if report.ok:
            para = nodes.paragraph(text=f"{title}: no findings from {len(report.rules)} rules.")
            self.name_target(para)
            return [self.wrap([para], "lint")]
        rows = [[f.code, f.path, f.message, report.rule(f.code).fix] for f in report.findings]
        table = build_table(["code", "layer", "finding", "fix"], rows, title=title)
        self.name_target(table)
        return [self.wrap([table], "lint")]

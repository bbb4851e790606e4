"""Real docutils tables from rows of cells, so HTML, LaTeX and text builders all render them.

Pasting tabulate's HTML into a page would only work for one builder; building the
node tree (table/tgroup/colspec/thead/tbody/row/entry) works for every one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from docutils import nodes

from cnninspect.renderers.text import COLUMNS, rows_for
from cnninspect.units import thousands

NUMERIC_CLASS = "cnninspect-num"
# columns that hold numbers as text (receptive-field sizes may read "global" or "3/2"): right-aligned too
_RIGHT = {"rf", "jump", "start", "naive_rf"}


def cell_text(value: Any, numeric: bool) -> str:
    """Numbers get thousands separators (421642 -> '421,642'); everything else is str()."""
    if numeric and isinstance(value, int) and not isinstance(value, bool):
        return thousands(value)
    return "" if value is None else str(value)


def build_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Sequence[bool] | None = None,
    title: str | None = None,
    classes: Sequence[str] = (),
) -> nodes.table:
    """A table node; ``numeric[i]`` right-aligns column ``i`` (class ``cnninspect-num``)."""
    numeric = list(numeric or [False] * len(headers))
    table = nodes.table(classes=["cnninspect-table", "colwidths-auto", *classes])
    if title:
        table += nodes.title(title, title)
    tgroup = nodes.tgroup(cols=len(headers))
    table += tgroup
    widths = [max([len(str(h))] + [len(str(r[i])) for r in rows]) for i, h in enumerate(headers)]
    for width in widths:
        tgroup += nodes.colspec(colwidth=max(width, 1))
    thead = nodes.thead()
    tgroup += thead
    thead += _row(headers, numeric)
    tbody = nodes.tbody()
    tgroup += tbody
    for row in rows:
        tbody += _row(row, numeric)
    return table


def _row(cells: Sequence[str], numeric: Sequence[bool]) -> nodes.row:
    row = nodes.row()
    for text, is_num in zip(cells, numeric):
        entry = nodes.entry(classes=[NUMERIC_CLASS] if is_num else [])
        if text != "":
            entry += nodes.paragraph(text=str(text))
        row += entry
    return row


def summary_table(summary: Any, columns: Any = None, depth: int | None = None, title: str | None = None) -> nodes.table:
    """The per-layer table of a :class:`~cnninspect.engine.records.Summary`, cells from ``render.rows_for``."""
    cols, raw = rows_for(summary, columns, depth)
    numeric = [COLUMNS[c].numeric for c in cols]
    rows = [[cell_text(v, num) for v, num in zip(row, numeric)] for row in raw]
    right = [num or c in _RIGHT for c, num in zip(cols, numeric)]
    return build_table([COLUMNS[c].header for c in cols], rows, numeric=right, title=title,
                       classes=["cnninspect-layers"])  # fmt: skip


def totals_table(summary: Any, extra: Sequence[tuple[str, str]] = ()) -> nodes.table:
    """Totals under the layer table: the same lines the text renderer prints, then ``extra``
    (the memory totals, when the directive shows memory)."""
    from cnninspect.renderers.text import totals_lines

    return build_table(["Total", "Value"], [list(line) for line in [*totals_lines(summary), *extra]],
                       classes=["cnninspect-totals"])  # fmt: skip

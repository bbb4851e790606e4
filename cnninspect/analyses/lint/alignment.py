"""CNN3xx: grids that do not line up -- merged paths with different jumps or offsets, and
transposed convolutions that cover their output unevenly."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from cnninspect.analyses.lint.context import TRANSPOSED_KINDS, LintContext, fmt_size
from cnninspect.analyses.lint.findings import Finding
from cnninspect.analyses.lint.registry import FIELDS, GRAPH, KNOWN, rule

MERGES = frozenset({"add", "iadd", "sub", "mul", "imul", "cat", "concat", "stack", "add_", "mul_", "sub_"})


def _fmt(values) -> str:
    return "x".join(str(v) for v in values)


def _grid(ctx: LintContext, name: str):
    """The (jump, start) of a merge input with a spatial grid; None for broadcast or global inputs."""
    if not name.startswith("input:"):
        row = ctx.rows.get(name)
        shape = row.output_shape if row is not None else None
        if not isinstance(shape, tuple) or len(shape) < 3 or not any(d != 1 for d in shape[2:]):
            return None
    f = ctx.field(name)
    if f is None or f.is_global or f.unknown or f.jump is None or f.start is None:
        return None
    return f.jump, f.start


@rule("CNN301", needs=((GRAPH, None), (FIELDS, None), (KNOWN, "merges of inputs whose field is unknown")))
def misaligned_merge(ctx: LintContext) -> Iterator[Finding]:
    if not ctx.has_graph:
        return
    anchors: dict[str, str] = {}  # row -> the last merge above it whose paths disagreed (its frame)
    known: dict[str, tuple | None] = {}  # input -> its grid, worked out once however many rows read it
    for row in ctx.summary.layers:
        if len(row.inputs) == 1:  # most rows: the frame of their one input, and nothing to merge
            anchors[row.name] = anchors.get(row.inputs[0], row.inputs[0])
            continue
        inputs = list(dict.fromkeys(row.inputs))
        for name in inputs:
            if name not in known:
                known[name] = _grid(ctx, name)
        grids = [(name, g) for name in inputs if (g := known[name]) is not None]
        # weights and broadcast scales carry no grid: the frame is that of the spatial inputs
        anchors[row.name] = _frame(anchors, row.name, [name for name, _ in grids] or inputs)
        if row.kind not in MERGES or len(grids) < 2:
            continue
        finding = _disagreement(ctx, row, grids, anchors)
        if finding is not None:
            anchors[row.name] = row.name  # its field is the bounding box of paths that disagree
            if finding.message:
                yield finding


def _frame(anchors: dict[str, str], name: str, inputs: list[str]) -> str:
    """The frame a row's grid start is exact in: its inputs' one frame, or itself when they differ."""
    frames = {anchors.get(i, i) for i in inputs}
    return frames.pop() if len(frames) == 1 else name


def _disagreement(ctx: LintContext, row, grids: list, anchors: dict[str, str]) -> Finding | None:
    """The finding for the first input whose grid disagrees with the first one's; None when all agree.

    Jumps are exact anywhere. A start is exact only relative to the inputs' common frame: past a
    merge whose paths disagreed, a field's start is the centre of their bounding box, so an offset
    between inputs from different frames restates that earlier merge. Such a disagreement returns
    a finding with an empty message: the merge starts a new frame but is not reported again.
    """
    (first, (jump0, start0)), rest = grids[0], grids[1:]
    where = ctx.where(row)
    for other, (jump, start) in rest:
        if len(jump) != len(jump0) or (jump == jump0 and start == start0):
            continue
        a, b = _label(ctx, first), _label(ctx, other)
        if jump != jump0:
            message = f"{where} ({row.kind}) merges {a} (jump {_fmt(jump0)}) with {b} (jump {_fmt(jump)})"
        elif anchors.get(first, first) != anchors.get(other, other):
            message = ""
        else:
            shift = tuple(s - t for s, t in zip(start, start0))
            units = tuple(Fraction(d) / Fraction(j) for d, j in zip(shift, jump))
            message = (
                f"{where} ({row.kind}) merges {a} and {b}, whose grids are offset by "
                f"{_fmt(shift)} input pixels ({_fmt(units)} of a unit at jump {_fmt(jump)})"
            )
        return Finding(
            "CNN301", where, message, (row.name, first, other),
            {"jumps": [list(jump0), list(jump)], "starts": [list(start0), list(start)]},
        )  # fmt: skip
    return None


def _label(ctx: LintContext, name: str) -> str:
    row = ctx.rows.get(name)
    return ctx.where(row) if row is not None else name


@rule("CNN302")
def checkerboard(ctx: LintContext) -> Iterator[Finding]:
    for row in ctx.summary.layers:
        if row.kind not in TRANSPOSED_KINDS or row.kernel_size is None or row.stride is None:
            continue
        k, s = row.kernel_size, row.stride
        bad = [(kk, ss) for kk, ss in zip(k, s) if ss > 1 and kk % ss]
        if not bad:
            continue
        where = ctx.where(row)
        counts = sorted({-(-kk // ss) for kk, ss in bad} | {kk // ss for kk, ss in bad})
        yield Finding(
            "CNN302", where,
            f"{where} ({row.kind} {fmt_size(k)}, stride {fmt_size(s)}): kernel not divisible by "
            f"the stride, so output pixels get {' or '.join(map(str, counts))} taps per axis",
            (row.name,), {"kernel": list(k), "stride": list(s)},
        )  # fmt: skip

"""CNN501: shapes the hardware runs slowly."""

from __future__ import annotations

from collections.abc import Iterator

from cnninspect.analyses.lint.context import LINEAR_KINDS, WEIGHTED_KINDS, LintContext
from cnninspect.analyses.lint.findings import Finding
from cnninspect.analyses.lint.registry import HALF_GRAPH, rule


def _channels(kind: str, module) -> tuple[int, int, int]:
    if kind in LINEAR_KINDS:
        return module.in_features, module.out_features, 1
    return module.in_channels, module.out_channels, module.groups


@rule("CNN501", needs=((HALF_GRAPH, "input channels"),))
def tensor_core_channels(ctx: LintContext) -> Iterator[Finding]:
    dtype = ctx.half_precision
    if dtype is None:
        return
    for row in ctx.summary.layers:
        if row.kind not in WEIGHTED_KINDS or row.call_index != 1:
            continue
        module = ctx.module(row)
        if module is None:
            continue
        c_in, c_out, groups = _channels(row.kind, module)
        if groups != 1:
            continue  # grouped and depthwise convolutions do not run on tensor-core GEMMs this way
        # the layer reading the model's input (RGB) is exempt; without a graph no row says which
        # that is, so input channels are left to the report's not-checked line
        reads_input = not ctx.has_graph or (bool(row.inputs) and row.inputs[0].startswith("input:"))
        bad = [f"{c_out} output" for _ in (0,) if c_out % 8]
        if c_in % 8 and not reads_input:
            bad.insert(0, f"{c_in} input")
        if not bad:
            continue
        where = ctx.where(row)
        yield Finding(
            "CNN501", where,
            f"{where} ({row.kind} {c_in}->{c_out}) has {' and '.join(bad)} channels, not multiples of 8, "
            f"in {str(dtype).removeprefix('torch.')}",
            (row.name,), {"in": c_in, "out": c_out},
        )  # fmt: skip

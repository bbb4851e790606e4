"""CNN401: two linear maps in a row with nothing non-linear between them."""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction

from cnninspect.analyses.lint.context import (
    BATCHNORM_KINDS,
    CONV_KINDS,
    LINEAR_KINDS,
    PASS_THROUGH,
    LintContext,
    fmt_params,
    fmt_size,
)
from cnninspect.analyses.lint.findings import Finding
from cnninspect.analyses.lint.registry import FIELDS, GRAPH, rule

AVERAGES = frozenset({
    "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool2d",
})  # fmt: skip
# affine at inference: a chain across these is still one linear map (BatchNorm uses its
# running statistics in eval mode; per-sample norms such as LayerNorm divide, so they stop it)
AFFINE = PASS_THROUGH | BATCHNORM_KINDS | AVERAGES
CONV_OR_LINEAR = CONV_KINDS | LINEAR_KINDS


def _merged_conv(ctx: LintContext, a, b, ma, mb) -> tuple[int, tuple[int, ...]] | None:
    """Weights of the one convolution equal to conv ``a`` ... conv ``b``, and its kernel."""
    f_in, f_out = ctx.field(a.inputs[0]), ctx.field(b.name)
    if f_in is None or f_out is None or f_out.is_global or f_out.unknown or f_out.size is None:
        return None
    kernel = []
    for r_in, j_in, r_out in zip(f_in.size, f_in.jump, f_out.size):
        k = (Fraction(r_out) - Fraction(r_in)) / Fraction(j_in) + 1
        if k.denominator != 1:
            return None
        kernel.append(int(k))
    groups = ma.groups if ma.groups == mb.groups and ma.out_channels == mb.in_channels else 1
    return ma.in_channels * mb.out_channels * math.prod(kernel) // groups, tuple(kernel)


def _merged(ctx: LintContext, a, b) -> tuple[int, str] | None:
    """Weights of the single layer equal to the chain ``a`` ... ``b``, and what it is."""
    ma, mb = ctx.module(a), ctx.module(b)
    if ma is None or mb is None:
        return None
    if a.kind in LINEAR_KINDS and b.kind in LINEAR_KINDS:
        if mb.in_features != ma.out_features:
            return None
        return ma.in_features * mb.out_features, f"Linear {ma.in_features}->{mb.out_features}"
    if a.kind in CONV_KINDS and b.kind == a.kind:
        merged = _merged_conv(ctx, a, b, ma, mb)
        if merged is None:
            return None
        return merged[0], f"{a.kind} {fmt_size(merged[1])} {ma.in_channels}->{mb.out_channels}"
    if a.kind in CONV_KINDS and b.kind in LINEAR_KINDS:
        source = a.inputs[0]
        shape = ctx.summary.input_shape if source.startswith("input:") else ctx.rows[source].output_shape
        if not isinstance(shape, tuple) or not isinstance(a.output_shape, tuple):
            return None
        if math.prod(a.output_shape[1:]) != mb.in_features:
            return None
        n_in = math.prod(shape[1:])
        return n_in * mb.out_features, f"Linear {n_in}->{mb.out_features}"
    return None


@rule("CNN401", needs=((GRAPH, None), (FIELDS, "pairs of convolutions")))
def collapsing_linear_maps(ctx: LintContext) -> Iterator[Finding]:
    for b in ctx.summary.layers:
        if b.kind not in CONV_OR_LINEAR or len(b.inputs) != 1:
            continue
        a, crossed = ctx.back_through(b, AFFINE)
        if a is None or a.kind not in CONV_OR_LINEAR or len(a.inputs) != 1:
            continue
        if len(ctx.consumers.get(a.name, [])) != 1 or a.name in ctx.outputs:
            continue
        merged = _merged(ctx, a, b)
        if merged is None:
            continue
        pair = ctx.module(a).weight.numel() + ctx.module(b).weight.numel()
        if merged[0] > pair:
            continue
        wa, wb = ctx.where(a), ctx.where(b)
        via = f" (via {', '.join(ctx.where(r) for r in reversed(crossed))})" if crossed else ""
        yield Finding(
            "CNN401", wb,
            f"{wa} ({a.kind}) and {wb} ({b.kind}) have no non-linearity between them{via}: together "
            f"they are one {merged[1]} with {fmt_params(merged[0])} weights instead of {fmt_params(pair)}",
            (a.name, b.name), {"pair_weights": pair, "merged_weights": merged[0]},
        )  # fmt: skip

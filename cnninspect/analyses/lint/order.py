"""CNN402: layers in an order that works against them."""

from __future__ import annotations

from collections.abc import Iterator

from cnninspect.analyses.lint.context import BATCHNORM_KINDS, DROPOUT_KINDS, LintContext
from cnninspect.analyses.lint.findings import Finding
from cnninspect.analyses.lint.registry import GRAPH, rule


@rule("CNN402", needs=((GRAPH, None),))
def batchnorm_after_dropout(ctx: LintContext) -> Iterator[Finding]:
    for row in ctx.summary.layers:
        if row.kind not in BATCHNORM_KINDS:
            continue
        source = ctx.source(row)
        if source is None or source.kind not in DROPOUT_KINDS:
            continue
        module = ctx.module(source)
        p = getattr(module, "p", None)
        if module is not None and not p:
            continue  # Dropout(p=0) is the identity
        where, drop = ctx.where(row), ctx.where(source)
        yield Finding(
            "CNN402", where,
            f"{where} ({row.kind}) reads {drop} ({source.kind}"
            f"{f', p={p}' if p is not None else ''}): its running variance will not match eval mode",
            (source.name, row.name), {"p": p},
        )  # fmt: skip

"""CNN501: shapes the hardware runs slowly."""

from __future__ import annotations

from collections.abc import Iterator

from cnninspect.analyses.lint.context import (
    CONV_KINDS,
    LINEAR_KINDS,
    TRANSPOSED_KINDS,
    LintContext,
)
from cnninspect.analyses.lint.findings import Finding
from cnninspect.analyses.lint.registry import rule


def _channels(kind: str, module) -> tuple[int, int, int]:
    if kind in LINEAR_KINDS:
        return module.in_features, module.out_features, 1
    return module.in_channels, module.out_channels, module.groups


@rule(
    "CNN501", "tensor-core-channels",
    summary="in fp16/bf16, a conv or linear layer whose channel counts are not multiples of 8",
    why="Tensor cores multiply fp16/bf16 tiles whose channel dimensions are multiples of 8; other "
        "counts are padded or fall back to slower kernels. Only reported when the model runs in "
        "half precision (its parameters, or precision = 'bfloat16' / --precision).",
    reference="NVIDIA Deep Learning Performance Guide, 'Tensor Core Requirements' (channels and "
              "features multiples of 8 for FP16).",
    fix="round the channel count to a multiple of 8 (e.g. 30 -> 32); the first layer's input "
        "channels (RGB) are exempt",
)  # fmt: skip
def tensor_core_channels(ctx: LintContext) -> Iterator[Finding]:
    dtype = ctx.half_precision
    if dtype is None:
        return
    for row in ctx.summary.layers:
        if row.kind not in CONV_KINDS | TRANSPOSED_KINDS | LINEAR_KINDS or row.call_index != 1:
            continue
        module = ctx.module(row)
        if module is None:
            continue
        c_in, c_out, groups = _channels(row.kind, module)
        if groups != 1:
            continue  # grouped and depthwise convolutions do not run on tensor-core GEMMs this way
        reads_input = bool(row.inputs) and row.inputs[0].startswith("input:")
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

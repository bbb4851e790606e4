"""CNN1xx: parameters that do no work -- removed by a norm, never used, or one layer holding most."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from cnninspect.analyses.lint.context import (
    BATCHNORM_KINDS,
    INSTANCENORM_KINDS,
    LINEAR_KINDS,
    PASS_THROUGH,
    WEIGHTED_KINDS,
    LintContext,
    fmt_params,
    fmt_size,
    spatial,
)
from cnninspect.analyses.lint.findings import Finding
from cnninspect.analyses.lint.registry import CALLS, GRAPH, READS, rule
from cnninspect.engine.compat import NormBase


def _removes_bias(ctx: LintContext, producer: str, norm_row) -> bool:
    """Whether ``norm_row`` subtracts a per-channel mean over every position of each channel."""
    if norm_row.kind in BATCHNORM_KINDS or norm_row.kind in INSTANCENORM_KINDS:
        return True
    if norm_row.kind == "GroupNorm":
        norm = ctx.module(norm_row)
        return norm is not None and norm.num_groups == norm.num_channels
    return False


@rule("CNN101", needs=((GRAPH, None),))
def bias_before_norm(ctx: LintContext) -> Iterator[Finding]:
    for row in ctx.summary.layers:
        if row.kind not in WEIGHTED_KINDS:
            continue
        module = ctx.module(row)
        bias = getattr(module, "bias", None)
        if bias is None:
            continue
        norm = ctx.only_consumer(row.name)
        if norm is None or not _removes_bias(ctx, row.name, norm):
            continue
        if row.kind in LINEAR_KINDS and not (
            isinstance(row.output_shape, tuple) and len(row.output_shape) == 2
        ):
            continue  # BatchNorm1d on (N, L, F) normalises L, not the features the bias shifts
        where, norm_at = ctx.where(row), ctx.where(norm)
        yield Finding(
            "CNN101", where,
            f"{where} ({row.kind}) has a bias that {norm_at} ({norm.kind}) subtracts again: "
            f"{bias.numel():,} wasted parameters",
            (row.name, norm.name), {"wasted_params": bias.numel()},
        )  # fmt: skip


@rule("CNN102", needs=((GRAPH, None),))
def dominant_dense_layer(ctx: LintContext) -> Iterator[Finding]:
    total = ctx.summary.total_params
    for row in ctx.summary.layers:
        if row.kind not in LINEAR_KINDS or not total:
            continue
        module = ctx.module(row)
        weight = getattr(module, "weight", None)
        if weight is None or weight.numel() < ctx.options.dominant_share * total:
            continue
        origin, _ = ctx.back_through(row, PASS_THROUGH)
        grid = spatial(origin.output_shape) if origin is not None else None
        if origin is None or grid is None or math.prod(grid) <= 1:
            continue
        assert isinstance(origin.output_shape, tuple)  # spatial() said so
        channels = origin.output_shape[1]
        if channels * math.prod(grid) != module.in_features:
            continue
        pooled = channels * module.out_features
        where = ctx.where(row)
        yield Finding(
            "CNN102", where,
            f"{where} (Linear {module.in_features:,}->{module.out_features:,}) holds "
            f"{fmt_params(weight.numel())} of {fmt_params(total)} parameters "
            f"({100 * weight.numel() / total:.0f} %) reading {ctx.where(origin)}'s "
            f"{channels}x{fmt_size(grid)} map flattened; global average pooling first makes it "
            f"{channels}->{module.out_features}: {fmt_params(pooled)} weights "
            f"({weight.numel() / pooled:.0f}x fewer)",
            (row.name, origin.name),
            {"params": weight.numel(), "share": weight.numel() / total, "pooled_params": pooled},
        )  # fmt: skip


def _attribute_reads(model: nn.Module) -> tuple[set[str], set[int]] | None:
    """What the traced forward reads directly, from the trace the summary just made and
    cached: the attribute names of its ``get_attr`` nodes, and the ids of the tensors it
    holds as constants and of the tensors those are views of (a buffer read outside the
    traced values, as ``self.index.view(-1)``, is kept that way). None
    when the summary did not come from an fx trace."""
    from cnninspect.engine import trace

    hit = trace._CACHE.get(model)
    if hit is None:
        return None
    held = {id(t) for t in hit[3].values()} | {id(t._base) for t in hit[3].values() if t._base is not None}
    return {n.target for n in hit[1] if n.op == "get_attr"}, held


def _called(ctx: LintContext) -> set[str]:
    """Module paths the forward called. An opaque module (fx could not look inside) counts with
    all it holds; the forward-hook fallback (opaque "" : the whole model) records every module's
    calls itself, so there only the rows count."""
    called = {row.module_path for row in ctx.summary.layers if row.module_path is not None}
    return called if ctx.summary.method.startswith("hooks") else called | set(ctx.summary.opaque)


def _under(path: str, roots: set[str]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one of them."""
    if "" in roots:
        return True
    parts = path.split(".")
    return any(".".join(parts[:i]) in roots for i in range(1, len(parts) + 1))


class _Usage:
    """Which parameters, buffers and modules the forward reaches."""

    def __init__(self, ctx: LintContext) -> None:
        self.called = _called(ctx)
        found = _attribute_reads(ctx.model)
        self.reads: set[str] | None = found[0] if found is not None else None
        self.constants: set[int] = found[1] if found is not None else set()
        # parents come before children in the walk: one pass marks every called subtree
        parents, called = ctx.parents, self.called
        whole = "" in called
        inside: dict[str, bool] = {}
        for path, parent in parents.items():
            inside[path] = whole or path in called or (bool(path) and inside[parent])
        self.inside = inside
        owned = ctx.owned_parameters
        used_ids = {id(p) for owner, name, p in owned if inside[owner] or self.read(name, p)}
        seen: set[int] = set()
        self.unused = []
        for _, name, p in owned:
            if id(p) not in used_ids and id(p) not in seen:
                seen.add(id(p))
                self.unused.append((name, p))
        # modules the forward reaches: those called, their ancestors and the owners of used params
        live = called | {owner for owner, _, p in owned if id(p) in used_ids}
        for path in reversed(parents):  # children before parents: one pass up the tree
            if path in live and path:
                live.add(parents[path])
        self.live = live
        self._holds: dict[int, bool] = {}

    def holds_parameters(self, module: nn.Module) -> bool:
        """Whether ``module`` or anything below it (shared children included) has a parameter:
        what ``module.parameters()`` would yield, without its generators, memoised per module."""
        known = self._holds.get(id(module))
        if known is None:
            self._holds[id(module)] = False  # a module that holds itself is not walked twice
            known = any(p is not None for p in module._parameters.values()) or any(
                self.holds_parameters(c) for c in module._modules.values() if c is not None
            )
            self._holds[id(module)] = known
        return known

    def read(self, name: str, value: torch.Tensor) -> bool:
        """Whether the trace reads tensor ``name`` by attribute or holds it (or what it views)."""
        return self.reads is not None and (name in self.reads or id(value) in self.constants)


def usage(ctx: LintContext) -> _Usage:
    """The usage of ``ctx``'s model, worked out once for the rules that read it."""
    if "usage" not in ctx.cache:
        ctx.cache["usage"] = _Usage(ctx)
    return ctx.cache["usage"]


@rule("CNN103", needs=((CALLS, None), (READS, "parameters read outside any called module")))
def unused_parameters(ctx: LintContext) -> Iterator[Finding]:
    if ctx.unmet["calls"]:
        return  # the report lists the rule as not checked
    used = usage(ctx)
    mode = "train" if ctx.model.training else "eval"
    reported: list[str] = []
    reported_set: set[str] = set()
    for path, module in ctx.modules.items():
        if not path or path in used.live or not used.holds_parameters(module) or _under(path, reported_set):
            continue
        count = sum(p.numel() for p in module.parameters())
        if count == 0:
            continue  # a module without parameters may be traced through: no row shows its calls
        reported.append(path)
        reported_set.add(path)
        yield Finding(
            "CNN103", path,
            f"{path} ({type(module).__name__}, {count:,} parameters) is never called by forward "
            f"in {mode} mode",
            (), {"params": count, "mode": mode},
        )  # fmt: skip
    if used.reads is None:
        return  # loose parameters read by attribute are only known from an fx trace
    for name, p in used.unused:
        if _under(name.rpartition(".")[0], reported_set):
            continue
        yield Finding(
            "CNN103", name,
            f"parameter {name} ({fmt_size(p.shape)}, {p.numel():,} values) is never read by forward "
            f"in {mode} mode",
            (), {"params": p.numel(), "mode": mode},
        )  # fmt: skip


@rule("CNN104", needs=((READS, "buffers the forward never reads"),))
def stale_buffer(ctx: LintContext) -> Iterator[Finding]:
    yield from _untrained_statistics(ctx)
    used = usage(ctx)
    if used.reads is None:
        return
    for owner, name, buf in ctx.owned_buffers:
        if owner not in used.live:
            continue  # inside a module never called: CNN103 reports the module
        if used.inside[owner] or used.read(name, buf):
            continue
        if name.endswith("num_batches_tracked") and isinstance(ctx.modules.get(owner), NormBase):
            continue  # read only by a training forward with momentum=None: bookkeeping, not state
        yield Finding(
            "CNN104", name,
            f"buffer {name} ({fmt_size(buf.shape) or 'scalar'}) is never read by forward",
            (), {"numel": buf.numel()},
        )  # fmt: skip


def _untrained_statistics(ctx: LintContext) -> Iterator[Finding]:
    rows, tensors = [], []
    for row in ctx.summary.layers:
        if row.kind not in BATCHNORM_KINDS or row.call_index != 1:
            continue
        bn = ctx.module(row)
        if bn is None or bn.training or not bn.affine:
            continue
        mean, weight = bn.running_mean, bn.weight
        if mean is not None and not weight.is_meta and not mean.is_meta:
            rows.append(row)
            tensors.append((weight, bn.bias, mean, bn.running_var))
    if not rows:
        return
    # only a norm whose weights moved can have statistics left behind: the statistics of the
    # others (every norm of a fresh model) are not read at all
    moved = [i for i, differs in enumerate(_any_differs([t[:2] for t in tensors], (1, 0))) if differs]
    changed = _any_differs([tensors[i][2:] for i in moved], (0, 1)) if moved else []
    for i, is_changed in zip(moved, changed):
        if not is_changed:
            row = rows[i]
            where = ctx.where(row)
            yield Finding(
                "CNN104", where,
                f"{where} ({row.kind}) is in eval mode with trained weights but running statistics "
                "still at their initial mean 0 / variance 1",
                (row.name,), {},
            )  # fmt: skip


def _any_differs(groups: list[tuple[torch.Tensor, ...]], initial: tuple[float, ...]) -> list[bool]:
    """Per group (one norm's tensors), whether its k-th tensor differs from ``initial[k]`` anywhere.

    NumPy over one concatenation per k when every tensor is a 1-D CPU float (no torch op per
    norm, no thread pool to wake on a busy machine); torch per tensor otherwise (bfloat16, GPU).
    """
    flat = [t for group in groups for t in group]
    if all(t.is_cpu and t.ndim == 1 and t.dtype in _NUMPY_FLOATS for t in flat):
        differs = np.zeros(len(groups), dtype=bool)
        with torch.no_grad():
            for k, value in enumerate(initial):
                column = [group[k] for group in groups]
                starts = np.cumsum([0] + [t.numel() for t in column][:-1])
                differs |= np.logical_or.reduceat(torch.cat(column).numpy() != value, starts)
        return differs.tolist()
    return [any(bool((t != value).any()) for t, value in zip(group, initial)) for group in groups]


_NUMPY_FLOATS = (torch.float32, torch.float64, torch.float16)

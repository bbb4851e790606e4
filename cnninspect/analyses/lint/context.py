"""What every rule reads: the summary's rows as a graph, the model's modules and the options.

Built once per lint from one summary (no second trace): rows by name, who consumes
each row, and the module behind each module row.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch
from torch import nn

from cnninspect.engine.records import Layer, Summary

CONV_KINDS = frozenset({"Conv1d", "Conv2d", "Conv3d"})
TRANSPOSED_KINDS = frozenset({"ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"})
LINEAR_KINDS = frozenset({"Linear"})
BATCHNORM_KINDS = frozenset({"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"})
INSTANCENORM_KINDS = frozenset({"InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"})
DROPOUT_KINDS = frozenset({"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "dropout"})
# layers with a weight that maps channels (or features); a set made once, not per row
WEIGHTED_KINDS = CONV_KINDS | TRANSPOSED_KINDS | LINEAR_KINDS
# ops that pass values through unchanged (no arithmetic, no geometry): chains may cross them
PASS_THROUGH = frozenset(
    {"Identity", "Flatten", "flatten", "view", "reshape", "contiguous", "clone", "squeeze", "unsqueeze"}
    | DROPOUT_KINDS
)
HALF_DTYPES = {"float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
               "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}  # fmt: skip


@dataclass(frozen=True)
class LintOptions:
    """Settings some rules read.

    ``object_size``: the smallest object the model must see whole (pixels per spatial
    axis, or one int for all); the receptive-field rule compares with the input size
    when it is None. ``precision``: the dtype the model will run in (``bfloat16``,
    ``float16``); None reads the model's own parameter dtype. ``dominant_share``: the
    share of all parameters above which one dense layer is reported.
    """

    object_size: tuple[int, ...] | int | None = None
    precision: str | None = None
    dominant_share: float = 0.5


class LintContext:
    """The summary as a graph of rows, with the modules behind them."""

    def __init__(self, summary: Summary, model: nn.Module, options: LintOptions) -> None:
        self.summary = summary
        self.model = model
        self.options = options
        self.cache: dict[str, Any] = {}  # what several rules of one family share
        self.rows: dict[str, Layer] = {row.name: row for row in summary.layers}
        self.consumers: dict[str, list[str]] = {}
        for row in summary.layers if self.has_graph else ():
            for source in row.inputs:
                self.consumers.setdefault(source, []).append(row.name)

    @cached_property
    def has_graph(self) -> bool:
        """Whether rows name their real inputs (fx or TorchScript); the forward-hook fallback
        records calls in order only, so rules that follow edges stay silent on it."""
        return self.summary.method.startswith(("fx", "torchscript"))

    @cached_property
    def unmet(self) -> dict[str, str | None]:
        """Per requirement a rule may name (lint.registry: graph, fields, calls, reads), None
        when this summary meets it, else why not: what the report prints as not checked."""
        method = self.summary.method
        hooks = method.startswith("hooks")
        how = f"the summary came from {'forward hooks' if hooks else method} ({method})"
        return {
            "graph": None if self.has_graph else f"{how}, which record calls in order, not which layer feeds which",
            "fields": None if self.rf is not None else "the summary has no receptive fields",
            "calls": None if method.startswith(("fx", "hooks")) else f"{how}, whose rows are ops, not module calls",
            "reads": None if method.startswith("fx") else f"{how}; only an fx trace records attribute reads",
            "known": self._unknown_fields(),
            "half-graph": None if self.has_graph or self.half_precision is None
            else f"{how}, which do not say which layer reads the model's input",
        }  # fmt: skip

    def _unknown_fields(self) -> str | None:
        unknown = [f for f in self.rf.fields.values() if f.unknown] if self.rf is not None else []
        if not unknown:
            return None
        first = unknown[0]
        return f"the receptive field of {len(unknown)} rows is unknown (first {first.name}: {first.why})"

    @cached_property
    def modules(self) -> dict[str, nn.Module]:
        """``dict(model.named_modules())`` (parents first, each module once), walked without
        named_modules' nested generators, which cost more than the rules on a deep model."""
        return self._walk[0]

    @cached_property
    def parents(self) -> dict[str, str]:
        """Each module path's parent path (the root's is itself), from the same walk."""
        return self._walk[1]

    @cached_property
    def _walk(self) -> tuple[dict[str, nn.Module], dict[str, str]]:
        """Pre-order, first visit wins (named_modules' order); a stack of child iterators, so
        neither deep nesting nor a list per module costs anything."""
        found: dict[str, nn.Module] = {"": self.model}
        parents: dict[str, str] = {"": ""}
        seen = {id(self.model)}
        stack = [("", iter(self.model._modules.items()), "")]
        while stack:
            path, children, prefix = stack[-1]
            for name, child in children:
                if child is None or id(child) in seen:
                    continue
                seen.add(id(child))
                at = prefix + name
                found[at], parents[at] = child, path
                if child._modules:
                    stack.append((at, iter(child._modules.items()), at + "."))
                    break
            else:
                stack.pop()
        return found, parents

    @cached_property
    def parameters(self) -> list[tuple[str, nn.Parameter]]:
        """Every (name, parameter), shared ones under each name, from one walk of the modules."""
        return [(name, t) for _, name, t in self.owned_parameters]

    @cached_property
    def owned_parameters(self) -> list[tuple[str, str, nn.Parameter]]:
        """(owner module path, full name, parameter) for every entry of :attr:`parameters`."""
        return self._owned("_parameters")

    @cached_property
    def buffers(self) -> list[tuple[str, torch.Tensor]]:
        """Every (name, buffer), like :attr:`parameters`."""
        return [(name, t) for _, name, t in self.owned_buffers]

    @cached_property
    def owned_buffers(self) -> list[tuple[str, str, torch.Tensor]]:
        """(owner module path, full name, buffer) for every entry of :attr:`buffers`."""
        return self._owned("_buffers")

    def _owned(self, slot: str) -> list[tuple[str, str, Any]]:
        """(owner, full name, tensor) for each entry of every module's ``_parameters`` or ``_buffers``."""
        return [
            (path, f"{path}.{n}" if path else n, t)
            for path, m in self.modules.items()
            for n, t in getattr(m, slot).items()
            if t is not None
        ]

    @property
    def rf(self) -> Any:
        return self.summary.receptive_field

    def module(self, row: Layer) -> Any:
        """The module a row calls (Any: rules read its layer-specific attributes); None for ops."""
        return None if row.module_path is None else self.modules.get(row.module_path)

    def where(self, row: Layer) -> str:
        """The name a finding uses for a row: its module path, or its op name."""
        return row.module_path if row.module_path is not None else row.name

    def source(self, row: Layer) -> Layer | None:
        """The one row feeding ``row``; None for the model input or several inputs."""
        if len(row.inputs) != 1 or not self.has_graph:
            return None
        return self.rows.get(row.inputs[0])

    def only_consumer(self, name: str) -> Layer | None:
        """The one row reading ``name``'s output; None if several do (or it is the output)."""
        readers = self.consumers.get(name, [])
        if len(readers) != 1 or name in self.outputs:
            return None
        return self.rows[readers[0]]

    @cached_property
    def outputs(self) -> set[str]:
        """The model's outputs: rows nothing reads whose shape is one the model returns (a row
        nothing reads with another shape is dead computation, such as an unused split)."""
        if not self.has_graph:
            return set()
        shapes = {tuple(s) for s in self.summary.output_shapes}
        return {
            row.name for row in self.summary.layers
            if row.name not in self.consumers and isinstance(row.output_shape, tuple) and row.output_shape in shapes
        }  # fmt: skip

    def back_through(self, row: Layer, passable: frozenset[str]) -> tuple[Layer | None, list[Layer]]:
        """Walk up from ``row``'s input across single-input, single-consumer rows of ``passable`` kinds.

        Returns the first row that is not passable (None at the model input or a merge)
        and the rows crossed, nearest first.
        """
        crossed: list[Layer] = []
        current = self.source(row)
        while current is not None and current.kind in passable:
            if len(self.consumers.get(current.name, [])) != 1:
                return None, crossed
            crossed.append(current)
            current = self.source(current)
        return current, crossed

    def field(self, name: str) -> Any:
        """The receptive field of a row or of ``input:x`` (size 1, jump 1, start 0)."""
        report = self.rf
        if report is None:
            return None
        if name.startswith("input:"):
            n = len(report.input_size)
            return _InputField((1,) * n, (1,) * n, (0,) * n)
        return report.fields.get(name)

    @cached_property
    def half_precision(self) -> torch.dtype | None:
        """The fp16/bf16 dtype the model runs in, from the options or its parameters."""
        if self.options.precision is not None:
            return HALF_DTYPES.get(self.options.precision.lower())
        for _, p in self.parameters[:1]:  # model.parameters()'s first, from the walk already made
            return p.dtype if p.dtype in (torch.float16, torch.bfloat16) else None
        return None


@dataclass(frozen=True)
class _InputField:
    size: tuple[int, ...]
    jump: tuple[int, ...]
    start: tuple[int, ...]
    is_global: bool = False
    unknown: bool = False


def spatial(shape: Any) -> tuple[int, ...] | None:
    """The spatial sizes of an (N, C, *spatial) output; None for anything else."""
    if isinstance(shape, tuple) and len(shape) >= 3 and all(isinstance(d, int) for d in shape):
        return shape[2:]
    return None


def fmt_params(n: int) -> str:
    """A parameter count as people read it: 1,792 / 2.36 M."""
    return f"{n / 1e6:.2f} M" if n >= 1_000_000 else f"{n:,}"


def fmt_size(values: Any) -> str:
    return "x".join(str(v) for v in values)

"""torchinfo's ``summary_list`` rebuilt from a cnninspect summary (or from the module tree).

torchinfo lists module calls only, with the containers they sit in; cnninspect's rows
also hold functional ops. Here every module call becomes a :class:`LayerRow` under its
containers, and each row's mult-adds include the functional ops inside its module,
so nothing cnninspect counted is lost from a container's figure or from the total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.parameter import is_lazy

from cnninspect.engine.module_tree import module_tree
from cnninspect.engine.records import Layer, Summary


@dataclass(eq=False)
class LayerRow:
    """One row of the torchinfo-style table: torchinfo's ``LayerInfo`` attributes, our figures."""

    module: nn.Module
    class_name: str
    var_name: str
    depth: int
    path: str  # the module's path in the model ('' for the root)
    is_leaf_layer: bool  # a module call that cnninspect summarised as one row
    is_recursive: bool = False  # this module object already has a row above
    num_params: int = 0  # every parameter of the module, each once (lazy ones excluded)
    trainable_params: int = 0
    param_bytes: int = 0
    input_size: list[Any] = field(default_factory=list)
    output_size: list[Any] = field(default_factory=list)
    output_bytes: int = 0
    macs: int = 0  # this call's multiply-accumulates; a container's include its children's
    flops: int = 0
    kernel_size: int | list[int] | None = None
    executed: bool = False
    depth_index: int | None = None
    parent_info: LayerRow | None = None
    children: list[LayerRow] = field(default_factory=list)
    layer: Layer | None = None  # the cnninspect row behind a leaf, for everything else it knows

    @property
    def layer_id(self) -> int:
        return id(self.module)

    @property
    def trainable(self) -> str:
        """'True', 'False', 'Partial', or '--' for a row without parameters (torchinfo's words)."""
        if self.num_params == 0:
            return "--"
        if self.trainable_params == 0:
            return "False"
        return "True" if self.trainable_params == self.num_params else "Partial"

    @property
    def inner_layers(self) -> dict[str, tuple[list[int], int]]:
        """The module's own tensors (``verbose=2``): name -> (shape, count)."""
        return {
            name: (list(p.shape), p.numel())
            for name, p in self.module.named_parameters()
            if not is_lazy(p) and (self.depth > 0 or "." not in name)
        }

    def get_layer_name(self, show_var_name: bool, show_depth: bool) -> str:
        name = self.class_name
        if show_var_name and self.var_name:
            name += f" ({self.var_name})"
        if show_depth and self.depth > 0:
            name += f": {self.depth}" + (f"-{self.depth_index}" if self.depth_index else "")
        return name

    def leftover_params(self) -> int:
        """Parameters of this module that no child row counts (a container's own tensors)."""
        return self.num_params - sum(
            c.num_params if c.is_leaf_layer else c.leftover_params()
            for c in self.children
            if not c.is_recursive
        )

    def num_params_to_str(self, reached_max_depth: bool) -> str:
        if self.num_params == 0:
            return "--"
        if self.is_recursive:
            return "(recursive)"
        if reached_max_depth or self.is_leaf_layer:
            text = f"{self.num_params:,}"
            return text if self.trainable_params else f"({text})"
        left = self.leftover_params()
        return f"{left:,}" if left > 0 else "--"

    def params_percent(self, total_params: int, reached_max_depth: bool) -> str:
        if self.is_recursive and self.num_params:
            return "(recursive)"
        shown = (
            self.num_params if reached_max_depth or self.is_leaf_layer else self.leftover_params()
        )
        if not total_params or shown <= 0:
            return "--"
        return f"{shown / total_params:.2%}"

    def macs_to_str(self, reached_max_depth: bool) -> str:
        if self.macs <= 0 or not (self.is_leaf_layer or reached_max_depth):
            return "--"
        return f"{self.macs:,}"

    def __repr__(self) -> str:
        return f"{self.class_name}: {self.depth}"


def rows_from_tree(model: nn.Module) -> list[LayerRow]:
    """The rows of a summary without input: the module tree, parameters per module."""
    rows = [
        LayerRow(
            module=t.module,
            class_name=t.kind,
            var_name=t.name,
            depth=t.depth,
            path=t.path,
            is_leaf_layer=t.is_leaf,
            is_recursive=t.repeated,
            num_params=t.num_params,
            trainable_params=t.trainable_params,
            param_bytes=t.param_bytes,
            kernel_size=kernel_of(t.module),
        )
        for t in module_tree(model)
    ]
    link(rows)
    return rows


def rows_from_summary(model: nn.Module, summary: Summary, element_size: int) -> list[LayerRow]:
    """The module calls of ``summary`` under their containers, the root first at depth 0."""
    modules = dict(model.named_modules())
    macs, flops = _cost_under(summary.layers)
    seen: set[int] = set()
    totals = _param_totals(model)
    root = _module_row(model, type(model).__name__, "", 0, (False, seen, totals))
    root.macs, root.flops = summary.total_macs, summary.total_flops
    root.input_size = list(summary.input_shapes[0]) if summary.input_shapes else []
    root.output_size = _first(summary.output_shapes)
    rows, open_rows = [root], [root]
    for layer in summary.layers:
        path = layer.module_path
        if not layer.is_module_call or path is None or path not in modules:
            continue
        while len(open_rows) > 1 and not path.startswith(open_rows[-1].path + "."):
            open_rows.pop()
        for ancestor in _ancestors(path)[len(open_rows) - 1 :]:
            row = _module_row(
                modules[ancestor],
                ancestor.rsplit(".", 1)[-1],
                ancestor,
                len(open_rows),
                (False, seen, totals),
            )
            row.macs, row.flops = macs.get(ancestor, 0), flops.get(ancestor, 0)
            rows.append(row)
            open_rows.append(row)
        walk = (True, seen, totals)
        row = _module_row(modules[path], path.rsplit(".", 1)[-1], path, len(open_rows), walk)
        _fill_leaf(row, layer, element_size)
        rows.append(row)
    link(rows)
    for row in rows:
        if not row.is_leaf_layer and row.children:
            first = next((c for c in row.children if c.input_size), None)
            row.input_size = row.input_size or (first.input_size if first else [])
            row.output_size = row.output_size or row.children[-1].output_size
    return rows


def _param_totals(root: nn.Module) -> dict[int, tuple[int, int, int]]:
    """Every module's ``parameters()`` (its own and its children's, each once) as (count,
    trainable, bytes), lazy ones left out: one walk instead of one per row."""
    out: dict[int, tuple[int, int, int]] = {}

    def visit(module: nn.Module) -> dict[int, nn.Parameter]:
        found: dict[int, nn.Parameter] = {}
        for child in module._modules.values():
            if child is not None:
                found.update(visit(child))
        found.update((id(p), p) for p in module._parameters.values() if p is not None)
        if id(module) not in out:
            sized = [(p.numel(), p) for p in found.values() if not is_lazy(p)]
            out[id(module)] = (
                sum(n for n, _ in sized),
                sum(n for n, p in sized if p.requires_grad),
                sum(n * p.element_size() for n, p in sized),
            )
        return found

    visit(root)
    return out


def _module_row(
    module: nn.Module,
    name: str,
    path: str,
    depth: int,
    walk: tuple[bool, set[int], dict[int, tuple[int, int, int]]],  # (leaf, seen, totals)
) -> LayerRow:
    leaf, seen, totals = walk
    repeated = id(module) in seen
    seen.add(id(module))
    num, trainable, size = totals[id(module)]
    kind = (
        getattr(module, "original_name", None)
        if isinstance(module, torch.jit.ScriptModule)
        else None
    )
    return LayerRow(
        module=module,
        class_name=kind or type(module).__name__,
        var_name=name,
        depth=depth,
        path=path,
        is_leaf_layer=leaf,
        is_recursive=repeated,
        num_params=num,
        trainable_params=trainable,
        param_bytes=size,
        kernel_size=kernel_of(module),
        executed=True,
    )


def _fill_leaf(row: LayerRow, layer: Layer, element_size: int) -> None:
    row.layer = layer
    row.macs, row.flops = layer.macs, layer.flops
    row.output_size = _first(layer.output_shape)
    row.output_bytes = element_size * sum(math.prod(s) for s in all_shapes(layer.output_shape))
    row.input_size = list(layer.input_shapes[0]) if layer.input_shapes else []  # the engine's


def _cost_under(layers: list[Layer]) -> tuple[dict[str, int], dict[str, int]]:
    """MACs and FLOPs of every row (functional ops included) summed into each container path."""
    macs: dict[str, int] = {}
    flops: dict[str, int] = {}
    for layer in layers:
        for ancestor in _ancestors(layer.path):
            macs[ancestor] = macs.get(ancestor, 0) + layer.macs
            flops[ancestor] = flops.get(ancestor, 0) + layer.flops
    return macs, flops


def _ancestors(path: str) -> list[str]:
    """'a.b.c' -> ['a', 'a.b']: the containers above a module path."""
    parts = path.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def link(rows: list[LayerRow]) -> None:
    """Set each row's children, parent and depth index (its number among rows at its depth)."""
    counters: dict[int, int] = {}
    parents: list[LayerRow] = []
    for row in rows:
        counters[row.depth] = counters.get(row.depth, 0) + 1
        row.depth_index = counters[row.depth]
        while parents and parents[-1].depth >= row.depth:
            parents.pop()
        row.parent_info = parents[-1] if parents else None
        row.children = []
        if parents:
            parents[-1].children.append(row)
        parents.append(row)


def kernel_of(module: nn.Module) -> int | list[int] | None:
    """``module.kernel_size`` as torchinfo shows it: an int, a list, or None (also a 0-d tensor)."""
    script = isinstance(module, torch.jit.ScriptModule)  # keeps attributes in its C++ object
    k = getattr(module, "kernel_size", None) if script else module.__dict__.get("kernel_size")
    if isinstance(k, torch.Tensor):
        return int(k) if k.dim() == 0 else [int(v) for v in k.flatten()]
    if isinstance(k, (tuple, list)):
        return [int(v) for v in k]
    return int(k) if isinstance(k, int) else None


def _first(shape: Any) -> list[int]:
    shapes = all_shapes(shape)
    return list(shapes[0]) if shapes else []


def all_shapes(shape: Any) -> list[tuple[int, ...]]:
    """A layer's output shape as a list of shapes, whether it returned one tensor or several."""
    if shape is None:
        return []
    if isinstance(shape, list) and all(isinstance(s, (tuple, list)) for s in shape):
        return [tuple(s) for s in shape]
    return [tuple(shape)]

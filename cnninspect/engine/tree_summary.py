"""A summary without an input: the module tree, parameters per module, shapes and cost unknown.

:func:`~cnninspect.engine.summary.summarize` needs an input, and says so when none is
given, since a table without shapes is not what a forgotten input should produce. For a
model whose input is not known yet (an ``EmptyModule``, a bare ``ModuleList``), ask for
the tree explicitly: :func:`summarize_tree` returns a :class:`TreeSummary`, which every
renderer prints and exports, and which says that its shapes and MACs are unknown rather
than showing 0 for them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn
from torch.nn.parameter import is_lazy

from cnninspect.engine.module_tree import TreeRow, module_tree, tree_totals
from cnninspect.engine.records import Layer, Shape, Summary
from cnninspect.engine.summary import geometry, kind_name, unwrap
from cnninspect.errors import InputShapeError, ModelError

METHOD = "module tree (no input)"
NO_INPUT = "no input given, so no forward was traced: shapes, MACs and FLOPs are unknown"
_HINT = "summarise with an input, e.g. summarize(model, (1, 3, 224, 224))"


class TreeSummary(Summary):
    """A :class:`~cnninspect.engine.records.Summary` made without an input.

    Its rows are the modules (and a container's own parameters); ``output_shape`` is
    None and ``macs``/``flops`` are 0 on every row because nothing was traced, which
    ``macs_complete`` (False) and the renderers ("unknown", JSON null) say.
    """

    traced: ClassVar[bool] = False

    @property
    def macs_incomplete_reasons(self) -> list[str]:
        return [NO_INPUT]

    @property
    def input_shape(self) -> Shape:
        raise InputShapeError(f"a module-tree summary has no input shape; {_HINT}")

    def memory(self, *args: Any, **kwargs: Any) -> Any:
        raise InputShapeError(f"memory needs an input, and this module-tree summary has none; {_HINT}")


def summarize_tree(model: nn.Module) -> TreeSummary:
    """The module tree of ``model`` as a summary, for when no input is known.

    Every parameter counts once, in the first row that holds it, so the rows add up to
    ``total_params`` (``sum(p.numel() for p in model.parameters())``); a module placed
    twice has a row at each place, the second with 0 and a note. Uninitialised (lazy)
    parameters are not counted, and a warning names them.
    """
    if not isinstance(model, nn.Module):
        raise ModelError(f"summarize_tree() needs a torch.nn.Module, got {type(model).__name__}")
    notes: list[str] = []
    model = unwrap(model, notes)
    seen: set[int] = set()
    layers: list[Layer] = []
    for row in module_tree(model):
        layers += _rows(row, seen)
    totals = tree_totals(model)
    if totals.lazy_params:
        notes.append(f"uninitialised (lazy) parameters not counted: {', '.join(totals.lazy_params)}")
    buffers = {id(b): b for b in model.buffers() if not is_lazy(b)}
    return TreeSummary(
        model_name=type(model).__name__,
        input_shapes=[],
        output_shapes=[],
        layers=layers,
        total_params=totals.total_params,
        trainable_params=totals.trainable_params,
        param_bytes=totals.param_bytes,
        total_buffers=sum(b.numel() for b in buffers.values()),
        buffer_bytes=totals.buffer_bytes,
        method=METHOD,
        warnings=[NO_INPUT, *notes],
        module_kinds={name: kind_name(m) for name, m in model.named_modules() if name},
    )


def _rows(row: TreeRow, seen: set[int]) -> list[Layer]:
    """A leaf module's row, or one row per parameter a container holds itself."""
    if row.repeated:
        if not row.is_leaf:
            return []  # its children are listed again below it, each a repeat
        layer = _layer(row.path, row.kind, 0, 0, module_path=row.path)
        layer.notes.append("the same module object as an earlier row: its parameters count there")
        return [layer]
    own = [(n, p) for n, p in row.module._parameters.items() if p is not None and not is_lazy(p)]
    fresh = [(n, p) for n, p in own if id(p) not in seen]
    seen.update(id(p) for _, p in own)
    if row.is_leaf:
        num = sum(p.numel() for _, p in fresh)
        trainable = sum(p.numel() for _, p in fresh if p.requires_grad)
        layer = _layer(row.path or row.kind, row.kind, num, trainable, module_path=row.path)
        layer.__dict__.update(geometry(row.module))
        return [layer]
    prefix = f"{row.path}." if row.path else ""
    return [
        _layer(prefix + n, "Parameter", p.numel(), p.numel() if p.requires_grad else 0, parent=row.path)
        for n, p in fresh
    ]


def _layer(name: str, kind: str, num: int, trainable: int, **where: Any) -> Layer:
    path = where.get("module_path")
    if path is not None:  # a module: its place in the tree
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        depth, op = (path.count(".") + 1 if path else 1), "call_module"
    else:  # a container's own parameter, one level below the container
        parent = where["parent"]
        depth, op = (parent.count(".") + 2 if parent else 1), "get_attr"
    return Layer(
        name=name,
        kind=kind,
        output_shape=None,
        num_params=num,
        trainable_params=trainable,
        parent=parent,
        depth=depth,
        op=op,
        module_path=path,
    )

"""Layer 3: the summary analysis -- trace, propagate, then count parameters and cost per row."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from cnninspect.engine.compat import tree_flatten
from cnninspect.engine.gcpause import collection_paused
from cnninspect.engine.guard import ModelGuard
from cnninspect.engine.hookpass import needs_real_values
from cnninspect.engine.inputs import (
    Inputs,
    InputSpec,
    check_arity,
    check_device,
    choose_input,
    concrete_defaults,
)
from cnninspect.engine.inventory import Inventory, inventory
from cnninspect.engine.lazy import has_lazy, materialised
from cnninspect.engine.modes import in_mode
from cnninspect.engine.ops.catalogue import price
from cnninspect.engine.ops.macs import Cost, is_container_constructor
from cnninspect.engine.propagate import NodeFailure, NodeRecord, propagate
from cnninspect.engine.receptive import attach
from cnninspect.engine.records import Layer, Summary
from cnninspect.engine.returned import returned_params
from cnninspect.engine.trace import UntraceableError, structure_key, trace
from cnninspect.errors import CnnInspectError, InputShapeError, ModelError

_GEOMETRY = ("kernel_size", "stride", "padding", "dilation", "groups")


def summarize(
    model: nn.Module,
    input_shape: Any = None,
    *,
    input_data: Any = None,
    dtype: torch.dtype | list[torch.dtype] | None = None,
    device: str | torch.device | None = None,
    batch_dim: int | None = None,
    forward_kwargs: Mapping[str, Any] | None = None,
    mode: str = "same",
    receptive_field: bool = True,
    debug: bool = False,
) -> Summary:
    """Summarise ``model`` for an input of ``input_shape`` without running its arithmetic.

    ``input_shape`` is one shape or a list of shapes (one per positional input),
    shape text such as ``"1,3,32,32;1,10"`` or an :class:`~cnninspect.engine.inputs.InputSpec`;
    ``input_data`` takes real tensors, a tuple of them or a dict of keyword inputs
    instead; given neither, the model's ``default_input_shape`` (without any input,
    :func:`~cnninspect.engine.tree_summary.summarize_tree` lists the module tree).
    ``batch_dim`` inserts a batch of 1 at that dimension of every shape, for shapes
    written without their batch. ``forward_kwargs`` are more keyword arguments of
    ``forward`` (tensors or any values) beside ``input_shape`` or ``input_data``.
    ``mode`` is ``"same"`` (the modes the model is in), ``"eval"`` or ``"train"``:
    the trace sees that mode (Dropout, BatchNorm, branches on ``self.training``), and
    every module's own mode is restored afterwards. ``device`` is used only by the
    hook fallback, if a model's forward needs real values. With ``debug=True`` the
    torch/fx error stays attached and is raised as-is rather than as a one-line
    cnninspect error. A later summary of the same model reuses its fx trace while its
    module tree, train/eval modes and module settings are unchanged.
    """
    if not isinstance(model, nn.Module):
        raise ModelError(
            f"summarize() needs a torch.nn.Module, got {type(model).__name__}; "
            "pass the model instance, e.g. summarize(MyNet(), (1, 3, 32, 32))"
        )
    given = InputSpec.of(
        input_shape, input_data, dtype, batch_dim=batch_dim, forward_kwargs=forward_kwargs
    )
    with collection_paused(), in_mode(model, mode):  # gcpause: see its module for what it earns
        return _summarize(model, given, device, receptive_field, debug)


def _summarize(model, given, device, receptive_field, debug) -> Summary:
    guard = None
    try:
        device = check_device(device)
        tree = inventory(model)
        guard = ModelGuard(model, tree)
        wrappers: list[str] = []
        inner = unwrap(model, wrappers)
        if inner is not model:
            model, tree = inner, inventory(inner)
        spec = choose_input(model, given)
        if has_lazy(tree):  # shaped on a meta copy: the guard keeps watch over the original
            model = materialised(model, spec, wrappers)
            tree = inventory(model)
        records, output, method, warnings, opaque, inputs = _records(model, tree, spec, device)
        warnings[:0] = wrappers
        summary, rows = _assemble(model, tree, records, output, method, warnings, opaque, inputs.shapes)
        summary.source = (model, spec)
        summary.mode = traced_mode(tree)
        if receptive_field:
            attach(summary, rows, inputs.shapes)
        return summary
    except CnnInspectError as exc:
        if debug and exc.__cause__ is not None:
            raise exc.__cause__  # noqa: B904 -- debug wants the original error as is
        raise exc.with_traceback(None) from (exc.__cause__ if debug else None)
    finally:
        if guard is not None:
            guard.restore()


def traced_mode(tree: Inventory) -> str:
    """The modes the trace saw (``in_mode`` has set them): a Summary says which it describes."""
    flags = {module.training for _, module in tree.modules}
    return "mixed" if len(flags) > 1 else "train" if True in flags else "eval"


def unwrap(model: nn.Module, notes: list[str]) -> nn.Module:
    """Look through wrappers that add no layers: DataParallel, DDP and torch.compile.

    Their parameters are the wrapped model's own, so the summary is the same; the
    wrapper's forward (device scatter, dynamo) is machinery, not architecture.
    """
    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            notes.append(f"summarised the module inside {type(model).__name__} (.module)")
            model = model.module
        elif type(model).__name__ == "OptimizedModule" and isinstance(
            original := getattr(model, "_orig_mod", None), nn.Module
        ):
            notes.append("summarised the original module of a torch.compile'd model (._orig_mod)")
            model = original
        else:
            return model


def _records(
    model: nn.Module, tree: Inventory, spec: InputSpec, device: str | torch.device | None
) -> tuple[list[NodeRecord], Any, str, list[str], dict[str, str], Inputs]:
    """The rows by the first pass that can produce them: TorchScript, fx, else forward hooks."""
    inputs = spec.build()
    check_arity(model, len(inputs.args), inputs.kwargs)
    warnings: list[str] = []
    device = device if device is not None else tree.device
    if isinstance(model, torch.jit.ScriptModule):
        from cnninspect.engine.scriptpass import script_records

        try:
            records, output = script_records(model, inputs.args)
        except NodeFailure as failure:
            raise _user_error(failure) from failure.error
        warnings.append("a TorchScript module: rows come from its inlined graph, one per aten op")
        return records, output, "torchscript", warnings, {}, inputs
    try:
        concrete = concrete_defaults(model, len(inputs.args), inputs.kwargs) or None
        tr = trace(model, concrete_args=concrete, key=structure_key(tree, concrete))
    except UntraceableError as exc:
        from cnninspect.engine.hookpass import hook_records

        warnings.append(f"fx could not trace the top-level forward ({exc}); used forward hooks")
        records, output, method = hook_records(model, inputs, device, warnings)
        return records, output, method, warnings, {"": str(exc)}, inputs
    for path, why in tr.opaque.items():
        warnings.append(f"opaque module {path!r}: fx cannot trace it ({why}); shown as one row")
    try:
        records, output = propagate(tr, inputs.args, inputs.kwargs)
        records += returned_params(tr, records)  # `return self.weight` is a use of it
    except NodeFailure as failure:
        if not needs_real_values(failure.error):
            raise _user_error(failure) from failure.error
        from cnninspect.engine.hookpass import hook_records

        warnings.append(
            f"op {failure.node_name!r} ({failure.kind}) needs real values on the meta device "
            f"({_first_line(failure.error)}); used forward hooks"
        )
        records, output, method = hook_records(model, inputs, device, warnings)
        return records, output, method, warnings, dict(tr.opaque), inputs
    method = "fx" if not tr.opaque else "fx (with opaque modules)"
    return records, output, method, warnings, dict(tr.opaque), inputs


def _user_error(failure: NodeFailure) -> CnnInspectError:
    error = failure.error
    where = failure.module_path or failure.node_name
    if failure.is_user_module:
        return ModelError(
            f"module {where!r} ({failure.kind}) raised {type(error).__name__}: {_first_line(error)}"
        )
    shapes = ", ".join("x".join(map(str, s)) for s in failure.input_shapes)
    return InputShapeError(
        f"layer {where!r} ({failure.kind}) cannot take its input"
        f"{' of shape ' + shapes if shapes else ''}: {_first_line(error)}"
    )


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    # messages formatted while tracing show fx proxies; they mean "a traced value"
    return re.sub(r"Proxy\((\w+)\)", "<traced>", lines[0]) if lines else type(exc).__name__


def _shapes_of(value: Any) -> list[tuple[int, ...]]:
    if isinstance(value, torch.Tensor):
        return [tuple(value.shape)]
    leaves, _ = tree_flatten(value)
    return [tuple(v.shape) for v in leaves if isinstance(v, torch.Tensor)]


def received_shapes(args: tuple, kwargs: dict) -> list[tuple[int, ...]]:
    """Shapes of the tensors a call received, in argument order: a plain walk of tuples, lists
    and dicts (a pytree flatten per row would cost more than the rest of the row)."""
    out: list[tuple[int, ...]] = []
    stack: list[Any] = [*args, *kwargs.values()][::-1]  # popped from the end: argument order
    while stack:
        value = stack.pop()
        if isinstance(value, torch.Tensor):
            out.append(tuple(value.shape))
        elif isinstance(value, (tuple, list)):
            stack.extend(reversed(value))
        elif isinstance(value, dict):
            stack.extend(reversed(list(value.values())))
    return out


def geometry(module: nn.Module | None) -> dict[str, Any]:
    if module is None:
        return {}
    # plain attributes: a missing one would cost nn.Module.__getattr__ an exception;
    # a ScriptModule keeps them in its C++ object
    script = isinstance(module, torch.jit.ScriptModule)
    attrs = module.__dict__
    out = {}
    for attr in _GEOMETRY:
        value = getattr(module, attr, None) if script else attrs.get(attr)
        if value is not None:
            out[attr] = tuple(value) if isinstance(value, list) else value
    return out


def cost_of(record: NodeRecord) -> tuple[Cost | None, list[str]]:
    """The row's cost, summing inner calls for opaque modules; names the ops without a rule."""
    call = record.call
    cost = price(call)
    if cost is not None:  # a rule may answer None: "not this call" (a norm+act with an unknown act)
        return cost, []
    if is_container_constructor(call.target):
        return Cost(0, 0), []
    if record.children or record.priced_inside:
        macs = flops = 0
        unknown: list[str] = []
        for name, inner in record.children:
            c = price(inner)
            if c is None:
                unknown.append(f"{record.name}.{name} ({inner.kind})")
                continue
            macs, flops = macs + c.macs, flops + c.flops
        return Cost(macs, flops), unknown
    return None, [f"{record.name} ({record.kind})"]


def _row(rec: NodeRecord, seen: set[int], opaque: dict[str, str], unknown_cost: list[str]) -> Layer:
    """The summary row of one record; a parameter already in ``seen`` counts in an earlier row."""
    num = trainable = 0
    for _, p in rec.params:
        if id(p) in seen:
            continue
        seen.add(id(p))
        num += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    cost, unknown = cost_of(rec)
    unknown_cost += unknown
    shapes = _shapes_of(rec.out)
    if rec.module_path is not None:
        path = rec.module_path
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        depth = path.count(".") + 1
    else:
        parent = rec.scope
        depth = (parent.count(".") + 2) if parent else 1
    layer = Layer(
        name=rec.name,
        kind=rec.kind,
        output_shape=shapes[0] if len(shapes) == 1 else shapes,
        num_params=num,
        trainable_params=trainable,
        macs=cost.macs if cost else 0,
        flops=cost.flops if cost else 0,
        parent=parent,
        depth=depth,
        op=rec.op,
        inputs=list(rec.inputs),
        module_path=rec.module_path,
        call_index=rec.call_index,
        input_shapes=received_shapes(rec.call.args, rec.call.kwargs),
        **geometry(rec.call.module),
    )
    layer.cost_unknown = unknown
    if cost is None:
        layer.notes.append("no MAC rule: counted as 0")
    elif unknown:
        layer.notes.append(f"{len(unknown)} inner op(s) without a MAC rule counted as 0")
    if rec.module_path in opaque:
        layer.notes.append(f"opaque: {opaque[rec.module_path]}")
    return layer


def _assemble(
    model, tree, records, output, method, warnings, opaque, input_shapes
) -> tuple[Summary, list[tuple[NodeRecord, Layer]]]:
    """The summary, and each record beside the row made from it (for the analyses)."""
    seen: set[int] = set()
    unknown_cost: list[str] = []
    rows = [(rec, _row(rec, seen, opaque, unknown_cost)) for rec in records]
    packed = [
        n
        for n, m in tree.modules
        if "_packed_params" in m.__dict__ or "_packed_params" in m._modules
    ]
    if packed:
        warnings.append(
            f"{len(packed)} quantized module(s) keep their weights packed, not as nn.Parameters "
            f"({', '.join(packed[:3])}{', ...' if len(packed) > 3 else ''}): their parameters are not counted"
        )
    unique = {id(p): p for _, p in tree.params}
    total = sum(p.numel() for p in unique.values())
    trainable_total = sum(p.numel() for p in unique.values() if p.requires_grad)
    unused = [n for n, p in tree.params if id(p) not in seen]
    if unused:
        count = sum(p.numel() for n, p in tree.params if n in set(unused))
        shown = ", ".join(unused[:5]) + (", ..." if len(unused) > 5 else "")
        warnings.append(
            f"{count:,} parameters are registered but never used by forward ({shown}); "
            "they count in total_params but in no row"
        )
    if unknown_cost:
        shown = ", ".join(unknown_cost[:8]) + (", ..." if len(unknown_cost) > 8 else "")
        warnings.append(f"no MAC rule for {len(unknown_cost)} op(s), counted as 0: {shown}")
    buffers = {id(b): b for _, b in tree.buffers}
    summary = Summary(
        model_name=type(model).__name__,
        input_shapes=list(input_shapes),
        output_shapes=_shapes_of(output),
        layers=[layer for _, layer in rows],
        total_params=total,
        trainable_params=trainable_total,
        param_bytes=sum(p.numel() * p.element_size() for p in unique.values()),
        total_buffers=sum(b.numel() for b in buffers.values()),
        buffer_bytes=sum(b.numel() * b.element_size() for b in buffers.values()),
        method=method,
        warnings=warnings,
        opaque=dict(opaque),
        module_kinds={name: kind_name(m) for name, m in tree.modules if name},
    )
    return summary, rows


def kind_name(module: nn.Module) -> str:
    if isinstance(module, torch.jit.ScriptModule):  # keeps its Python class name here
        return getattr(module, "original_name", None) or type(module).__name__
    return type(module).__name__

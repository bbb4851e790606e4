"""Layer 1b: walk the traced graph once and record what every node receives and returns.

Values are meta tensors: they carry shape and dtype but no storage, so the cost
does not depend on batch or image size and a model built on the meta device
works. Known layers are inferred by their shape rule (cheap, and checked against
meta execution in the tests); anything else runs on the meta device with meta
copies of its parameters. The model itself is never modified.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from cnninspect.engine.compat import tree_map
from cnninspect.engine.inner_calls import InnerCalls
from cnninspect.engine.ops.aten_count import counted
from cnninspect.engine.ops.catalogue import COSTS
from cnninspect.engine.ops.registry import Call, kind_of, op_key
from cnninspect.engine.ops.shapes import SHAPES
from cnninspect.engine.trace import Node, Trace
from cnninspect.errors import InputShapeError


@dataclass
class NodeRecord:
    """One executed op: what a row of the summary is made from."""

    name: str
    op: str
    kind: str
    call: Call
    scope: str  # the module path this op was recorded in ('' for the root)
    module_path: str | None  # for call_module nodes
    inputs: list[str]  # names of the records that feed this one
    params: list[tuple[str, nn.Parameter]] = field(default_factory=list)
    children: list[tuple[str, Call]] = field(default_factory=list)  # inner calls of opaque modules
    # the row's cost is the sum of ``children``, even when there are none (a leaf no rule
    # prices that made no torch call)
    priced_inside: bool = False
    # ids of the tensors an opaque module holds (its weights, buffers and their meta stand-ins):
    # what its inner calls may read besides its inputs and each other's outputs
    constants: AbstractSet[int] = frozenset()
    call_index: int = 1  # which call of ``module_path`` this is; the name shows it as "path@2"

    @property
    def out(self) -> Any:
        return self.call.out


class NodeFailure(Exception):
    """A node could not be evaluated (internal; the caller decides what it means)."""

    def __init__(self, node_name: str, call: Call, module_path: str | None, error: BaseException):
        super().__init__(f"{node_name} ({call.kind}): {error}")
        self.node_name = node_name
        self.kind = call.kind
        self.module_path = module_path
        self.error = error
        self.is_user_module = call.module is not None and not type(
            call.module
        ).__module__.startswith("torch.")
        self.input_shapes = [
            tuple(v.shape)
            for v in list(call.args) + list(call.kwargs.values())
            if isinstance(v, torch.Tensor)
        ]


def to_meta(value: Any) -> Any:
    """Replace every tensor in a (nested) value by a meta tensor of the same shape and dtype."""

    def convert(v: Any) -> Any:
        if isinstance(v, torch.Tensor) and v.device.type != "meta":
            return meta_like(v)
        return v

    return tree_map(convert, value)


def meta_like(t: torch.Tensor) -> torch.Tensor:
    """A meta tensor of ``t``'s shape; quantized tensors (no quantized meta kernels) as float."""
    if t.is_quantized:
        return torch.empty(t.shape, dtype=torch.float32, device="meta")
    return torch.empty_like(t, device="meta", memory_format=torch.preserve_format)


def has_tensor(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, (tuple, list)):
        return any(has_tensor(v) for v in value)
    if isinstance(value, dict):
        return any(has_tensor(v) for v in value.values())
    return False


class MetaState:
    """Meta stand-ins for a model's parameters and buffers, made once per module."""

    def __init__(self) -> None:
        self._cache: dict[int, dict[str, torch.Tensor]] = {}

    def for_module(self, module: nn.Module) -> dict[str, torch.Tensor] | None:
        """None when everything is already on meta (call the module directly)."""
        key = id(module)
        if key not in self._cache:
            state: dict[str, torch.Tensor] = {}
            # one name per tensor: functional_call(tie_weights=True) gives its stand-in to every
            # other name of the same tensor (T5's shared embedding) and refuses a value per name
            for name, t in list(module.named_parameters()) + list(module.named_buffers()):
                if t.device.type != "meta":
                    m = torch.empty_like(t, device="meta")
                    if isinstance(t, nn.Parameter):
                        m = nn.Parameter(m, requires_grad=t.requires_grad)
                    state[name] = m
            self._cache[key] = state
        return self._cache[key] or None

    def tensor_ids(self, module: nn.Module) -> frozenset[int]:
        """The ids of ``module``'s own tensors and of the stand-ins made for them."""
        own = list(module.parameters()) + list(module.buffers())
        made = self._cache.get(id(module), {})
        return frozenset(id(t) for t in own + list(made.values()) + _held_tensors(module))

    def aliases(self, module: nn.Module) -> dict[int, nn.Parameter]:
        """The id of each parameter's stand-in -> the parameter it stands for."""
        made = self._cache.get(id(module), {})
        return {id(made[n]): p for n, p in module.named_parameters() if n in made}

    def call(self, module: nn.Module, args: tuple, kwargs: dict) -> Any:
        state = self.for_module(module)
        if state is None:
            return module(*args, **kwargs)
        return torch.func.functional_call(
            module, state, args, kwargs, tie_weights=True, strict=False
        )


def _leaf_descendants(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """The inner calls worth recording in an opaque module: the outermost descendants
    that have a cost rule of their own, or have no children."""
    from cnninspect.engine.ops.macs import COSTS

    out: list[tuple[str, nn.Module]] = []
    for name, child in module.named_modules():
        if not name or any(name.startswith(other + ".") for other, _ in out):
            continue
        if COSTS.lookup(type(child)) is not None or not any(True for _ in child.children()):
            out.append((name, child))
    return out


def run_module_on_meta(
    module: nn.Module, args: tuple, kwargs: dict, state: MetaState
) -> tuple[Any, list]:
    """Run ``module`` on meta, recording the calls of its leaf descendants, and the torch
    calls made where no cost rule covers them (:mod:`cnninspect.engine.inner_calls`)."""
    children: list[tuple[str, Call]] = []  # leaf calls and torch calls, in the order they ran
    handles: list = []
    recorder = InnerCalls(sink=lambda name, call: children.append((name, call)))
    recorder.enter("", module)
    try:
        for name, child in _leaf_descendants(module):
            handles += _hook_leaf(name, child, children, recorder)
        state.for_module(module)  # made before recording: copying weights is no call of the model's
        # grad on: torch.nn's fused inference paths (TransformerEncoderLayer) skip the
        # submodule calls we count; with grad enabled they take the plain path
        with torch.enable_grad(), recorder:
            out = state.call(module, args, kwargs)
    finally:
        for h in handles:
            h.remove()
    return out, children


def _hook_leaf(name: str, child: nn.Module, children: list, recorder: InnerCalls) -> list:
    """Hooks that record one call of ``child``, or the torch calls inside it when no rule costs it."""

    def pre(mod, a, kw):
        recorder.enter(name, mod)

    def post(mod, a, kw, out):
        frame = recorder.leave()
        # a priced leaf is one call; an unpriced one is the calls recorded inside it, and
        # one that made no torch call at all (timm's DropPath in eval) did no arithmetic
        if frame.costed:
            children.append((name, Call("call_module", mod, type(mod).__name__, a, kw, mod, out)))

    handles = []
    try:
        handles.append(child.register_forward_hook(post, with_kwargs=True))
        handles.append(child.register_forward_pre_hook(pre, with_kwargs=True))
    except RuntimeError:  # ScriptModules take no hooks
        for h in handles:
            h.remove()
        return []
    return handles


def _held_tensors(module: nn.Module) -> list[torch.Tensor]:
    """Tensors modules keep as plain attributes, directly or in a dict/list (timm's attention
    bias caches, filled by the first forward): constants to what runs inside them."""
    found: list[torch.Tensor] = []
    for m in module.modules():
        for value in m.__dict__.values():
            items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else (value,)
            found += [v for v in items if isinstance(v, torch.Tensor)]
    return found


_SHAPE_ATTRIBUTES = frozenset({"shape", "ndim", "dtype", "device", "is_cuda", "layout"})
_SHAPE_METHODS = frozenset({"size", "dim", "ndimension", "numel", "nelement", "get_device"})


def _reads_shape_only(node: Node) -> bool:
    """``x.shape``, ``x.size(1)``, ``len(x)``: what follows reads no value of ``x``, so a
    position embedding sized from them is not fed by ``x`` (for receptive fields)."""
    if node.op == "call_method":
        return node.target in _SHAPE_METHODS
    if node.target is getattr:
        return len(node.args) > 1 and node.args[1] in _SHAPE_ATTRIBUTES
    return node.target is len


def propagate(tr: Trace, args: tuple, kwargs: dict) -> tuple[list[NodeRecord], Any]:
    """Evaluate the graph on meta values; return one record per tensor-producing op and the output."""
    walk = _Walk(tr, args, kwargs)
    output: Any = None
    for node in tr.nodes:
        if node.op == "placeholder":
            walk.placeholder(node)
        elif node.op == "get_attr":
            walk.get_attr(node)
        elif node.op == "output":
            output = walk.load(node.args[0])
        else:
            walk.call(node)
    return walk.records, output


class _Walk:
    """One propagation's state: each node's meta value, and the rows that feed it."""

    def __init__(self, tr: Trace, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.root = tr.root
        self.constants = tr.constants
        self.kwargs = kwargs
        self.placeholders = iter(args)
        self.state = MetaState()
        self.env: dict[Node, Any] = {}
        self.attr_params: dict[Node, tuple[str, nn.Parameter]] = {}
        # node -> record names feeding from it (through non-rows too)
        self.producers: dict[Node, list[str]] = {}
        self.records: list[NodeRecord] = []
        self.calls_of: dict[str, int] = {}  # module path -> calls so far, to name repeats "path@2"

    def load(self, a: Any) -> Any:
        # a fresh container every time: ops such as torchvision's swin3d window helpers
        # mutate the lists they are given, as they may with real values
        kind = type(a)
        if kind is Node:
            return self.env[a]
        if kind is tuple or kind is list:
            return kind([self.load(v) for v in a])
        if isinstance(a, tuple):  # a named tuple
            return kind(*[self.load(v) for v in a])
        if isinstance(a, list):
            return [self.load(v) for v in a]
        if isinstance(a, dict):
            return {k: self.load(v) for k, v in a.items()}
        if kind is slice:
            return slice(self.load(a.start), self.load(a.stop), self.load(a.step))
        return a

    def sources(self, node: Node) -> list[str]:
        names: list[str] = []
        for n in node.inputs:
            for src in self.producers.get(n, ()):
                if src not in names:
                    names.append(src)
        return names

    def placeholder(self, node: Node) -> None:
        name = node.target
        if name.startswith("*"):
            self.env[node] = tuple(self.placeholders)
        elif name in self.kwargs:
            self.env[node] = self.kwargs[name]
        else:
            try:
                self.env[node] = next(self.placeholders)
            except StopIteration:
                self.env[node] = node.args[0] if node.args else None
        self.producers[node] = [f"input:{name}"]

    def get_attr(self, node: Node) -> None:
        value = self.constants.get(node.target)
        if value is None:
            value = _fetch_attr(self.root, node.target)
        if isinstance(value, nn.Parameter):
            self.attr_params[node] = (node.target, value)
        self.env[node] = to_meta(value)
        self.producers[node] = []

    def call(self, node: Node) -> None:
        """Evaluate one call node; a row if it made a tensor, else a pass-through of its sources."""
        module = _submodule(self.root, node.target) if node.op == "call_module" else None
        kind = kind_of(node.op, node.target, module)
        call = Call(node.op, node.target, kind, self.load(node.args), self.load(node.kwargs), module)
        children: list = []
        try:
            call.out = _evaluate(call, self.state, children)
        except InputShapeError as exc:
            name = node.target if node.op == "call_module" else node.name
            raise InputShapeError(f"layer {name!r} ({kind}): {exc}") from exc
        except Exception as exc:
            raise NodeFailure(
                node.name, call, node.target if module is not None else None, exc
            ) from exc
        self.env[node] = call.out
        if not has_tensor(call.out):
            self.producers[node] = [] if _reads_shape_only(node) else self.sources(node)
            return
        rec = self._record(node, call, module, children)
        self.records.append(rec)
        self.producers[node] = [rec.name]

    def _record(self, node: Node, call: Call, module: nn.Module | None, children: list) -> NodeRecord:
        params = _module_params(module, node.target) if module is not None else []
        if self.attr_params:
            params += [self.attr_params[n] for n in node.inputs if n in self.attr_params]
        rec = NodeRecord(
            name=node.target if node.op == "call_module" else node.name,
            op=node.op,
            kind=call.kind,
            call=call,
            scope=node.scope,
            module_path=node.target if node.op == "call_module" else None,
            inputs=self.sources(node),
            params=params,
            children=children,
        )
        if module is not None and call.extra.get("opened"):
            rec.constants, rec.priced_inside = self.state.tensor_ids(module), True
        if module is not None:
            calls = self.calls_of[node.target] = self.calls_of.get(node.target, 0) + 1
            if calls > 1:
                rec.name, rec.call_index = f"{node.target}@{calls}", calls
        return rec


def _submodule(root: nn.Module, target: str) -> nn.Module:
    """``root.get_submodule`` without its per-step ``hasattr`` (slow on wide containers)."""
    module = root
    for part in target.split("."):
        child = module._modules[part]
        assert child is not None  # the target was called during tracing, so it is a module
        module = child
    return module


def _module_params(module: nn.Module, path: str) -> list[tuple[str, nn.Parameter]]:
    if not module._modules:  # a leaf: its own parameters, without walking a tree
        return [(f"{path}.{name}", p) for name, p in module._parameters.items() if p is not None]
    return list(module.named_parameters(prefix=path, remove_duplicate=False))


def _evaluate(call: Call, state: MetaState, children: list) -> Any:
    key = type(call.module) if call.op == "call_module" else op_key(call.op, call.target)
    rule = SHAPES.lookup(key)
    if rule is not None:
        out = rule(call)
        if out is not None:
            return out
    # No rule: run the op itself on meta values. Tensors it creates (torch.zeros(...) in a
    # forward) must land on meta too, hence the device context -- entered only here, since it
    # intercepts every torch call, shape reads included, and would tax the rules as well.
    with torch.device("meta"):
        if call.op == "call_module":
            if type(call.module).__module__.startswith("torch.nn") and not any(
                True for _ in call.module.children()
            ):
                return state.call(call.module, call.args, call.kwargs)
            out, inner = run_module_on_meta(call.module, call.args, call.kwargs, state)
            children.extend(inner)
            call.extra["opened"] = True  # its row is what ran inside it, even when nothing did
            return out
        if call.op == "call_method":
            obj, *rest = call.args
            func, args = getattr(obj, call.target), tuple(rest)
        else:
            func, args = call.target, call.args
        if COSTS.lookup(key) is None:  # nor a cost rule: count the aten ops it runs
            out, call.extra["aten_cost"] = counted(func, args, call.kwargs)
            return out
        return func(*args, **call.kwargs)


def _fetch_attr(root: nn.Module, target: str) -> Any:
    obj: Any = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj

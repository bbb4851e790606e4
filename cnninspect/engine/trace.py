"""Layer 1: turn an ``nn.Module`` into a list of calls, isolating what fx cannot trace.

fx's symbolic tracer decides what a call is (its proxies, module patching and
wrapped functions are kept as they are), but the calls are recorded as small
:class:`Node` records rather than an ``fx.Graph``: building fx nodes (pytree scans,
immutable containers, code-generation bookkeeping) was half the cost of a first
summary, and nothing here generates code from the graph.

torch.nn layers stay leaves (so ``Conv2d`` is one node, not its functional body),
and every functional op in a user's ``forward`` becomes a node of its own. A
submodule with data-dependent control flow is made an opaque leaf where it fails: the
calls its forward recorded are rolled back and the trace goes on past it, so one awkward
block never hides the rest of the model (and timm's dozens of ``Conv2dSame`` layers cost
one trace, not one each).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn
from torch.fx.proxy import Proxy

from cnninspect.engine import compat
from cnninspect.engine.inventory import Inventory
from cnninspect.engine.ops.catalogue import describes

# Modules from torch.nn whose forward we trace through: they only hold other modules.
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


@dataclass(slots=True, eq=False)
class Node:
    """One recorded call, with the fields of ``fx.Node`` that the passes read.

    ``args``/``kwargs`` hold other nodes where fx would; ``inputs`` lists them once.
    """

    op: str  # placeholder, get_attr, call_module, call_function, call_method, output
    target: Any
    args: tuple
    kwargs: dict
    name: str  # unique: fx's naming rules ("add", "add_1"...), or a nested module's path
    scope: str  # qualified name of the module the call was recorded in ('' for the root)
    inputs: list[Node]
    meta: dict = field(default_factory=dict)  # fx's wrapped functions write a flag here

    def __repr__(self) -> str:
        return f"Node({self.name})"


@dataclass
class Trace:
    """The result of tracing: the recorded calls over the untouched original module."""

    root: nn.Module
    nodes: list[Node]
    opaque: dict[str, str] = field(default_factory=dict)  # module path -> why it is opaque
    # tensors a forward makes from scratch (``torch.tensor([...])``), read by get_attr nodes;
    # kept here rather than set on the model as fx does, so tracing leaves the model as it was;
    # fx's constant types may include script objects, hence ``object``
    constants: dict[str, object] = field(default_factory=dict)


_ATOMS = (int, float, bool, str, type(None))
# values fx stores as attributes rather than inline (tensors, TorchScript objects...)
_CONSTANT_TYPES: tuple[type, ...] = compat.CONSTANT_ATTRIBUTE_TYPES


class _Tracer(fx.Tracer):
    def __init__(self, opaque: set[str]) -> None:
        super().__init__(autowrap_modules=(math,))
        self.opaque = opaque
        self.failed_in: list[str] = []  # innermost traced-through module first
        self.nodes: list[Node] = []
        self.constants: dict[str, object] = {}
        self._names = compat.Namespace()  # fx's unique-name rules
        self._candidates: dict[Any, str] = {}  # target -> fx's base name for it
        self._attributes: dict[int, str] | None = None  # id of a held value -> its name
        self._parameters: dict[int, str] | None = None  # id of a parameter -> its name
        self._proxies: dict[str, Any] | None = None  # fx's parameter proxy cache, for rollbacks
        self._journal: list[tuple[str, str, int | None]] = []  # (name, base, base's count before)
        self.isolated: dict[str, str] = {}  # module path -> why it was made opaque mid-trace
        self._scope = ""

    # fx declares fx.Node; ours is a lighter record that the tracer's proxies carry just as well
    def create_node(  # type: ignore[override]
        self,
        kind: str,
        target: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str | None = None,
        type_expr: Any = None,
    ) -> Node:
        if name is None and kind == "call_module" and "." in target:
            # A nested module's row is named by its path, and a path with a dot can equal no
            # other node's name: skip fx's naming (a fifth of tracing a MobileNet). Root-level
            # modules still reserve theirs, so ``self.flatten`` and ``torch.flatten`` differ.
            unique = target
        else:
            base = name if name is not None else self._base_name(target)
            before = compat.name_count(self._names, base)
            unique = self._names.create_name(base, None)
            self._journal.append((unique, base, before))
        node = Node(kind, target, args, kwargs, unique, self._scope, [])
        _collect_nodes((args, kwargs), node.inputs)
        self.nodes.append(node)
        return node

    def _base_name(self, target: Any) -> str:
        """fx's base name for a target (``conv2d``, ``add``), worked out once per target."""
        try:
            base = self._candidates.get(target)
            if base is None:
                base = self._candidates[target] = compat.target_to_str(self.graph, target)
            return base
        except TypeError:  # an unhashable callable
            return compat.target_to_str(self.graph, target)

    def create_arg(self, a: Any) -> Any:
        # the common cases first; everything else (parameters, constants, dtypes...) as fx does
        kind = type(a)
        if kind in _ATOMS:
            return a
        if isinstance(a, Proxy):
            return a.node
        if kind is tuple or kind is list:
            return kind([self.create_arg(v) for v in a])
        if kind is dict:
            return {k: self.create_arg(v) for k, v in a.items()}
        if isinstance(a, _CONSTANT_TYPES) and not isinstance(a, nn.Parameter):
            name = self._attribute_name(a)
            if name is None:  # made in forward: fx would set it on the model
                name = next((n for n, c in self.constants.items() if c is a), None)
                if name is None:
                    name = f"_tensor_constant{len(self.constants)}"
                    self.constants[name] = a
            return self.create_node("get_attr", name, (), {})
        return super().create_arg(a)

    def _attribute_name(self, value: Any) -> str | None:
        """The qualified name under which the model holds ``value`` (a buffer or a plain
        attribute), found when first needed: few forwards use such a value directly, and
        fx's eager index of them walked every attribute of every module on every trace."""
        if self._attributes is None:
            self._attributes = {}
            for path, m in self.root.named_modules():
                prefix = f"{path}." if path else ""
                for k, v in m.__dict__.items():
                    if isinstance(v, _CONSTANT_TYPES):
                        self._attributes.setdefault(id(v), prefix + k)
                for k, v in m._buffers.items():
                    if v is not None:
                        self._attributes.setdefault(id(v), prefix + k)
        return self._attributes.get(id(value))

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict) -> Any:
        # fx proxies parameters and buffers read as attributes; a submodule (most reads) is
        # handed back as fx would, without its isinstance checks against Parameter first
        if isinstance(attr_val, nn.Module):
            return attr_val
        self._proxies = parameter_proxy_cache
        if isinstance(attr_val, nn.Parameter):
            # fx finds a parameter's name by walking named_parameters() on every read (half
            # of tracing a DenseNet); an index built once answers the same, first name first
            if self._parameters is None:
                self._parameters = {}
                for n, p in self.root.named_parameters():
                    self._parameters.setdefault(id(p), n)
            name = self._parameters.get(id(attr_val))
            if name is not None:
                proxy = parameter_proxy_cache.get(name)
                if proxy is None:
                    proxy = parameter_proxy_cache[name] = self.create_proxy("get_attr", name, (), {})
                return proxy
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        """torch's layers, and modules the op catalogue describes: a rule applies only to the
        forward it was written for, so a subclass that overrides ``forward`` is traced through."""
        if qualname in self.opaque:
            return True
        if isinstance(m, _CONTAINERS):
            return False
        cls = type(m)
        if cls.__module__.startswith(("torch.nn", "torch.ao.nn")) or isinstance(m, torch.jit.ScriptModule):
            return True
        return describes(m)

    def call_module(self, m, forward, args, kwargs):
        qualname = self.submodule_paths.get(m) if self.submodule_paths else None
        if qualname is None:
            # A module that is not registered as a submodule (built in forward, or
            # kept in a plain list): trace through it, there is no path to name it by.
            return forward(*args, **kwargs)
        outer, self._scope = self._scope, qualname
        try:
            if self.is_leaf_module(m, qualname):
                return self.create_proxy("call_module", qualname, args, kwargs)
            _realise((args, kwargs))  # before the mark: a rollback must not take an input's node
            mark = (len(self.nodes), len(self._journal), len(self.constants))
            try:
                return forward(*args, **kwargs)
            except Exception as exc:  # fx raises many kinds: TraceError, TypeError, ...
                self._roll_back(*mark)
                self.isolated[qualname] = f"{type(m).__name__}: {_one_line(exc)}"
                self.opaque.add(qualname)
                return self.create_proxy("call_module", qualname, args, kwargs)
        finally:
            self._scope = outer

    def _roll_back(self, nodes: int, names: int, constants: int) -> None:
        """Forget what a failed forward recorded: its nodes, their names, its constants."""
        dropped = set(self.nodes[nodes:])
        del self.nodes[nodes:]
        for name, base, count in reversed(self._journal[names:]):
            compat.forget_name(self._names, name, base, count)
        del self._journal[names:]
        for key in list(self.constants)[constants:]:
            del self.constants[key]
        if self._proxies:
            for key, proxy in list(self._proxies.items()):
                if proxy.node in dropped:
                    del self._proxies[key]


def _realise(value: Any) -> None:
    """Make the node of every proxy in a (nested) argument. fx makes an attribute read's node
    (``encoder(x).feature_maps``) only when it is first used; made inside a forward that is
    then rolled back, it would vanish while the proxy keeps pointing at it (Mask2Former)."""
    if isinstance(value, Proxy):
        value.node  # noqa: B018 -- the property creates the node
    elif isinstance(value, (tuple, list)):
        for v in value:
            _realise(v)
    elif isinstance(value, dict):
        for v in value.values():
            _realise(v)


def _collect_nodes(value: Any, found: list[Node]) -> None:
    """Append the nodes inside a (nested) argument to ``found``, each once."""
    if type(value) is Node:
        if value not in found:
            found.append(value)
    elif isinstance(value, (tuple, list)):
        for v in value:
            _collect_nodes(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _collect_nodes(v, found)
    elif isinstance(value, slice):
        _collect_nodes((value.start, value.stop, value.step), found)


_SIMPLE = (bool, int, float, str, type(None))

# root module -> (structure key, nodes, opaque, constants): weak keys, and values that hold
# no reference to the model, so a cached trace never keeps a model alive
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def forget_traces() -> None:
    """Drop every cached trace: after the op catalogue changes, a module may be a leaf now."""
    _CACHE.clear()


def structure_key(tree: Inventory, concrete_args: dict | None) -> tuple:
    """What a trace depends on besides the code: the module tree, each module's train/eval
    flag and its plain settings (``aux_logits``, ``inplace``...), which fx bakes into the graph."""
    parts = []
    for (path, m), attrs in zip(tree.modules, tree.attributes, strict=True):
        settings = tuple(
            [
                (k, v if isinstance(v, _SIMPLE) else id(v))
                for k, v in attrs.items()
                if isinstance(v, _SIMPLE) or callable(v)
            ]
        )
        parts.append((path, type(m), m.training, settings))
    args = tuple(sorted((k, repr(v)) for k, v in (concrete_args or {}).items()))
    return tuple(parts), args


def trace(
    root: nn.Module,
    concrete_args: dict | None = None,
    max_retries: int = 64,
    key: tuple | None = None,
) -> Trace:
    """Trace ``root``; a submodule that fx cannot trace becomes an opaque leaf.

    With a ``key`` (see :func:`structure_key`) the trace is reused while the key is
    unchanged: summarising the same model again skips fx, the costliest step.
    Raises :class:`UntraceableError` only when the top-level ``forward`` itself cannot
    be traced, so the caller can fall back to a forward-hook pass.
    """
    if key is not None:
        hit = _CACHE.get(root)
        if hit is not None and hit[0] == key:
            return Trace(root, *hit[1:])
    result = _trace(root, concrete_args, max_retries)
    if key is not None:
        _CACHE[root] = (key, result.nodes, result.opaque, result.constants)
    return result


def _trace(root: nn.Module, concrete_args: dict | None, max_retries: int) -> Trace:
    opaque: dict[str, str] = {}
    last_error: Exception | None = None
    for _ in range(max_retries):
        tracer = _Tracer(set(opaque))
        try:
            # fx's eager index of constant attributes is skipped: create_arg indexes on first use
            with compat.fx_attribute_index_skipped(), compat.proxy_unpacking_cached():
                tracer.trace(root, concrete_args=concrete_args)
        except Exception as exc:  # fx raises many kinds: TraceError, TypeError, RuntimeError...
            last_error = exc
            opaque.update(tracer.isolated)
            culprit = tracer.failed_in[0] if tracer.failed_in else ""
            if not culprit or culprit in opaque:
                raise UntraceableError(_one_line(exc)) from exc
            opaque[culprit] = f"{type(root.get_submodule(culprit)).__name__}: {_one_line(exc)}"
            continue
        opaque.update(tracer.isolated)
        return Trace(root, tracer.nodes, opaque, tracer.constants)
    raise UntraceableError(f"gave up after isolating {len(opaque)} modules: {last_error}")


class UntraceableError(Exception):
    """fx could not trace the model's top-level forward (internal: triggers the hook path)."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"

"""Layer 1: turn an ``nn.Module`` into an fx graph, isolating what fx cannot trace.

torch.nn layers stay leaves (so ``Conv2d`` is one node, not its functional body),
and every functional op in a user's ``forward`` becomes a node of its own. A
submodule with data-dependent control flow is made an opaque leaf and the trace
retried, so one awkward block never hides the rest of the model.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field

import torch
from torch import fx, nn

# Modules from torch.nn whose forward we trace through: they only hold other modules.
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


@dataclass
class Trace:
    """The result of tracing: an fx graph over the untouched original module."""

    root: nn.Module
    graph: fx.Graph
    scopes: dict[str, str]  # node name -> qualified name of the module it was recorded in
    opaque: dict[str, str] = field(default_factory=dict)  # module path -> why it is opaque


class _Tracer(fx.Tracer):
    def __init__(self, opaque: set[str]) -> None:
        super().__init__(autowrap_modules=(math,))
        self.opaque = opaque
        self.failed_in: list[str] = []  # innermost traced-through module first

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if qualname in self.opaque:
            return True
        if isinstance(m, _CONTAINERS):
            return False
        return type(m).__module__.startswith(("torch.nn", "torch.ao.nn")) or isinstance(
            m, torch.jit.ScriptModule
        )

    def call_module(self, m, forward, args, kwargs):
        try:
            qualname = self.path_of_module(m)
        except NameError:
            # A module that is not registered as a submodule (built in forward, or
            # kept in a plain list): trace through it, there is no path to name it by.
            return forward(*args, **kwargs)
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if not self.is_leaf_module(m, qualname):
                self.failed_in.append(qualname)
            raise


_SIMPLE = (bool, int, float, str, type(None))

# root module -> (structure key, trace); weak, so a cached trace never keeps a model alive
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def structure_key(modules: list[tuple[str, nn.Module]], concrete_args: dict | None) -> tuple:
    """What a trace depends on besides the code: the module tree, each module's train/eval
    flag and its plain settings (``aux_logits``, ``inplace``...), which fx bakes into the graph."""
    parts = []
    for path, m in modules:
        settings = tuple(
            (k, v if isinstance(v, _SIMPLE) else id(v))
            for k, v in m.__dict__.items()
            if k[0] != "_" and (isinstance(v, _SIMPLE) or callable(v))
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
            return hit[1]
    result = _trace(root, concrete_args, max_retries)
    if key is not None:
        _CACHE[root] = (key, result)
    return result


def _trace(root: nn.Module, concrete_args: dict | None, max_retries: int) -> Trace:
    opaque: dict[str, str] = {}
    last_error: Exception | None = None
    for _ in range(max_retries):
        tracer = _Tracer(set(opaque))
        try:
            graph = tracer.trace(root, concrete_args=concrete_args)
        except Exception as exc:  # fx raises many kinds: TraceError, TypeError, RuntimeError...
            last_error = exc
            culprit = tracer.failed_in[0] if tracer.failed_in else ""
            if not culprit or culprit in opaque:
                raise UntraceableError(_one_line(exc)) from exc
            opaque[culprit] = f"{type(root.get_submodule(culprit)).__name__}: {_one_line(exc)}"
            continue
        scopes = {name: path for name, (path, _type) in tracer.node_name_to_scope.items()}
        return Trace(root, graph, scopes, opaque)
    raise UntraceableError(f"gave up after isolating {len(opaque)} modules: {last_error}")


class UntraceableError(Exception):
    """fx could not trace the model's top-level forward (internal: triggers the hook path)."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"

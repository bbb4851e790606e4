"""Every torch-private name cnninspect uses, in one place.

torch may rename or drop a private name in any release. Importing them here, and only
here, means such a change breaks one small module -- and ``tests/test_rows.py`` imports
each name and says which one moved -- instead of surfacing as an odd failure deep in a
pass. Public torch API is imported where it is used, as usual.
"""

from __future__ import annotations

import contextlib
import dis
import inspect
import sys
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.fx import _symbolic_trace as _fx_symbolic_trace
from torch.fx.graph import _Namespace as Namespace  # fx's unique-name rules ("add", "add_1")
from torch.fx.proxy import Proxy
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map, tree_unflatten

# torch.ops.aten schema strings -> argument lists (the TorchScript pass binds keywords with it)
parse_schema: Callable[[str], Any] = torch._C.parse_schema
# the function ``torch._assert`` that traced forwards call; rules are keyed by it
torch_assert: Callable[..., Any] = torch._assert
# the C base class of torch.Tensor: its methods are the tensor's own (not Python overrides)
TensorBase: type = torch._C.TensorBase
# the base of BatchNorm and InstanceNorm: the modules that own ``num_batches_tracked``
NormBase: type = torch.nn.modules.batchnorm._NormBase
# which attention kernel the CPU would pick for given inputs (the memory analysis asks it)
fused_sdp_choice: Callable[..., Any] = torch._fused_sdp_choice
# a context in which no torch-function mode sees the calls: the hook pass's own bookkeeping
# (copying outputs to meta) is not a call of the model's
torch_function_off: Callable[[], Any] = torch._C.DisableTorchFunction

# nn.Module's private attributes read directly on hot paths (a dict lookup instead of a walk)
MODULE_ATTRIBUTES = ("_modules", "_parameters", "_buffers", "_forward_hooks", "_forward_pre_hooks")
# where torch.compile's OptimizedModule keeps the module it wraps
COMPILED_ORIGINAL = "_orig_mod"

# fx's module global: the types it stores as attributes rather than inline (tensors, script objects)
_FX_CONSTANT_TYPES_NAME = "_constant_attribute_types"
CONSTANT_ATTRIBUTE_TYPES: tuple[type, ...] = getattr(
    _fx_symbolic_trace, _FX_CONSTANT_TYPES_NAME, (torch.Tensor, torch.ScriptObject)
)


def name_count(namespace: Namespace, base: str) -> int | None:
    """How many names fx's namespace has handed out for ``base`` (None: none yet)."""
    return namespace._base_count.get(base)


def forget_name(namespace: Namespace, name: str, base: str, count: int | None) -> None:
    """Undo one ``create_name``: the names of a rolled-back trace are free for the retry."""
    namespace._used_names.discard(name)
    if count is None:
        namespace._base_count.pop(base, None)
    else:
        namespace._base_count[base] = count


def target_to_str(graph: torch.fx.Graph, target: Any) -> str:
    """fx's base name for a call target (``conv2d``, ``add``): ``Graph._target_to_str``."""
    return graph._target_to_str(target)


_skipping = threading.local()
_swap_lock = threading.Lock()
_swap_depth = 0


class _ConstantTypesMeta(type):
    def __instancecheck__(cls, obj: Any) -> bool:
        if getattr(_skipping, "active", False):
            return False
        return isinstance(obj, CONSTANT_ATTRIBUTE_TYPES)


class _ConstantTypesOutsideOurTrace(metaclass=_ConstantTypesMeta):
    """Stands in for fx's tuple while some thread is inside :func:`fx_attribute_index_skipped`:
    every other thread's ``isinstance`` check answers exactly as fx's own tuple would."""


@contextlib.contextmanager
def fx_attribute_index_skipped() -> Iterator[None]:
    """Skip, in this thread only, the index of constant attributes fx builds at each trace.

    fx checks each attribute of each module against a module global (a third of tracing a
    MobileNet). While the calling thread is the only Python thread, the global is simply an
    empty tuple (C-speed checks, and nobody else to see it). Otherwise it is a type that
    answers "no" for the threads inside this context and defers to fx's own tuple for every
    other thread, so a concurrent fx trace elsewhere sees no difference. A torch without that
    global keeps fx's walk.
    """
    global _swap_depth
    if not hasattr(_fx_symbolic_trace, _FX_CONSTANT_TYPES_NAME):
        yield
        return
    with _swap_lock:
        if _swap_depth == 0:
            alone = threading.active_count() == 1
            stand_in = () if alone else _ConstantTypesOutsideOurTrace
            setattr(_fx_symbolic_trace, _FX_CONSTANT_TYPES_NAME, stand_in)
        _swap_depth += 1
    outer, _skipping.active = getattr(_skipping, "active", False), True
    try:
        yield
    finally:
        _skipping.active = outer
        with _swap_lock:
            _swap_depth -= 1
            if _swap_depth == 0:
                setattr(_fx_symbolic_trace, _FX_CONSTANT_TYPES_NAME, CONSTANT_ATTRIBUTE_TYPES)


__all__ = [
    "Namespace", "TorchDispatchMode", "tree_flatten", "tree_map", "tree_unflatten", "parse_schema",
    "torch_assert", "TensorBase", "NormBase", "fused_sdp_choice", "torch_function_off", "MODULE_ATTRIBUTES", "COMPILED_ORIGINAL", "CONSTANT_ATTRIBUTE_TYPES",
    "target_to_str", "fx_attribute_index_skipped", "name_count", "forget_name",
    "proxy_unpacking_cached",
]  # fmt: skip


# --- fx's Proxy.__iter__, with the caller's bytecode read once per code object ------------------
# ``b, c, h, w = x.shape`` makes fx disassemble the whole calling function to see how many values
# the caller unpacks -- on every unpack (a quarter of a first Swin summary). The answer depends
# only on the code object and the instruction, so it is read once; the behaviour is fx's own.
_FX_PROXY_ITER = Proxy.__iter__
_instructions: dict[Any, tuple[list[int], list[dis.Instruction]]] = {}
_iter_depth = 0


def _unpack_count(code: Any, lasti: int) -> int | None:
    entry = _instructions.get(code)
    if entry is None:
        if len(_instructions) > 4096:
            _instructions.clear()
        found = list(dis.get_instructions(code))
        entry = _instructions[code] = ([i.offset for i in found], found)
    offsets, found = entry
    index = bisect_left(offsets, lasti) if sys.version_info >= (3, 11) else lasti // 2
    inst = found[index]
    return inst.argval if inst.opname == "UNPACK_SEQUENCE" else None


def _cached_proxy_iter(self: Any) -> Any:
    frame = inspect.currentframe()
    caller = frame.f_back if frame is not None else None
    if caller is None:
        return _FX_PROXY_ITER(self)
    count = _unpack_count(caller.f_code, caller.f_lasti)
    if count is not None:
        return (self[i] for i in range(count))
    return self.tracer.iter(self)


@contextlib.contextmanager
def proxy_unpacking_cached() -> Iterator[None]:
    """fx's ``Proxy.__iter__`` with its bytecode reading cached, for the length of a trace."""
    global _iter_depth
    with _swap_lock:
        if _iter_depth == 0:
            Proxy.__iter__ = _cached_proxy_iter  # type: ignore[method-assign]
        _iter_depth += 1
    try:
        yield
    finally:
        with _swap_lock:
            _iter_depth -= 1
            if _iter_depth == 0:
                Proxy.__iter__ = _FX_PROXY_ITER  # type: ignore[method-assign]

"""The torch calls inside a module that no rule describes, recorded while it runs on meta.

A module fx cannot trace (timm's ``Conv2dSame`` pads by the input's size) and that
the op catalogue does not describe (its ``forward`` is not its parent's) still
calls torch functions the catalogue knows (``F.pad``, ``F.conv2d``): recording
them costs the module from those, instead of counting it as zero.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from cnninspect.engine import compat
from cnninspect.engine.ops.aten_count import counted
from cnninspect.engine.ops.catalogue import COSTS
from cnninspect.engine.ops.registry import Call, kind_of, op_key

_DUNDERS = {
    "__getitem__": operator.getitem, "__add__": operator.add, "__radd__": operator.add,
    "__iadd__": operator.iadd, "__sub__": operator.sub, "__rsub__": operator.sub,
    "__mul__": operator.mul, "__rmul__": operator.mul, "__imul__": operator.imul,
    "__truediv__": operator.truediv, "__matmul__": operator.matmul, "__neg__": operator.neg,
    "__pow__": operator.pow, "__rpow__": operator.pow, "__rdiv__": operator.truediv,
    "__floordiv__": operator.floordiv, "__rfloordiv__": operator.floordiv,
    "__rmatmul__": operator.matmul,
}  # fmt: skip


def spelling(func: Any) -> tuple[str, Any] | None:
    """(op, target) as the tracer would have recorded ``func``; None for what it would not."""
    owner = getattr(func, "__objclass__", None)
    if owner is None:
        if _python_tensor_method(func):  # torch.Tensor.split and __rsub__ are written in Python
            owner = compat.TensorBase
        else:
            return "call_function", func
    if not issubclass(owner, compat.TensorBase):
        return None  # a property read (``x.shape``)
    name = func.__name__
    if name.startswith("__"):
        target = _DUNDERS.get(name)
        return ("call_function", target) if target is not None else None
    return "call_method", name


def _python_tensor_method(func: Any) -> bool:
    name = getattr(func, "__name__", "")
    qualname = getattr(func, "__qualname__", "")
    return qualname == f"Tensor.{name}" and getattr(torch.Tensor, name, None) is not None


@dataclass
class _Frame:
    name: str
    costed: bool  # the module has a cost rule: what runs inside it is its business
    recorded: int = 0


class InnerCalls(TorchFunctionMode):
    """Records tensor-producing torch calls made while the innermost running module has no cost rule.

    ``sink``, when given, receives each (name, call) as it happens instead of ``calls``, so a
    caller can keep them in order with records of its own (the hook fallback's module rows).
    """

    def __init__(self, sink: Callable[[str, Call], None] | None = None) -> None:
        super().__init__()
        self.calls: list[tuple[str, Call]] = []
        self.frames: list[_Frame] = []
        self.sink = sink if sink is not None else lambda name, call: self.calls.append((name, call))

    def enter(self, name: str, module: nn.Module, costed: bool | None = None) -> None:
        """``costed``: whether the module accounts for what runs inside it (default: it has a cost rule)."""
        if costed is None:
            costed = COSTS.lookup(type(module)) is not None
        self.frames.append(_Frame(name, costed))

    def leave(self) -> _Frame:
        return self.frames.pop()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        frame = self.frames[-1] if self.frames else None
        spelled = spelling(func) if frame is not None and not frame.costed else None
        if spelled is None:
            return func(*args, **kwargs)
        op, target = spelled
        extra: dict[str, Any] = {}
        if COSTS.lookup(op_key(op, target, None)) is None:  # no rule: count its aten ops as it runs
            out, extra["aten_cost"] = counted(func, args, kwargs)
        else:
            out = func(*args, **kwargs)
        if _has_tensor(out):
            kind = kind_of(op, target)
            name = f"{frame.name}.{kind}" if frame.name else kind
            self.sink(name, Call(op, target, kind, tuple(args), dict(kwargs), None, out, extra))
            frame.recorded += 1
        return out


def _has_tensor(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    return isinstance(value, (tuple, list)) and any(isinstance(v, torch.Tensor) for v in value)

"""Autocast on meta tensors: torch's autocast keys only act on CPU and CUDA tensors.

A ``TorchFunctionMode`` sits where autocast does, above autograd, and casts the
floating inputs of the ops autocast runs in lower precision, so autograd saves the
low-precision copies just as it does under ``torch.autocast``. As in torch, a cast of a
leaf that requires grad (a weight) is made once per forward and reused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

# torch's autocast "lower precision" list (aten/src/ATen/autocast_mode.cpp), at the
# Python functions that reach those ops
LOWER_PRECISION = {
    F.conv1d, F.conv2d, F.conv3d, F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d,
    F.linear, F.prelu, F.scaled_dot_product_attention,
    torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.mm, torch.Tensor.mm,
    torch.bmm, torch.Tensor.bmm, torch.addmm, torch.baddbmm, torch.addbmm,
}  # fmt: skip


class MetaAutocast(TorchFunctionMode):
    """Casts float32 inputs of the lower-precision ops to ``dtype``."""

    def __init__(self, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype
        self.cache: dict[int, torch.Tensor] = {}

    def _cast(self, v):
        if not isinstance(v, torch.Tensor) or v.dtype != torch.float32:
            return v
        if v.is_leaf and v.requires_grad:
            hit = self.cache.get(id(v))
            if hit is None:
                hit = self.cache[id(v)] = v.to(self.dtype)
            return hit
        return v.to(self.dtype)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in LOWER_PRECISION:
            args = tuple(self._cast(a) for a in args)
            kwargs = {k: self._cast(v) for k, v in kwargs.items()}
        return func(*args, **kwargs)


_CHECKS = ("has_torch_function", "has_torch_function_unary", "has_torch_function_variadic")


@contextlib.contextmanager
def meta_autocast(dtype: torch.dtype | None) -> Iterator[None]:
    """:class:`MetaAutocast` for the replay, with ``torch.nn.functional``'s own override
    checks off: a Python function there (``multi_head_attention_forward``) would hand
    itself to the mode, and torch pops a mode while it handles a call, so the linear
    layers inside would run uncast. Its builtins still reach the mode."""
    if dtype is None:
        yield
        return
    saved = {name: getattr(F, name) for name in _CHECKS}
    for name in _CHECKS:
        setattr(F, name, _never)
    try:
        with MetaAutocast(dtype):
            yield
    finally:
        for name, check in saved.items():
            setattr(F, name, check)


def _never(*args) -> bool:
    return False

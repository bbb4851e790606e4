"""Autocast on meta tensors: torch's autocast keys only act on CPU and CUDA tensors.

A ``TorchFunctionMode`` sits where autocast does, above autograd, and casts the
floating inputs of the ops autocast runs in lower precision, so autograd saves the
low-precision copies just as it does under ``torch.autocast``. As in torch, a cast of a
leaf that requires grad (a weight) is made once per forward and reused.
"""

from __future__ import annotations

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

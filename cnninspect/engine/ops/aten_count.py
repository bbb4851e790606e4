"""The cost of a call no rule describes, counted from the aten ops it runs.

A torch function the catalogue has no entry for (``F.multi_head_attention_forward``,
which WavLM calls with its own projection weights; ``torch.cdist``) still reaches
torch's kernels through aten. Counting there, while the call runs on meta tensors,
prices it op by op:

- matrix products and convolutions by ``torch.utils.flop_counter``'s formulas, and the
  few it has none for (``mv``, ``dot``, ``addbmm``, CPU attention, ``cdist``) by ours;
- pointwise kernels at one FLOP per output element, reductions at one per input element,
  softmax and the norms at one per output element (the catalogue's conventions);
- views, copies, concatenations and tensor creation at nothing.

An aten op that multiplies and adds but that no formula covers (``linalg_*``, FFTs,
fused RNN kernels) makes the whole call's cost unknown, by name, instead of zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import flop_registry

from cnninspect.engine.compat import TorchDispatchMode
from cnninspect.engine.ops.macs import Cost


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(t.shape)


def _attention(q: Any, k: Any, v: Any, *_: Any, **__: Any) -> int:
    """q @ k^T and weights @ v: B*H*L*S*(E + Ev)."""
    *lead, length, e = _shape(q)
    return math.prod(lead) * length * _shape(k)[-2] * (e + _shape(v)[-1])


def _cdist(x1: Any, x2: Any, *_: Any, **__: Any) -> int:
    """One multiply-add per feature per pair of rows (the squared differences summed)."""
    *lead, p, m = _shape(x1)
    return math.prod(lead) * p * _shape(x2)[-2] * m


_OURS: dict[str, Callable[..., int]] = {  # MACs of aten ops torch's counter has no formula for
    "mv": lambda a, b, *_, **__: a.numel(),
    "dot": lambda a, b, *_, **__: a.numel(),
    "vdot": lambda a, b, *_, **__: a.numel(),
    "addmv": lambda c, a, b, *_, **__: a.numel(),
    "addbmm": lambda c, a, b, *_, **__: a.numel() * _shape(b)[-1],
    "_scaled_dot_product_flash_attention_for_cpu": _attention,
    "_scaled_dot_product_attention_math": _attention,
    "_cdist_forward": _cdist,
}
_PER_OUTPUT = {"_softmax", "_log_softmax", "native_layer_norm", "native_group_norm",
               "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
               "cumsum", "cumprod", "logcumsumexp"}  # fmt: skip
_MACS_UNCOUNTED = ("linalg_", "_linalg_", "fft_", "_fft_", "lstm", "gru", "rnn_", "_thnn_fused",
                   "cholesky", "triangular_solve", "_cdist_backward", "tensordot", "kron")  # fmt: skip


class _AtenCount(TorchDispatchMode):
    """Sums MACs and FLOPs of the aten ops run under it; names the ones it cannot price."""

    def __init__(self) -> None:
        super().__init__()
        self.macs = 0
        self.flops = 0
        self.unpriced: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func._overloadpacket
        name = packet.__name__
        formula = flop_registry.get(packet)
        if formula is not None:
            macs = formula(*args, **kwargs, out_val=out) // 2  # torch counts 2 FLOPs a MAC
            self.macs, self.flops = self.macs + macs, self.flops + 2 * macs
        elif name in _OURS:
            macs = _OURS[name](*args, **kwargs)
            self.macs, self.flops = self.macs + macs, self.flops + 2 * macs
        elif torch.Tag.pointwise in func.tags or name in _PER_OUTPUT:
            self.flops += _numel(out)
        elif torch.Tag.reduction in func.tags:
            self.flops += _numel(args[0]) if args else 0
        elif name.startswith(_MACS_UNCOUNTED):
            self.unpriced.append(str(packet))
        return out


def _numel(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel()
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0].numel()  # the result of a (result, statistics...) kernel
    return 0


def counted(func: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[Any, Cost | None]:
    """``func(*args, **kwargs)`` and what its aten ops cost; None when one of them cannot be priced."""
    with _AtenCount() as count:
        out = func(*args, **kwargs)
    return out, None if count.unpriced else Cost(count.macs, count.flops)

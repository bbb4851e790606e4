"""Independent oracles the tests hold cnninspect's figures to: torch's own flop counter on a real forward.

Nothing here imports cnninspect, so a wrong rule in the package cannot make its oracle agree with it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def counted_macs(model: nn.Module, *inputs: torch.Tensor) -> int:
    """MACs of one real forward as ``torch.utils.flop_counter`` counts them (its FLOPs are 2 x MACs)."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    flops = counter.get_total_flops()
    assert flops % 2 == 0, flops
    return flops // 2


def counted_macs_by_op(model: nn.Module, *inputs: torch.Tensor) -> dict[str, int]:
    """The same count split by aten op name (``convolution``, ``mm``, ...), for messages and per-kind checks."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    return {str(op).split(".")[-1]: n // 2 for op, n in counter.get_flop_counts()["Global"].items()}


def hooked_forward(model: nn.Module, x: torch.Tensor, modules, record) -> torch.Tensor:
    """A real forward of ``model`` under ``no_grad`` calling ``record(path, output)`` for each call
    of the ``(path, module)`` pairs given; the hooks are removed afterwards, also on an error."""
    handles = [m.register_forward_hook(lambda mod, a, out, _n=n: record(_n, out)) for n, m in modules]
    try:
        with torch.no_grad():
            return model(x)
    finally:
        for h in handles:
            h.remove()

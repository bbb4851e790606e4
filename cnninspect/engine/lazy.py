"""Lazy modules (``nn.LazyLinear``, an ``UninitializedParameter``) materialised by a dry forward on meta.

A lazy parameter has no shape until the first forward, so neither a count nor a rule
can read it (``LazyLinear`` reports ``in_features=0``). The summary runs that first
forward itself, on a copy whose every tensor is a meta stand-in: no memory, no
arithmetic, and the user's model keeps its uninitialised parameters.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.nn.parameter import is_lazy

from cnninspect.engine.inputs import InputSpec
from cnninspect.engine.inventory import Inventory
from cnninspect.errors import ModelError


def has_lazy(tree: Inventory) -> bool:
    return any(is_lazy(t) for _, t in tree.params + tree.buffers)


def materialised(model: nn.Module, spec: InputSpec, notes: list[str]) -> nn.Module:
    """A meta copy of ``model`` after one forward of ``spec``'s input, its lazy tensors shaped."""
    names = [n for n, p in model.named_parameters() if is_lazy(p)]
    try:
        twin = copy.deepcopy(model, _meta_memo(model))
        inputs = spec.build()
        with torch.no_grad(), torch.device("meta"):
            twin(*inputs.args, **inputs.kwargs)
    except Exception as exc:
        raise ModelError(
            f"{type(model).__name__} holds uninitialised (lazy) parameters "
            f"({', '.join(names[:3]) or 'buffers'}) and a dry forward on the meta device to shape "
            f"them failed ({type(exc).__name__}: {_first_line(exc)}); run the model once on a real "
            "batch, model(x), before summarising it"
        ) from exc
    left = [n for n, p in twin.named_parameters() if is_lazy(p)]
    if left:
        raise ModelError(
            f"{type(model).__name__}: a dry forward left lazy parameters unshaped ({', '.join(left[:3])}); "
            "forward never used them: run the model once on a real batch before summarising it"
        )
    notes.append(
        f"lazy parameters ({', '.join(names[:3]) or 'buffers'}{', ...' if len(names) > 3 else ''}) "
        "were shaped by a dry forward on the meta device, on a copy: the model itself is unchanged"
    )
    return twin


def _meta_memo(model: nn.Module) -> dict[int, torch.Tensor]:
    """deepcopy's memo, seeded so every parameter and buffer is copied as a meta stand-in
    (an uninitialised one stays uninitialised, on meta); sharing is kept."""
    memo: dict[int, torch.Tensor] = {}
    for t in list(model.parameters()) + list(model.buffers()):
        memo[id(t)] = _meta_twin(t)
    return memo


def _meta_twin(t: torch.Tensor) -> torch.Tensor:
    grad = t.requires_grad
    if is_lazy(t):  # torch's stubs omit the device and dtype these constructors take
        uninitialised: Any = type(t)
        return uninitialised(requires_grad=grad, device="meta", dtype=t.dtype)
    twin = torch.empty_like(t, device="meta")
    return nn.Parameter(twin, requires_grad=grad) if isinstance(t, nn.Parameter) else twin


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__

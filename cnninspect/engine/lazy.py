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

from cnninspect.engine.hookpass import needs_real_values
from cnninspect.engine.inputs import InputSpec
from cnninspect.engine.inventory import Inventory
from cnninspect.errors import ModelError


def has_lazy(tree: Inventory) -> bool:
    return any(is_lazy(t) for _, t in tree.params + tree.buffers)


def materialised(model: nn.Module, spec: InputSpec, notes: list[str]) -> nn.Module:
    """A meta copy of ``model`` after one forward of ``spec``'s input, its lazy tensors shaped."""
    names = [n for n, p in model.named_parameters() if is_lazy(p)]
    try:
        twin = copy.deepcopy(model, _memo(model, _meta_twin))
        inputs = spec.build()
        with torch.no_grad(), torch.device("meta"):
            twin(*inputs.args, **inputs.kwargs)
    except Exception as exc:
        if needs_real_values(exc) and not _on_meta(model):  # a branch on a value: run it for real
            notes.append(
                f"lazy parameters ({', '.join(names[:3])}) were initialised by one real forward "
                "on random input, on a copy (the forward reads values): the model is unchanged"
            )
            return initialised_copy(model, spec)
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
            "forward never uses them, so nothing gives them a shape: remove them, or replace them "
            "by layers of a known size"
        )
    notes.append(
        f"lazy parameters ({', '.join(names[:3]) or 'buffers'}{', ...' if len(names) > 3 else ''}) "
        "were shaped by a dry forward on the meta device, on a copy: the model itself is unchanged"
    )
    return twin


def initialised_copy(model: nn.Module, spec: InputSpec, device: Any = None) -> nn.Module:
    """A real copy of ``model`` whose lazy tensors one no-grad forward on random input has
    initialised, for what needs real weights (``verify``'s forward); the model is unchanged."""
    try:
        twin = copy.deepcopy(model, _memo(model, _real_twin))
        args, kwargs = spec.build().make_real(device or "cpu")
        with torch.no_grad():
            twin(*args, **kwargs)
    except Exception as exc:
        raise ModelError(
            f"{type(model).__name__} holds uninitialised (lazy) parameters and one forward on a "
            f"copy to initialise them failed ({type(exc).__name__}: {_first_line(exc)}); run the "
            "model once on a real batch, model(x), first"
        ) from exc
    return twin


def _memo(model: nn.Module, twin: Any) -> dict[int, torch.Tensor]:
    """deepcopy's memo: each parameter and buffer mapped to ``twin(tensor)``, once (sharing kept)."""
    return {id(t): twin(t) for t in list(model.parameters()) + list(model.buffers())}


def _real_twin(t: torch.Tensor) -> torch.Tensor:
    """A clone; a lazy tensor a fresh uninitialised one (deepcopy refuses UninitializedBuffer)."""
    if is_lazy(t):
        uninitialised: Any = type(t)
        return uninitialised(requires_grad=t.requires_grad, device=t.device, dtype=t.dtype)
    clone = t.detach().clone()
    return (
        nn.Parameter(clone, requires_grad=t.requires_grad) if isinstance(t, nn.Parameter) else clone
    )


def _meta_twin(t: torch.Tensor) -> torch.Tensor:
    """A meta stand-in; a lazy tensor stays uninitialised, on meta."""
    grad = t.requires_grad
    if is_lazy(t):  # torch's stubs omit the device and dtype these constructors take
        uninitialised: Any = type(t)
        return uninitialised(requires_grad=grad, device="meta", dtype=t.dtype)
    twin = torch.empty_like(t, device="meta")
    return nn.Parameter(twin, requires_grad=grad) if isinstance(t, nn.Parameter) else twin


def _on_meta(model: nn.Module) -> bool:
    return any(t.device.type == "meta" for t in list(model.parameters()) + list(model.buffers()))


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__

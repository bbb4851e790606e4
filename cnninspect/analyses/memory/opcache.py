"""Meta results remembered by input metadata: most of a replay's time is torch's Python
meta kernels (elementwise broadcasting, batch-norm backward...), and a network repeats
the same op on the same shapes block after block, forward and backward.

Only ops that make fresh outputs qualify: no output aliases an input and nothing is
written in place, so an output is fully described by its shape, strides and dtype and
can be made with ``empty_strided`` instead of running the kernel again.
"""

from __future__ import annotations

from typing import Any

import torch

from cnninspect.engine.compat import tree_flatten, tree_unflatten

_LIMIT = 50_000
_CACHE: dict[tuple, tuple] = {}
_FRESH: dict[Any, bool] = {}  # op overload -> makes fresh outputs only


def fresh_only(func: Any) -> bool:
    """Whether ``func`` neither aliases nor mutates (read from its schema, once)."""
    known = _FRESH.get(func)
    if known is None:
        schema = func._schema
        known = _FRESH[func] = not schema.is_mutable and not any(
            r.alias_info is not None for r in schema.returns
        ) and "rand" not in schema.name and "dropout" not in schema.name
    return known


def key_of(func: Any, args: tuple, kwargs: dict) -> tuple | None:
    """Hashable metadata of a call, or None when some argument has none."""
    leaves, spec = tree_flatten((args, kwargs))
    parts: list[Any] = [func, spec]
    for v in leaves:
        if isinstance(v, torch.Tensor):
            parts.append((tuple(v.shape), v.stride(), v.dtype, v.device.type))
        elif v is None or isinstance(v, (int, float, bool, str, torch.dtype, torch.memory_format)):
            parts.append((type(v), v))
        else:
            return None
    return tuple(parts)


def lookup(key: tuple) -> Any:
    """The outputs for a remembered call, made afresh on meta; None when not remembered."""
    hit = _CACHE.get(key)
    if hit is None:
        return None
    spec, metas = hit
    outs = [
        torch.empty_strided(shape, stride, dtype=dtype, device="meta") if shape is not None else value
        for shape, stride, dtype, value in metas
    ]
    return tree_unflatten(outs, spec)


def remember(key: tuple, out: Any) -> None:
    leaves, spec = tree_flatten(out)
    metas = []
    for t in leaves:
        if isinstance(t, torch.Tensor):
            if t.device.type != "meta" or t.untyped_storage().nbytes() != _extent(t):
                return  # an output on a bigger storage than its view: not remade faithfully
            metas.append((tuple(t.shape), t.stride(), t.dtype, None))
        elif t is None or isinstance(t, (int, float, bool)):
            metas.append((None, None, None, t))
        else:
            return
    if len(_CACHE) >= _LIMIT:
        _CACHE.clear()
    _CACHE[key] = (spec, metas)


def _extent(t: torch.Tensor) -> int:
    if t.numel() == 0:
        return 0
    span = 1 + sum((n - 1) * s for n, s in zip(t.shape, t.stride()))
    return (t.storage_offset() + span) * t.element_size()

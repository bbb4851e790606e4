"""Normalise what a user passes as the model's input into meta values (and real ones on demand)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_map

from cnninspect.errors import InputShapeError, OptionError

Shape = tuple[int, ...]


@dataclass
class Inputs:
    """The model's inputs as meta values, plus how to make real ones for the hook fallback."""

    args: tuple
    kwargs: dict
    shapes: list[Shape]
    real_args: tuple | None = None  # the user's own tensors, when given
    real_kwargs: dict | None = None

    def make_real(self, device: torch.device | str) -> tuple[tuple, dict]:
        if self.real_args is not None:
            move = lambda v: v.to(device) if isinstance(v, torch.Tensor) else v  # noqa: E731
            return tree_map(move, self.real_args), tree_map(move, self.real_kwargs or {})

        def fake(v: Any) -> Any:
            if isinstance(v, torch.Tensor):
                if v.dtype.is_floating_point or v.dtype.is_complex:
                    g = torch.Generator().manual_seed(0)
                    return torch.randn(v.shape, generator=g, dtype=v.dtype).to(device)
                return torch.zeros(v.shape, dtype=v.dtype, device=device)
            return v

        return tree_map(fake, self.args), tree_map(fake, self.kwargs)


def parse_shape(value: Any, where: str = "input_shape") -> Shape:
    """A shape from a tuple/list of ints or a string like ``1,3,224,224`` or ``1x3x224x224``."""
    if isinstance(value, str):
        sep = "," if "," in value else "x"
        parts = [p.strip() for p in value.strip().split(sep)]
        try:
            value = [int(p) for p in parts]
        except ValueError:
            raise InputShapeError(
                f"{where} {value!r} is not a list of integers; write it as N,C,H,W, e.g. 1,3,224,224"
            ) from None
    if isinstance(value, torch.Size):
        value = tuple(value)
    if not isinstance(value, (tuple, list)) or not value:
        raise InputShapeError(
            f"{where} must be a non-empty tuple of positive ints such as (1, 3, 224, 224), got {value!r}"
        )
    for dim in value:
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise InputShapeError(
                f"{where} {tuple(value)!r} holds {dim!r} ({type(dim).__name__}); every size must be an int"
            )
        if dim <= 0:
            raise InputShapeError(
                f"{where} {tuple(value)!r} has a size of {dim}; every size must be a positive int"
            )
    return tuple(value)


def _is_shape_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, (tuple, list, torch.Size, str)) for v in value)
    )


def build_inputs(
    model: nn.Module,
    input_shape: Any = None,
    input_data: Any = None,
    dtype: torch.dtype | Sequence[torch.dtype] | None = None,
) -> Inputs:
    """Meta inputs from ``input_shape`` (one shape or a list of shapes) or ``input_data``."""
    if input_shape is None and input_data is None:
        default = getattr(model, "default_input_shape", None)
        if default is None:
            raise InputShapeError(
                "no input given: pass input_shape, e.g. summarize(model, (1, 3, 224, 224)), or input_data"
            )
        input_shape = default
    if input_shape is not None and input_data is not None:
        raise OptionError("pass input_shape or input_data, not both")

    if input_data is not None:
        if isinstance(input_data, dict):
            args, kwargs = (), dict(input_data)
        elif isinstance(input_data, (list, tuple)):
            args, kwargs = tuple(input_data), {}
        else:
            args, kwargs = (input_data,), {}
        meta = lambda v: (  # noqa: E731
            torch.empty_like(v, device="meta", memory_format=torch.preserve_format)
            if isinstance(v, torch.Tensor)
            else v
        )
        shapes = [tuple(t.shape) for t in _tensors((args, kwargs))]
        if not shapes:
            raise InputShapeError(f"input_data holds no tensor (got {type(input_data).__name__})")
        return Inputs(tree_map(meta, args), tree_map(meta, kwargs), shapes, args, kwargs)

    shapes = (
        [parse_shape(s, f"input_shape[{i}]") for i, s in enumerate(input_shape)]
        if _is_shape_list(input_shape)
        else [parse_shape(input_shape)]
    )
    dtypes = _dtypes(dtype, len(shapes))
    args = tuple(torch.empty(s, dtype=d, device="meta") for s, d in zip(shapes, dtypes))
    return Inputs(args, {}, shapes)


def _dtypes(dtype: Any, n: int) -> list[torch.dtype]:
    if dtype is None:
        return [torch.get_default_dtype()] * n
    if isinstance(dtype, torch.dtype):
        return [dtype] * n
    if (
        isinstance(dtype, (list, tuple))
        and len(dtype) == n
        and all(isinstance(d, torch.dtype) for d in dtype)
    ):
        return list(dtype)
    raise OptionError(f"dtype must be a torch.dtype or a list of {n} of them, got {dtype!r}")


def _tensors(value: Any) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []
    tree_map(lambda v: out.append(v) if isinstance(v, torch.Tensor) else None, value)
    return out


def concrete_defaults(model: nn.Module, n_args: int, kwargs: dict) -> dict[str, Any]:
    """Forward parameters the caller leaves at their defaults, pinned for tracing.

    Without this fx would trace ``if mask is not None`` with a Proxy for ``mask``.
    """
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return {}
    out = {}
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for p in positional[n_args:]:
        if p.name not in kwargs and p.default is not inspect.Parameter.empty:
            out[p.name] = p.default
    for p in params:
        if (
            p.kind == p.KEYWORD_ONLY
            and p.name not in kwargs
            and p.default is not inspect.Parameter.empty
        ):
            out[p.name] = p.default
    return out


def check_arity(model: nn.Module, n_args: int, kwargs: dict) -> None:
    """A forward that needs more inputs than given is the user's input error, said plainly."""
    try:
        sig = inspect.signature(model.forward)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(*([None] * n_args), **{k: None for k in kwargs})
    except TypeError as exc:
        raise InputShapeError(
            f"{type(model).__name__}.forward{sig} cannot take {n_args} positional input(s)"
            f"{' and ' + ', '.join(kwargs) if kwargs else ''}: {exc}; pass one shape per input, "
            "e.g. input_shape=[(1, 3, 32, 32), (1, 10)]"
        ) from None

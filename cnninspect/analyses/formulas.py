"""Reference formulas: what the chapter's NumPy calculators say an op should give.

Each op family's entry in the catalogue names one of these by name (the engine,
which holds the catalogue, does not import the analyses). A formula reads the
module's configuration and the input shapes the op really received, and hands
the arithmetic to :mod:`cnninspect.analyses.reference` (NumPy only, no torch),
so :func:`cnninspect.verify` gets a second opinion that shares no code with the
shape and cost rules. ``None`` means the formula has nothing to say about this call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cnninspect.analyses import reference as ref
from cnninspect.engine.ops.ranks import adaptive_rank, pool_rank

Shape = tuple[int, ...]


@dataclass
class Formula:
    """The reference figures of one call; a field a formula cannot speak for is None."""

    shape: list[Shape] | None = None
    params: int | None = None
    macs: int | None = None


@dataclass
class Seen:
    """What an op received: its tensor inputs' shapes and how many arguments it was given."""

    input_shapes: list[Shape]
    arg_count: int


def resolve(rule: Any) -> Any:
    """A catalogue part as a function: built-in entries name the functions of this module."""
    return globals()[rule] if isinstance(rule, str) else rule


def _axes(value: Any, dims: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims


def conv(module: Any, seen: Seen) -> Formula | None:
    if module is None:
        return None
    x = seen.input_shapes[0]
    dims = len(module.kernel_size)
    padding = module.padding
    pads = padding if not isinstance(padding, str) else (padding,) * dims
    spatial = [
        int(ref.conv_output_size(n, k, s, p, d))
        for n, k, s, p, d in zip(x[-dims:], module.kernel_size, module.stride, pads, module.dilation)
    ]
    out = (*x[: -dims - 1], module.out_channels, *spatial)
    kernel = tuple(module.kernel_size)
    bias = module.bias is not None
    params = ref.conv_params(module.in_channels, module.out_channels, kernel, module.groups, bias, dims)
    macs = ref.conv_macs(math.prod(out), module.in_channels, kernel, module.groups, dims)
    return Formula([out], int(params), int(macs))


def conv_transpose(module: Any, seen: Seen) -> Formula | None:
    if module is None:
        return None
    x = seen.input_shapes[0]
    dims, kernel = len(module.kernel_size), tuple(module.kernel_size)
    bias = module.bias is not None
    params = int(ref.conv_transpose_params(module.in_channels, module.out_channels, kernel, module.groups, bias, dims))
    if seen.arg_count > 1:  # an explicit output_size decides the shape
        return Formula(None, params, None)
    spatial = [
        int(ref.conv_transpose_output_size(n, k, s, p, op, d))
        for n, k, s, p, op, d in zip(
            x[-dims:], kernel, module.stride, module.padding, module.output_padding, module.dilation
        )
    ]
    out = (*x[: -dims - 1], module.out_channels, *spatial)
    macs = ref.conv_transpose_macs(math.prod(x), module.out_channels, kernel, module.groups, dims)
    return Formula([out], params, int(macs))


def linear(module: Any, seen: Seen) -> Formula | None:
    if module is None:
        return None
    x = seen.input_shapes[0]
    out = (*x[:-1], module.out_features)
    params = ref.linear_params(module.in_features, module.out_features, module.bias is not None)
    return Formula([out], int(params), int(ref.linear_macs(math.prod(out), module.in_features)))


def batch_norm(module: Any, seen: Seen) -> Formula | None:
    """A scale and a shift per channel when affine."""
    if module is None:
        return None
    return Formula([seen.input_shapes[0]], int(ref.batch_norm_params(module.num_features, module.affine)), 0)


def group_norm(module: Any, seen: Seen) -> Formula | None:
    if module is None:
        return None
    return Formula([seen.input_shapes[0]], int(ref.batch_norm_params(module.num_channels, module.affine)), 0)


def layer_norm(module: Any, seen: Seen) -> Formula | None:
    if module is None:
        return None
    n = math.prod(module.normalized_shape)
    bias = getattr(module, "bias", None) is not None
    params = ref.layer_norm_params(n, module.elementwise_affine, bias)
    return Formula([seen.input_shapes[0]], int(params), 0)


def _indexed(out: Shape, module: Any) -> list[Shape]:
    return [out, out] if getattr(module, "return_indices", False) else [out]


def pool(module: Any, seen: Seen) -> Formula | None:
    if module is None:
        return None
    x, dims = seen.input_shapes[0], pool_rank(module)
    k = _axes(module.kernel_size, dims)
    s = _axes(module.stride if module.stride is not None else module.kernel_size, dims)
    p, d = _axes(module.padding, dims), _axes(getattr(module, "dilation", 1), dims)
    spatial = [
        int(ref.pool_output_size(n, kk, ss, pp, dd, module.ceil_mode)) for n, kk, ss, pp, dd in zip(x[-dims:], k, s, p, d)
    ]
    return Formula(_indexed((*x[:-dims], *spatial), module), 0, 0)


def adaptive_pool(module: Any, seen: Seen) -> Formula | None:
    if module is None:
        return None
    x, dims = seen.input_shapes[0], adaptive_rank(module)
    size = _axes(module.output_size, dims)
    out = (*x[:-dims], *(n if o is None else o for n, o in zip(x[-dims:], size)))
    return Formula(_indexed(out, module), 0, 0)


def flatten(module: Any, seen: Seen) -> Formula | None:
    if module is None:
        return None
    x = seen.input_shapes[0]
    start, end = module.start_dim % len(x), module.end_dim % len(x)
    return Formula([(*x[:start], math.prod(x[start : end + 1]), *x[end + 1 :])], 0, 0)


def embedding(module: Any, seen: Seen) -> Formula | None:
    if module is None:
        return None
    x = seen.input_shapes[0]
    return Formula([(*x, module.embedding_dim)], module.num_embeddings * module.embedding_dim, 0)


def same_shape(module: Any, seen: Seen) -> Formula | None:
    """Activations, dropout, copies: the output has the input's shape and no weights."""
    if len(seen.input_shapes) != 1:
        return None
    return Formula([seen.input_shapes[0]], 0, 0)


def prelu(module: Any, seen: Seen) -> Formula | None:
    if module is None:
        return same_shape(module, seen)
    return Formula([seen.input_shapes[0]], module.num_parameters, 0)


def broadcast(module: Any, seen: Seen) -> Formula | None:
    """Elementwise arithmetic on two tensors: NumPy's broadcasting, which torch follows."""
    if len(seen.input_shapes) != 2:
        return None
    import numpy as np

    try:
        return Formula([tuple(int(d) for d in np.broadcast_shapes(*seen.input_shapes))], 0, 0)
    except ValueError:
        return None


# --- receptive-field steps: the chapter's recurrence reads (kernel, stride, padding, dilation) ---

Step = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def conv_step(module: Any, dims: int) -> Step | None:
    if len(module.kernel_size) != dims:
        return None
    if isinstance(module.padding, str):
        pads = tuple(
            0 if module.padding == "valid" else (d * (k - 1)) // 2
            for k, d in zip(module.kernel_size, module.dilation)
        )
    else:
        pads = tuple(module.padding)
    return tuple(module.kernel_size), tuple(module.stride), pads, tuple(module.dilation)


def pool_step(module: Any, dims: int) -> Step | None:
    if pool_rank(module) != dims:
        return None
    stride = module.stride if module.stride is not None else module.kernel_size
    return (
        _axes(module.kernel_size, dims), _axes(stride, dims),
        _axes(module.padding, dims), _axes(getattr(module, "dilation", 1), dims),
    )  # fmt: skip

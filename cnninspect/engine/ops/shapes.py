"""Shape rules: a layer's output from its input's shape, without running it.

Each rule validates its input the way the layer would and raises
:class:`~cnninspect.errors.InputShapeError` with a message that says what it got
and what it expected. Ops without a rule are executed on the meta device instead
(see :mod:`cnninspect.engine.propagate`); tests check every rule against that.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnninspect.engine.ops.ranks import adaptive_rank, pool_rank
from cnninspect.engine.ops.registry import Call
from cnninspect.errors import InputShapeError


def meta(shape, dtype: torch.dtype) -> torch.Tensor:
    return torch.empty(tuple(shape), dtype=dtype, device="meta")


def _ntuple(value, n: int) -> tuple:
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            return tuple(value) * n
        return tuple(value)
    return (value,) * n


def _fmt(shape) -> str:
    return "x".join(str(int(d)) for d in shape) if len(shape) else "scalar"


def _spatial_input(x: torch.Tensor, dims: int, what: str) -> tuple[bool, tuple[int, ...]]:
    """(batched, shape) after checking the rank a ``dims``-D layer accepts."""
    if not isinstance(x, torch.Tensor):
        raise InputShapeError(f"expects a tensor input, got {type(x).__name__}")
    if x.dim() not in (dims + 1, dims + 2):
        raise InputShapeError(
            f"{what} expects a {dims + 2}-D input (N, C, {', '.join('DHW'[3 - dims :])}) "
            f"or {dims + 1}-D unbatched, got {x.dim()}-D input of shape {_fmt(x.shape)}"
        )
    return x.dim() == dims + 2, tuple(x.shape)


def _check_size(sizes: list[int], shape, what: str) -> None:
    for axis, size in enumerate(sizes):
        if size < 1:
            raise InputShapeError(
                f"input of shape {_fmt(shape)} is too small: {what} would shrink spatial axis "
                f"{axis} to {size} (it must stay at least 1); use a larger input"
            )


def _conv_input(m, x: torch.Tensor) -> tuple[bool, tuple[int, ...], int]:
    """(batched, shape, spatial rank) of a convolution's input, its channels checked."""
    dims = len(m.kernel_size)
    batched, shape = _spatial_input(x, dims, type(m).__name__)
    channels = shape[1] if batched else shape[0]
    if channels != m.in_channels and not batched and len(shape) > 1 and shape[1] == m.in_channels:
        # 1x3x224 for a Conv2d: an (N, C, H, W) shape missing a dimension, not a 1-channel image
        raise InputShapeError(
            f"the input of shape {_fmt(shape)} has {len(shape)} dimensions, so {type(m).__name__} reads "
            f"it as one unbatched image with {channels} channel(s), not {m.in_channels}; it looks like "
            f"a batched input missing a spatial dimension: give {dims + 2} dimensions (N, C, "
            f"{', '.join('DHW'[3 - dims :])}), e.g. {_fmt(shape + shape[-1:])}"
        )
    if channels != m.in_channels:
        raise InputShapeError(
            f"expects {m.in_channels} input channels (weight {_fmt(m.weight.shape)}) but the input "
            f"of shape {_fmt(shape)} has {channels}; give the input {m.in_channels} channels"
        )
    return batched, shape, dims


def _conv_output(m, x: torch.Tensor, batched: bool, shape: tuple[int, ...], out: list[int]) -> torch.Tensor:
    lead = (shape[0], m.out_channels) if batched else (m.out_channels,)
    return meta(lead + tuple(out), x.dtype)


def conv(call: Call) -> torch.Tensor:
    m, x = call.module, call.args[0]
    batched, shape, dims = _conv_input(m, x)
    spatial = shape[-dims:]
    if m.padding == "same":
        out = list(spatial)
    else:
        pad = (0,) * dims if m.padding == "valid" else m.padding
        out = [
            (n + 2 * p - d * (k - 1) - 1) // s + 1
            for n, p, d, k, s in zip(spatial, pad, m.dilation, m.kernel_size, m.stride)
        ]
    _check_size(out, shape, f"{type(m).__name__} (kernel {m.kernel_size}, stride {m.stride})")
    return _conv_output(m, x, batched, shape, out)


def conv_transpose(call: Call) -> torch.Tensor | None:
    m, x = call.module, call.args[0]
    if len(call.args) > 1 or call.kwargs:
        return None  # an explicit output_size: let the layer decide
    batched, shape, dims = _conv_input(m, x)
    out = [
        (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        for n, s, p, d, k, op in zip(
            shape[-dims:], m.stride, m.padding, m.dilation, m.kernel_size, m.output_padding
        )
    ]
    _check_size(out, shape, type(m).__name__)
    return _conv_output(m, x, batched, shape, out)


def linear(call: Call) -> torch.Tensor:
    m = call.module
    x = call.args[0]
    if x.dim() == 0 or x.shape[-1] != m.in_features:
        raise InputShapeError(
            f"expects {m.in_features} input features in the last dimension but got input of shape "
            f"{_fmt(x.shape)}; flatten or resize so the last dimension is {m.in_features}"
        )
    return meta(tuple(x.shape[:-1]) + (m.out_features,), x.dtype)


_BN_RANKS = ((nn.BatchNorm1d, (2, 3)), (nn.BatchNorm2d, (4,)), (nn.BatchNorm3d, (5,)))


def batch_norm(call: Call) -> torch.Tensor:
    m = call.module
    x = call.args[0]
    ranks = next((r for cls, r in _BN_RANKS if isinstance(m, cls)), None)
    if ranks is not None and x.dim() not in ranks:
        raise InputShapeError(
            f"{type(m).__name__} expects a {' or '.join(f'{r}-D' for r in ranks)} input, "
            f"got {x.dim()}-D input of shape {_fmt(x.shape)}"
        )
    if x.dim() < 2 or x.shape[1] != m.num_features:
        raise InputShapeError(
            f"expects {m.num_features} channels in dimension 1 but got input of shape {_fmt(x.shape)}"
        )
    return x


def same(call: Call) -> torch.Tensor:
    return call.args[0] if call.args else next(iter(call.kwargs.values()))




def _broadcast(a: tuple, b: tuple) -> tuple[int, ...] | None:
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and x != 1 and y != 1:
            return None
        out.append(y if x == 1 else x)
    return tuple(reversed(out))


def elementwise_binary(call: Call) -> torch.Tensor | None:
    """Broadcasting arithmetic. Only the plain cases: dtype promotion across a 0-d tensor or an
    int tensor with a float scalar is left to the meta kernel, which knows torch's rules."""
    if len(call.args) != 2 or call.kwargs:
        return None
    a, b = call.args
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.dim() == 0 or b.dim() == 0 or a.dtype != b.dtype:
            return None
        shape = _broadcast(tuple(a.shape), tuple(b.shape))
        if shape is None:
            return None  # let torch say why
        return meta(shape, a.dtype)
    tensor, scalar = (a, b) if isinstance(a, torch.Tensor) else (b, a)
    if (
        not isinstance(tensor, torch.Tensor)
        or not isinstance(scalar, (int, float))
        or isinstance(scalar, bool)
    ):
        return None
    if not tensor.dtype.is_floating_point:
        return None
    return meta(tensor.shape, tensor.dtype)


def _pool_out(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    span = n + 2 * p - d * (k - 1) - 1
    out = (math.ceil(span / s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1  # the last window may not start in the right padding
    return out


def pool(call: Call) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    m = call.module
    x = call.args[0]
    dims = pool_rank(m)
    _, shape = _spatial_input(x, dims, type(m).__name__)
    k = _ntuple(m.kernel_size, dims)
    s = _ntuple(m.stride if m.stride is not None else m.kernel_size, dims)
    p = _ntuple(m.padding, dims)
    d = _ntuple(getattr(m, "dilation", 1), dims)
    for kk, pp in zip(k, p):
        if pp > kk // 2:
            raise InputShapeError(f"padding {p} must be at most half the kernel size {k}")
    if isinstance(m, nn.AvgPool3d) and any(n < kk for n, kk in zip(shape[-dims:], k)):
        # torch's avg_pool3d (unlike the 1-D/2-D ones) wants the unpadded input to hold a window
        raise InputShapeError(
            f"input of shape {_fmt(shape)} is smaller than the AvgPool3d kernel {k}"
        )
    out = [_pool_out(n, kk, ss, pp, dd, m.ceil_mode) for n, kk, ss, pp, dd in zip(shape[-dims:], k, s, p, d)]
    _check_size(out, shape, f"{type(m).__name__} (kernel {k}, stride {s})")
    result = meta(shape[:-dims] + tuple(out), x.dtype)
    if getattr(m, "return_indices", False):
        return result, meta(result.shape, torch.int64)
    return result


def adaptive_pool(call: Call) -> torch.Tensor | None:
    m = call.module
    if getattr(m, "return_indices", False):
        return None
    x = call.args[0]
    dims = adaptive_rank(m)
    _, shape = _spatial_input(x, dims, type(m).__name__)
    size = _ntuple(m.output_size, dims)
    out = tuple(n if o is None else o for n, o in zip(shape[-dims:], size))
    return meta(shape[:-dims] + out, x.dtype)


def _flatten_shape(shape, start: int, end: int) -> tuple[int, ...]:
    rank = len(shape)
    if rank == 0:
        return (1,)
    start, end = start % rank, end % rank
    return tuple(shape[:start]) + (math.prod(shape[start : end + 1]),) + tuple(shape[end + 1 :])


def flatten_module(call: Call) -> torch.Tensor:
    m = call.module
    x = call.args[0]
    return meta(_flatten_shape(x.shape, m.start_dim, m.end_dim), x.dtype)


def flatten(call: Call) -> torch.Tensor:
    x = call.args[0]
    start = call.arg(1, "start_dim", 0)
    end = call.arg(2, "end_dim", -1)
    return meta(_flatten_shape(x.shape, start, end), x.dtype)


def permute(call: Call) -> torch.Tensor | None:
    x = call.args[0]
    dims = call.args[1:] if call.op == "call_method" else (call.arg(1, "dims"),)
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    if (
        not isinstance(x, torch.Tensor)
        or x.dim() == 0
        or any(not isinstance(d, int) or not -x.dim() <= d < x.dim() for d in dims)
        or sorted(d % x.dim() for d in dims) != list(range(x.dim()))
    ):
        return None  # let torch say what is wrong
    return meta(tuple(x.shape[d] for d in dims), x.dtype)


def cat(call: Call) -> torch.Tensor | None:
    tensors = call.arg(0, "tensors")
    dim = call.arg(1, "dim", 0)
    if (
        not isinstance(tensors, (tuple, list))
        or not tensors
        or call.kwargs.keys() - {"dim", "tensors"}
    ):
        return None
    first = tensors[0]
    if not all(
        isinstance(t, torch.Tensor) and t.dtype == first.dtype and t.dim() == first.dim()
        for t in tensors
    ):
        return None  # promotion and legacy empty tensors: the meta kernel knows the rules
    if first.dim() == 0 or not -first.dim() <= dim < first.dim():
        return None  # torch says what is wrong
    dim %= first.dim()
    for t in tensors[1:]:
        if any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != dim):
            return None
    shape = list(first.shape)
    shape[dim] = sum(t.shape[dim] for t in tensors)
    return meta(shape, first.dtype)


def adaptive_pool_functional(call: Call) -> torch.Tensor | tuple | None:
    """The 2-D functions only: their rank is known from which function was called."""
    x = call.args[0]
    if call.target not in _ADAPTIVE_2D or call.arg(2, "return_indices", False) or x.dim() not in (3, 4):
        return None
    size = _ntuple(call.arg(1, "output_size"), 2)
    out = tuple(n if o is None else o for n, o in zip(x.shape[-2:], size))
    return meta(tuple(x.shape[:-2]) + out, x.dtype)


_ADAPTIVE_2D = (F.adaptive_avg_pool2d, F.adaptive_max_pool2d)


def multihead_attention(call: Call) -> tuple | None:
    """(attention output, weights or None) in the layout the layer was built for."""
    m = call.module
    q, k = call.arg(0, "query"), call.arg(1, "key")
    if not isinstance(q, torch.Tensor) or not isinstance(k, torch.Tensor) or q.dim() not in (2, 3):
        return None
    if q.shape[-1] != m.embed_dim:
        raise InputShapeError(
            f"expects queries of {m.embed_dim} features in the last dimension, got shape {_fmt(q.shape)}"
        )
    need_weights = call.arg(4, "need_weights", True)
    average = call.arg(6, "average_attn_weights", True)
    out = meta(q.shape, q.dtype)
    if not need_weights:
        return out, None
    lead: tuple[int, ...] = ()
    if q.dim() == 2:
        q_len, kv_len = q.shape[0], k.shape[0]
    elif m.batch_first:
        q_len, kv_len, lead = q.shape[1], k.shape[1], (q.shape[0],)
    else:
        q_len, kv_len, lead = q.shape[0], k.shape[0], (q.shape[1],)
    heads = () if average else (m.num_heads,)
    return out, meta(lead + heads + (q_len, kv_len), q.dtype)


def __getattr__(name: str):
    if name == "SHAPES":  # the view of the op catalogue, built once the rules above exist
        from cnninspect.engine.ops.catalogue import SHAPES

        return SHAPES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def recurrent(call: Call) -> Any:
    """An RNN/GRU/LSTM over a plain tensor, without running it: on meta tensors torch unrolls
    every time step through Python decompositions (timm's sequencer2d_l took minutes).
    A PackedSequence, an initial state or a bad size is left to the layer itself."""
    m, x = call.module, call.args[0] if call.args else None
    if len(call.args) != 1 or call.kwargs or not isinstance(x, torch.Tensor):
        return None
    if x.dim() not in (2, 3) or x.shape[-1] != m.input_size:
        return None
    directions = 2 if m.bidirectional else 1
    out_size = m.proj_size if getattr(m, "proj_size", 0) else m.hidden_size
    states = directions * m.num_layers
    if x.dim() == 3:
        steps, batch = (x.shape[1], x.shape[0]) if m.batch_first else (x.shape[0], x.shape[1])
        seq: tuple[int, ...] = (batch, steps) if m.batch_first else (steps, batch)
        lead: tuple[int, ...] = (batch,)
    else:
        seq, lead = (x.shape[0],), ()
    out = meta(seq + (directions * out_size,), x.dtype)
    h = meta((states,) + lead + (out_size,), x.dtype)
    if m.mode == "LSTM":
        return out, (h, meta((states,) + lead + (m.hidden_size,), x.dtype))
    return out, h


def reduce(call: Call) -> torch.Tensor | None:
    """``mean``/``sum``/``amax``/``amin`` over given dims (a squeeze-excite's pooling): the
    meta kernel of ``mean`` runs through Python decompositions, a millisecond a call. Anything
    unusual (no dims, a ``dtype`` or ``out``, an integer mean) is left to torch."""
    x = call.args[0] if call.args else None
    if not isinstance(x, torch.Tensor) or len(call.args) > 3 or set(call.kwargs) - {"dim", "keepdim"}:
        return None
    dim, keepdim = call.arg(1, "dim", None), call.arg(2, "keepdim", False)
    if dim is None or not x.is_floating_point() or not isinstance(keepdim, bool):
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if not dims or not all(isinstance(d, int) and -x.dim() <= d < x.dim() for d in dims):
        return None
    axes = {d % x.dim() for d in dims}
    shape = [1 if i in axes else n for i, n in enumerate(x.shape) if keepdim or i not in axes]
    return meta(shape, x.dtype)

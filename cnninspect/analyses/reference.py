"""The chapter's formulas, written out in NumPy: an independent second opinion.

Nothing here imports torch, so the numbers cannot share a bug with the tracer or
with torch's own layers; :mod:`cnninspect.verify` compares the three. Every
calculator takes scalars or arrays (broadcast against each other), so a whole
table of layer configurations is one call::

    >>> conv_output_size([32, 224], kernel=3, padding=1)
    array([ 32, 224])
    >>> conv_params(3, [32, 64], 3)
    array([ 896, 1792])

Conventions: sizes are per spatial axis; ``padding`` may be a number or one of
``"same"``/``"valid"``/``"full"``; parameter counts include the bias unless
``bias=False``; MACs are multiply-accumulates (see :mod:`cnninspect.engine.ops.macs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ReceptiveFieldChain",
    "batch_norm_params",
    "conv2d",
    "conv_macs",
    "conv_output_size",
    "conv_params",
    "conv_transpose_macs",
    "conv_transpose_output_size",
    "conv_transpose_params",
    "effective_kernel",
    "fc_equivalent_params",
    "kernel_elements",
    "layer_norm_params",
    "linear_macs",
    "linear_params",
    "pool_output_size",
    "receptive_field_chain",
]

_PADDING_MODES = ("same", "valid", "full")


def _int(value: ArrayLike) -> NDArray[np.int64]:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iub":
        if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"expected whole numbers, got {value!r}")
    return arr.astype(np.int64)


def _scalar_or_array(arr: NDArray[Any]) -> Any:
    return arr.item() if arr.ndim == 0 else arr


def effective_kernel(kernel: ArrayLike, dilation: ArrayLike = 1) -> Any:
    """The span a dilated kernel covers: ``d*(k-1)+1`` (a 3x3 kernel at dilation 2 spans 5)."""
    return _scalar_or_array(_int(dilation) * (_int(kernel) - 1) + 1)


def _resolve_padding(padding: ArrayLike | str, kernel, stride, dilation, n=None):
    """Total padding per axis (left, right) for a padding number or mode."""
    span = _int(dilation) * (_int(kernel) - 1)
    if isinstance(padding, str):
        if padding not in _PADDING_MODES:
            raise ValueError(
                f"padding {padding!r} is not one of {', '.join(_PADDING_MODES)} or a number"
            )
        if padding == "valid":
            zero = np.zeros_like(span)
            return zero, zero
        if padding == "full":
            return span, span
        # "same": output ceil(n / s); the extra pixel of an odd total goes right (torch, TF)
        s = _int(stride)
        n = _int(n)
        out = -(-n // s)
        total = np.maximum((out - 1) * s + span + 1 - n, 0)
        return total // 2, total - total // 2
    p = _int(padding)
    return p, p


def conv_output_size(
    n: ArrayLike,
    kernel: ArrayLike,
    stride: ArrayLike = 1,
    padding: ArrayLike | str = 0,
    dilation: ArrayLike = 1,
    ceil_mode: bool | ArrayLike = False,
) -> Any:
    """Output length of a convolution along one axis.

    ``floor((n + 2p - d(k-1) - 1) / s) + 1`` (ceiling with ``ceil_mode``).
    ``"same"`` gives ``ceil(n/s)`` (``n`` at stride 1), ``"valid"`` pads nothing
    and ``"full"`` pads ``d(k-1)`` on each side.
    """
    left, right = _resolve_padding(padding, kernel, stride, dilation, n)
    span = _int(n) + left + right - _int(dilation) * (_int(kernel) - 1) - 1
    s = _int(stride)
    out = np.where(np.asarray(ceil_mode, dtype=bool), -(-span // s), span // s) + 1
    return _scalar_or_array(out)


def pool_output_size(
    n: ArrayLike,
    kernel: ArrayLike,
    stride: ArrayLike | None = None,
    padding: ArrayLike = 0,
    dilation: ArrayLike = 1,
    ceil_mode: bool | ArrayLike = False,
) -> Any:
    """Output length of a max/avg pool along one axis (stride defaults to the kernel).

    With ``ceil_mode`` a last, partial window is kept only if it starts inside
    the input or its left padding (PyTorch's and Caffe's rule).
    """
    stride = kernel if stride is None else stride
    n, k, s, p, d = map(_int, (n, kernel, stride, padding, dilation))
    span = n + 2 * p - d * (k - 1) - 1
    ceil = np.asarray(ceil_mode, dtype=bool)
    out = np.where(ceil, -(-span // s), span // s) + 1
    out = np.where(ceil & ((out - 1) * s >= n + p), out - 1, out)
    return _scalar_or_array(out)


def conv_transpose_output_size(
    n: ArrayLike,
    kernel: ArrayLike,
    stride: ArrayLike = 1,
    padding: ArrayLike = 0,
    output_padding: ArrayLike = 0,
    dilation: ArrayLike = 1,
) -> Any:
    """Output length of a transposed convolution: ``(n-1)s - 2p + d(k-1) + output_padding + 1``."""
    n, k, s, p, op, d = map(_int, (n, kernel, stride, padding, output_padding, dilation))
    return _scalar_or_array((n - 1) * s - 2 * p + d * (k - 1) + op + 1)


def kernel_elements(kernel_size: ArrayLike | tuple[int, ...], dims: int = 2) -> Any:
    """Weights in one filter slice: ``k**dims`` for a square side, the product for a tuple.

    A Python tuple means one size per axis (as in torch); a number or array means
    the side of a square (cubic) kernel, one per configuration.
    """
    if isinstance(kernel_size, tuple):
        return int(np.prod([int(k) for k in kernel_size]))
    return _scalar_or_array(_int(kernel_size) ** dims)


def conv_params(
    in_channels: ArrayLike,
    out_channels: ArrayLike,
    kernel_size: ArrayLike | tuple[int, ...],
    groups: ArrayLike = 1,
    bias: bool | ArrayLike = True,
    dims: int = 2,
) -> Any:
    """Weights and biases of a convolution: ``out * (in/groups) * K + out``."""
    cin, cout, g = map(_int, (in_channels, out_channels, groups))
    if np.any(cin % g) or np.any(cout % g):
        raise ValueError("in_channels and out_channels must both be divisible by groups")
    k = _int(kernel_elements(kernel_size, dims))
    return _scalar_or_array(cout * (cin // g) * k + np.where(np.asarray(bias, dtype=bool), cout, 0))


#: A transposed convolution has the same count as the convolution it transposes:
#: ``in * (out/groups) * K + out`` is ``out * (in/groups) * K + out``.
conv_transpose_params = conv_params


def linear_params(
    in_features: ArrayLike, out_features: ArrayLike, bias: bool | ArrayLike = True
) -> Any:
    """``in * out + out``."""
    i, o = _int(in_features), _int(out_features)
    return _scalar_or_array(i * o + np.where(np.asarray(bias, dtype=bool), o, 0))


def batch_norm_params(num_features: ArrayLike, affine: bool | ArrayLike = True) -> Any:
    """Learned scale and shift per channel (running mean/var are buffers, not parameters)."""
    return _scalar_or_array(np.where(np.asarray(affine, dtype=bool), 2 * _int(num_features), 0))


def layer_norm_params(
    normalized_elements: ArrayLike, elementwise_affine: bool = True, bias: bool = True
) -> Any:
    """Scale (and shift) per normalised element."""
    n = _int(normalized_elements)
    return _scalar_or_array(n * (int(elementwise_affine) + int(elementwise_affine and bias)))


def fc_equivalent_params(
    in_volume: ArrayLike, out_volume: ArrayLike, bias: bool | ArrayLike = True
) -> Any:
    """A dense layer from every input value to every output value: the cost a conv avoids."""
    return linear_params(in_volume, out_volume, bias)


def conv_macs(
    out_elements: ArrayLike,
    in_channels: ArrayLike,
    kernel_size: ArrayLike | tuple[int, ...],
    groups: ArrayLike = 1,
    dims: int = 2,
) -> Any:
    """Each output value is a dot product over ``in/groups * K`` inputs."""
    k = _int(kernel_elements(kernel_size, dims))
    return _scalar_or_array(_int(out_elements) * (_int(in_channels) // _int(groups)) * k)


#: A transposed convolution scatters each *input* value into ``out/groups * K`` outputs:
#: ``conv_transpose_macs(in_elements, out_channels, kernel_size, groups, dims)`` is the
#: count of the convolution it transposes, read with inputs and outputs swapped.
conv_transpose_macs = conv_macs


def linear_macs(out_elements: ArrayLike, in_features: ArrayLike) -> Any:
    """Each output value is a dot product over ``in_features`` inputs."""
    return _scalar_or_array(_int(out_elements) * _int(in_features))


@dataclass(frozen=True)
class ReceptiveFieldChain:
    """Receptive field after each layer of a chain, along one axis.

    ``size[i]``, ``jump[i]`` and ``start[i]`` describe the output of layer ``i``:
    its units see ``size`` inputs, neighbours are ``jump`` inputs apart, and unit
    0 is centred on input coordinate ``start`` (input pixel 0 is at 0).
    """

    size: NDArray[np.int64]
    jump: NDArray[np.int64]
    start: NDArray[np.float64]

    @property
    def final(self) -> tuple[int, int, float]:
        return int(self.size[-1]), int(self.jump[-1]), float(self.start[-1])


def receptive_field_chain(
    kernel: ArrayLike,
    stride: ArrayLike = 1,
    padding: ArrayLike = 0,
    dilation: ArrayLike = 1,
) -> ReceptiveFieldChain:
    """The recurrence ``k' = d(k-1)+1; r += (k'-1)j; start += ((k'-1)/2 - p)j; j *= s``, vectorised.

    Arguments are per layer (arrays along the chain, scalars broadcast). The jump
    *before* layer ``i`` is the product of the earlier strides, so the whole chain
    is a cumulative product and two cumulative sums.
    """
    k, s, p, d = np.broadcast_arrays(*map(_int, (np.atleast_1d(kernel), stride, padding, dilation)))
    span = d * (k - 1)  # k' - 1
    jump_after = np.cumprod(s)
    jump_before = np.concatenate(([1], jump_after[:-1]))
    size = 1 + np.cumsum(span * jump_before)
    start = np.cumsum((span / 2 - p) * jump_before)
    return ReceptiveFieldChain(
        size.astype(np.int64), jump_after.astype(np.int64), start.astype(np.float64)
    )


def _pair(value: Any, dims: int) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        if len(value) != dims:
            raise ValueError(f"expected {dims} values, got {value!r}")
        return tuple(int(v) for v in value)
    return (int(value),) * dims


def _pads_2d(padding: Any, kernel, stride, dilation, size) -> list[tuple[int, int]]:
    """(before, after) per axis, for a padding number, pair or mode."""
    if isinstance(padding, str):
        pads = [_resolve_padding(padding, k, s, d, n) for k, s, d, n in zip(kernel, stride, dilation, size)]
        return [(int(before), int(after)) for before, after in pads]
    return [(p, p) for p in _pair(padding, 2)]


def conv2d(
    x: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> NDArray[np.float64]:
    """2-D cross-correlation, as deep-learning frameworks define "convolution".

    ``x`` is ``(N, C, H, W)``, ``(C, H, W)`` or a single ``(H, W)`` image;
    ``weight`` is ``(out, C/groups, kh, kw)`` or a single ``(kh, kw)`` kernel, in
    which case a single ``(H', W')`` map comes back. The kernel is not flipped.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    single_map = w.ndim == 2
    if single_map:
        w = w[None, None]
    if x.ndim == 2:
        x = x[None]
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(
            f"conv2d expects x of 2-4 dims and weight of 2 or 4 dims, got {x.shape} and {w.shape}"
        )
    n, c, h, wd = x.shape
    out_ch, c_per_group, kh, kw = w.shape
    if c != c_per_group * groups or out_ch % groups:
        raise ValueError(
            f"input has {c} channels but weight {w.shape} with groups={groups} expects {c_per_group * groups}"
        )
    sh, sw = _pair(stride, 2)
    dh, dw = _pair(dilation, 2)
    (top, bottom), (left, right) = _pads_2d(padding, (kh, kw), (sh, sw), (dh, dw), (h, wd))
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    # every (dilated) window, then keep every stride-th one
    windows = np.lib.stride_tricks.sliding_window_view(
        x, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(2, 3)
    )
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]  # (N, C, H', W', kh, kw)
    oh, ow = windows.shape[2], windows.shape[3]
    out = np.empty((n, out_ch, oh, ow))
    per_group = out_ch // groups
    for g in range(groups):
        xs = windows[:, g * c_per_group : (g + 1) * c_per_group]
        ws = w[g * per_group : (g + 1) * per_group]
        out[:, g * per_group : (g + 1) * per_group] = np.einsum(
            "nchwij,ocij->nohw", xs, ws, optimize=True
        )
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    if single_map:
        return out[0, 0]
    return out[0] if unbatched else out

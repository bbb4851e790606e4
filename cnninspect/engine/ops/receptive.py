"""Receptive-field rules: what one op does to the geometry of its input, per spatial axis.

A rule is a small pure function ``rule(call, dims) -> Effect``. ``dims`` are the
tensor positions (negative, counted from the end) of the spatial axes in the op's
first input, so rules for permutes, reshapes and reductions can tell whether they
touch a spatial axis. The effect is one of

- :class:`Window`: output unit ``o`` reads input units ``ceil(o*s + lo) .. floor(o*s + hi)``
  along each trailing axis (convolutions, pooling, padding, upsampling);
- :class:`Keep`: same geometry, possibly with the spatial axes at new positions;
- :class:`Global`: every output unit sees the whole input;
- :class:`Unknown`: the op cannot be described; the analysis says so instead of guessing.

Everything is exact: strides and offsets are :class:`fractions.Fraction`, so upsampling
by 2 has a jump of exactly 1/2. Rounding ``floor``/``ceil`` at the ends is what makes
transposed convolutions and interpolation exact per unit; see :func:`floor_window`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import torch
import torch.nn.functional as F

from cnninspect.engine.ops.ranks import pool_rank
from cnninspect.engine.ops.registry import Call


@dataclass(frozen=True)
class AxisWindow:
    """Output unit ``o`` reads input units ``ceil(o*stride + lo) .. floor(o*stride + hi)``."""

    stride: Fraction | int  # exact either way; ints where whole, which is cheaper
    lo: Fraction | int
    hi: Fraction | int
    step: int = 1  # distance between one unit's taps: a dilated kernel reads every step-th input

    def span(self, first: int, last: int) -> tuple[int, int]:
        """The input units read by output units ``first..last`` (before clipping)."""
        return math.ceil(first * self.stride + self.lo), math.floor(last * self.stride + self.hi)

    def clipped(self, first: int, last: int, size: int) -> tuple[int, int]:
        """``span`` clipped to ``0..size-1``. With dilation the window has holes, so at a border
        the first index in range may be one no tap reads: clip to the taps, not the range."""
        lo, hi = self.span(first, last)
        if self.step == 1 or (lo >= 0 and hi <= size - 1):
            return max(lo, 0), min(hi, size - 1)
        taps = int((self.hi - self.lo) // self.step) + 1
        read = [
            start + t * self.step
            for u in range(first, last + 1)
            for start in (math.ceil(u * self.stride + self.lo),)
            for t in range(taps)
            if 0 <= start + t * self.step < size
        ]
        return (min(read), max(read)) if read else (1, 0)


@dataclass(frozen=True)
class Window:
    """A sliding-window op over the trailing ``len(axes)`` tensor dimensions."""

    axes: tuple[AxisWindow, ...]
    kernel: tuple[int, ...] | None = None  # the written kernel size, for the chapter's naive formula
    dims: tuple[int, ...] | None = None  # the spatial axes' new positions, when the op moves them too


@dataclass(frozen=True)
class Keep:
    """Geometry unchanged; ``dims`` gives the spatial axes' new positions when they move."""

    dims: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Global:
    why: str


@dataclass(frozen=True)
class Unknown:
    why: str


@dataclass(frozen=True)
class Constant:
    """Values made from shapes alone (``zeros_like``): no input position reaches them."""

    why: str


Effect = Window | Keep | Global | Unknown | Constant

# --- helpers -------------------------------------------------------------------------


def _ntuple(value, n: int) -> tuple:
    if isinstance(value, (tuple, list)):
        return tuple(value) * n if len(value) == 1 else tuple(value)
    return (value,) * n


def conv_window(k: int, s: int, p: int, d: int = 1) -> AxisWindow:
    """Output ``o`` reads ``o*s - p .. o*s - p + d*(k-1)``."""
    return AxisWindow(int(s), -int(p), -int(p) + int(d) * (int(k) - 1), step=d if k > 1 else 1)


def floor_window(stride: Fraction, offset: Fraction, below: int, above: int) -> AxisWindow:
    """Output ``o`` reads ``floor(x) - below .. ceil(x) + above`` with ``x = o*stride + offset``.

    ``floor(x) = ceil(x - 1 + 1/q)`` and ``ceil(x) = floor(x + 1 - 1/q)`` where ``q`` is
    the common denominator of every ``x``: that keeps the window in the ceil/floor form.
    """
    q = math.lcm(stride.denominator, offset.denominator)
    eps = Fraction(1, q)
    return AxisWindow(stride, offset - 1 + eps - below, offset + 1 - eps + above)


def _spatial_in(call: Call) -> tuple[int, ...]:
    x = call.args[0] if call.args else next(iter(call.kwargs.values()))
    return tuple(x.shape)


def _out_shape(call: Call) -> tuple[int, ...]:
    out = call.out
    while isinstance(out, (tuple, list)):
        out = out[0]
    return tuple(out.shape)


def _conv(kernel, stride, padding, dilation, dims: int) -> Window:
    k = _ntuple(kernel, dims)
    s = _ntuple(stride, dims)
    d = _ntuple(dilation, dims)
    if isinstance(padding, str):
        if padding == "valid":
            p = (0,) * dims
        else:  # "same": torch pads d*(k-1) in all, the smaller half first
            p = tuple(dd * (kk - 1) // 2 for kk, dd in zip(k, d))
    else:
        p = _ntuple(padding, dims)
    return Window(tuple(conv_window(*g) for g in zip(k, s, p, d)), kernel=k)


# --- convolutions and pooling --------------------------------------------------------


def _channels_hold_space(n: int, dims: tuple[int, ...]) -> Global | None:
    """A convolution of rank ``n`` mixes every channel: when a spatial axis sits where its
    channels are (a ``(N, T, F)`` spectrogram transposed to ``(N, F, T)``), it is global."""
    if -(n + 1) in dims:
        return Global("a convolution mixes its channels, which hold a spatial axis of the input")
    return None


def conv(call: Call, dims: tuple[int, ...]) -> Effect:
    m = call.module
    if m.padding_mode == "circular":
        return Unknown("circular padding wraps around the border")
    n = len(m.kernel_size)
    return _channels_hold_space(n, dims) or _conv(m.kernel_size, m.stride, m.padding, m.dilation, n)


def conv_functional(call: Call, dims: tuple[int, ...]) -> Effect:
    weight = call.arg(1, "weight")
    n = weight.dim() - 2
    return _channels_hold_space(n, dims) or _conv(
        tuple(weight.shape[2:]),
        call.arg(3, "stride", 1),
        call.arg(4, "padding", 0),
        call.arg(5, "dilation", 1),
        n,
    )


def _transposed(kernel, stride, padding, dilation, n: int) -> Window:
    """Input ``i`` feeds output ``i*s - p + t*d`` (t < k): output ``o`` reads
    ``(o + p - d*(k-1))/s .. (o + p)/s``, every integer of it when ``d == 1``."""
    k, s, p, d = (_ntuple(v, n) for v in (kernel, stride, padding, dilation))
    axes = tuple(
        AxisWindow(Fraction(1, ss), Fraction(pp - dd * (kk - 1), ss), Fraction(pp, ss))
        for kk, ss, pp, dd in zip(k, s, p, d)
    )
    return Window(axes, kernel=k)


def conv_transpose(call: Call, dims: tuple[int, ...]) -> Effect:
    m = call.module
    n = len(m.kernel_size)
    return _channels_hold_space(n, dims) or _transposed(m.kernel_size, m.stride, m.padding, m.dilation, n)


def conv_transpose_functional(call: Call, dims: tuple[int, ...]) -> Effect:
    weight = call.arg(1, "weight")
    n = weight.dim() - 2
    return _channels_hold_space(n, dims) or _transposed(
        tuple(weight.shape[2:]), call.arg(3, "stride", 1), call.arg(4, "padding", 0),
        call.arg(7, "dilation", 1), n,
    )  # fmt: skip


def pool(call: Call, dims: tuple[int, ...]) -> Effect:
    """ceil_mode only adds a last, partly outside window: the map itself is unchanged."""
    m = call.module
    n = pool_rank(m)
    stride = m.stride if m.stride is not None else m.kernel_size
    return _conv(m.kernel_size, stride, getattr(m, "padding", 0), getattr(m, "dilation", 1), n)


def _functional_pool(call: Call, dilation: int) -> Effect:
    k = call.arg(1, "kernel_size")
    stride = call.arg(2, "stride", None) or k
    padding = call.arg(3, "padding", 0)
    n = len(_spatial_in(call)) - 2 if not isinstance(k, (tuple, list)) else len(k)
    return _conv(k, stride, padding, dilation, n)


def max_pool_functional(call: Call, dims: tuple[int, ...]) -> Effect:
    return _functional_pool(call, call.arg(4, "dilation", 1))


def avg_pool_functional(call: Call, dims: tuple[int, ...]) -> Effect:
    return _functional_pool(call, 1)


def adaptive_window(n_in: int, n_out: int) -> AxisWindow:
    """Adaptive pooling's bin ``floor(o*n/m) .. ceil((o+1)*n/m) - 1``.

    Equal bins (``m`` divides ``n``) are a plain pool of kernel and stride ``n/m``;
    otherwise the same bins in ceil/floor form, exact per unit, with a fractional jump.
    """
    if n_in % n_out == 0:
        k = n_in // n_out
        return conv_window(k, k, 0)
    eps = Fraction(1, n_out)
    return AxisWindow(Fraction(n_in, n_out), eps - 1, Fraction(n_in, n_out) - eps)


def adaptive_pool(call: Call, dims: tuple[int, ...]) -> Effect:
    """Derived from the actual sizes: output 1 everywhere is global."""
    shape_in, shape_out = _spatial_in(call), _out_shape(call)
    n = len(dims)
    sizes = list(zip(shape_in[-n:], shape_out[-n:]))
    if all(m == 1 for _, m in sizes):
        return Global("adaptive pooling to 1")
    axes = tuple(adaptive_window(n_in, n_out) for n_in, n_out in sizes)
    return Window(axes, kernel=tuple(-(-n_in // n_out) for n_in, n_out in sizes))


# --- padding, resampling ---------------------------------------------------------------


def _pad_window(pads: tuple[int, ...], n: int) -> Window:
    """F.pad's pairs run from the last dimension backwards: (left_W, right_W, left_H, ...)."""
    left = [0] * n
    for i in range(0, len(pads), 2):
        axis = n - 1 - i // 2
        if axis >= 0:
            left[axis] = pads[i]
    return Window(tuple(AxisWindow(Fraction(1), Fraction(-p), Fraction(-p)) for p in left), kernel=(1,) * n)


def pad(call: Call, dims: tuple[int, ...]) -> Effect:
    pads = tuple(call.arg(1, "pad"))
    if call.arg(2, "mode", "constant") == "circular":
        return Unknown("circular padding wraps around the border")
    return _pad_window(pads, len(dims))


def pad_module(call: Call, dims: tuple[int, ...]) -> Effect:
    """Reflected and replicated borders read pixels already inside the clipped region."""
    return _pad_window(tuple(call.module.padding), len(dims))


def circular_pad(call: Call, dims: tuple[int, ...]) -> Effect:
    return Unknown("circular padding wraps around the border")


def _scales(n_in: tuple[int, ...], n_out: tuple[int, ...], scale_factor, recompute) -> list[Fraction]:
    """Input units per output unit, as torch computes them (1/scale_factor when given)."""
    if scale_factor is not None and not recompute:
        return [1 / Fraction(float(f)) for f in _ntuple(scale_factor, len(n_in))]
    return [Fraction(a, b) for a, b in zip(n_in, n_out)]


def resample(mode: str, align_corners: bool | None, n_in, n_out, scale_factor=None, recompute=None) -> Effect:
    """Exact windows of torch's interpolation (``upsample_*`` kernels' source index formulas)."""
    n = len(n_in)
    if mode in ("nearest", "nearest-exact"):
        axes = []
        for s in _scales(n_in, n_out, scale_factor, recompute):
            offset = s / 2 if mode == "nearest-exact" else Fraction(0)
            # source floor(o*s + offset): a floor window that does not reach the ceil side
            q = math.lcm(s.denominator, offset.denominator)
            axes.append(AxisWindow(s, offset - 1 + Fraction(1, q), offset))
        return Window(tuple(axes))
    if mode in ("linear", "bilinear", "trilinear", "bicubic"):
        extra = 1 if mode == "bicubic" else 0
        if align_corners:
            scales = [Fraction(a - 1, b - 1) if b > 1 else Fraction(0) for a, b in zip(n_in, n_out)]
            offsets = [Fraction(0)] * n
        else:
            scales = _scales(n_in, n_out, scale_factor, recompute)
            offsets = [s / 2 - Fraction(1, 2) for s in scales]
        return Window(tuple(floor_window(s, c, extra, extra) for s, c in zip(scales, offsets)))
    if mode == "area":  # adaptive average pooling by another name
        return Window(tuple(adaptive_window(a, b) for a, b in zip(n_in, n_out)))
    return Unknown(f"interpolation mode {mode!r} has no rule")


def upsample(call: Call, dims: tuple[int, ...]) -> Effect:
    m = call.module
    n = len(dims)
    return resample(
        m.mode, m.align_corners, _spatial_in(call)[-n:], _out_shape(call)[-n:],
        m.scale_factor, m.recompute_scale_factor,
    )  # fmt: skip


def interpolate(call: Call, dims: tuple[int, ...]) -> Effect:
    n = len(dims)
    target = call.target
    if target is F.upsample_bilinear:
        mode, align = "bilinear", True
    elif target is F.upsample_nearest:
        mode, align = "nearest", None
    else:
        mode, align = call.arg(3, "mode", "nearest"), call.arg(4, "align_corners", None)
        if call.arg(6, "antialias", False):
            return Unknown("antialiased interpolation widens its window with the scale")
    scale = call.arg(2, "scale_factor", None)
    recompute = call.arg(5, "recompute_scale_factor", None)
    return resample(mode, align, _spatial_in(call)[-n:], _out_shape(call)[-n:], scale, recompute)


def pixel_shuffle(call: Call, dims: tuple[int, ...]) -> Effect:
    """Output ``o`` comes from input ``floor(o / r)``."""
    r = call.module.upscale_factor
    s = Fraction(1, r)
    return Window(tuple(AxisWindow(s, Fraction(1 - r, r), Fraction(0)) for _ in dims))


def pixel_unshuffle(call: Call, dims: tuple[int, ...]) -> Effect:
    """A unit's channels hold the r*r block ``o*r .. o*r + r - 1``."""
    r = call.module.downscale_factor
    return Window(tuple(conv_window(r, r, 0) for _ in dims), kernel=(r,) * len(dims))


# --- ops that keep geometry ---------------------------------------------------------------


def keep(call: Call, dims: tuple[int, ...]) -> Effect:
    """Activations, norms, dropout, elementwise arithmetic (broadcast is handled by the caller).
    A norm's statistics are not counted as seeing the input (by convention)."""
    return Keep()


_CUTS = (torch.chunk, torch.split, "chunk", "split")  # their dim follows the sizes; cat's the tensors


def split_or_concat(call: Call, dims: tuple[int, ...]) -> Effect:
    """Cut or joined along channels: keep; along a spatial axis the units are reindexed."""
    dim = call.arg(2, "dim", 0) if call.target in _CUTS else call.arg(1, "dim", 0)
    first = call.args[0]
    rank = (first[0] if isinstance(first, (list, tuple)) else first).dim()
    if _neg(dim, rank) in dims:
        return Unknown(f"{call.kind} along a spatial axis")
    return Keep()


def glu(call: Call, dims: tuple[int, ...]) -> Effect:
    """GLU multiplies one half of ``dim`` by a gate made from the other half: kept along
    channels; along a spatial axis unit ``o`` would read ``o`` and ``o + n/2``."""
    dim = call.module.dim if call.module is not None else call.arg(1, "dim", -1)
    if _neg(dim, call.args[0].dim()) in dims:
        return Unknown("GLU along a spatial axis pairs units half the axis apart")
    return Keep()


def softmax_like(call: Call, dims: tuple[int, ...]) -> Effect:
    x = call.args[0]
    dim = call.arg(1, "dim", None)
    if call.module is not None:
        dim = call.module.dim
    if dim is None:
        return Global("softmax over every element")
    return Global("softmax along a spatial axis") if _neg(dim, x.dim()) in dims else Keep()


def _neg(dim: int, rank: int) -> int:
    return dim - rank if dim >= 0 else dim


# --- ops that move or merge axes -----------------------------------------------------------


def permute(call: Call, dims: tuple[int, ...]) -> Effect:
    x = call.args[0]
    order = call.args[1:] if len(call.args) > 2 or not isinstance(call.arg(1, "dims"), (tuple, list)) else call.arg(1, "dims")
    rank = x.dim()
    order = [_neg(d, rank) for d in order]
    return Keep(tuple(order.index(d) - rank for d in dims))


def transpose(call: Call, dims: tuple[int, ...]) -> Effect:
    rank = call.args[0].dim()
    a, b = _neg(call.arg(1, "dim0"), rank), _neg(call.arg(2, "dim1"), rank)
    swap = {a: b, b: a}
    return Keep(tuple(swap.get(d, d) for d in dims))


def movedim(call: Call, dims: tuple[int, ...]) -> Effect:
    rank = call.args[0].dim()
    src = [_neg(d, rank) + rank for d in _ntuple(call.arg(1, "source"), 1)]
    dst = [_neg(d, rank) + rank for d in _ntuple(call.arg(2, "destination"), 1)]
    order: list[int | None] = [None] * rank
    for a, b in zip(src, dst):
        order[b] = a
    rest = iter(d for d in range(rank) if d not in src)
    order = [next(rest) if o is None else o for o in order]
    return Keep(tuple(order.index(d + rank) - rank for d in dims))


def stack(call: Call, dims: tuple[int, ...]) -> Effect:
    """A new (or removed) leading axis: kept while it sits before the spatial axes."""
    first = call.args[0]
    rank = (first[0] if isinstance(first, (list, tuple)) else first).dim()
    dim = call.arg(1, "dim", 0)
    if call.target is torch.stack:
        dim = dim if dim >= 0 else dim + rank + 1
        return Keep() if dim <= rank + min(dims) else Unknown("stacked after a spatial axis")
    return Keep() if _neg(dim, rank) < min(dims) else Unknown("unbound along a spatial axis")


def normalize(call: Call, dims: tuple[int, ...]) -> Effect:
    rank = call.args[0].dim()
    dim = call.arg(2, "dim", 1)
    return Global("normalised across a spatial axis") if _neg(dim, rank) in dims else Keep()


def flatten(call: Call, dims: tuple[int, ...]) -> Effect:
    rank = call.args[0].dim()
    if call.module is not None:
        start, end = call.module.start_dim, call.module.end_dim
    else:
        start, end = call.arg(1, "start_dim", 0), call.arg(2, "end_dim", -1)
    start, end = _neg(start, rank), _neg(end, rank)
    if start == end:
        return Keep()
    if any(start <= d <= end for d in dims):
        return Global("flattened: the spatial layout is gone and what follows mixes all positions")
    shift = end - start  # dims after the merged block keep their negative index
    return Keep(tuple(d if d > end else d + shift for d in dims))


def reshape(call: Call, dims: tuple[int, ...]) -> Effect:
    """Kept when the spatial axes survive as the same trailing sizes, else the layout is gone."""
    shape_in, shape_out = _spatial_in(call), _out_shape(call)
    first = min(dims)
    tail = shape_in[first:]
    if len(shape_out) >= len(tail) and tuple(shape_out[-len(tail) :]) == tail and (
        len(shape_out) - len(tail) >= 1
    ):
        prefix_in = math.prod(shape_in[:first])
        prefix_out = math.prod(shape_out[: len(shape_out) - len(tail)])
        if prefix_in == prefix_out:
            return Keep()
    return Global(f"reshaped {tuple(shape_in)} -> {tuple(shape_out)}: the spatial layout is gone")


def squeeze(call: Call, dims: tuple[int, ...]) -> Effect:
    return reshape(call, dims)


def getitem(call: Call, dims: tuple[int, ...]) -> Effect:
    """Picking one output of a tuple, or slicing channels, keeps geometry."""
    x, index = call.args[0], call.args[1]
    if not isinstance(x, torch.Tensor):
        return Keep()
    items = index if isinstance(index, tuple) else (index,)
    rank = x.dim()
    if any(i is Ellipsis for i in items):  # ``...`` stands for as many full slices as fill the rank
        at = next(k for k, i in enumerate(items) if i is Ellipsis)
        fill = rank - sum(1 for i in items if i is not None and i is not Ellipsis)
        items = items[:at] + (slice(None),) * fill + items[at + 1 :]
    crops: dict[int, int] = {}  # spatial axis -> the first input unit a step-1 slice keeps
    pos = 0  # the input axis an item indexes: a None adds an axis and reads none
    for item in items:
        if item is None:
            continue
        axis = _neg(pos, rank)
        if axis in dims and not (isinstance(item, slice) and item == slice(None)):
            if not isinstance(item, slice) or item.step not in (None, 1):
                return Unknown("indexing along a spatial axis")
            crops[axis] = item.indices(x.shape[axis])[0]
        pos += 1
    dropped = sum(1 for i in items if isinstance(i, int))
    added = sum(1 for i in items if i is None)
    if crops:  # a crop (Wav2Vec2's same-padding trim): output unit o is input unit o + start
        if dropped or added:
            return Unknown("indexing along a spatial axis while adding or dropping axes")
        width = -min(dims)
        axes = [AxisWindow(1, 0, 0)] * width
        for axis, start in crops.items():
            axes[width + axis] = AxisWindow(1, start, start)
        return Window(tuple(axes))
    if dropped or added:
        return reshape(call, dims)
    return Keep()


def reduction(call: Call, dims: tuple[int, ...]) -> Effect:
    return _reduced(call.args[0].dim(), call.arg(1, "dim", None), call.arg(2, "keepdim", False), dims)


def norm(call: Call, dims: tuple[int, ...]) -> Effect:
    """``torch.norm``, ``Tensor.norm``, ``torch.linalg.vector_norm``: a reduction whose ``dim``
    comes after the order ``p`` (ConvNeXt-V2's global response norm reduces over space)."""
    return _reduced(call.args[0].dim(), call.arg(2, "dim", None), call.arg(3, "keepdim", False), dims)


def _reduced(rank: int, dim, keepdim: bool, dims: tuple[int, ...]) -> Effect:
    if dim is None:
        return Global("reduced over every element")
    reduced = {_neg(d, rank) for d in _ntuple(dim, 1)}
    if reduced & set(dims):
        return Global("reduced over a spatial axis (global pooling)")
    if keepdim:
        return Keep()
    return Keep(tuple(d + sum(1 for r in reduced if r > d) for d in dims))


def linear(call: Call, dims: tuple[int, ...]) -> Effect:
    """A linear layer mixes its last dimension: global when that is (or came from) space."""
    if -1 in dims:
        return Global("a linear layer over a spatial axis")
    return Keep()




def unfold_axis(call: Call, dims: tuple[int, ...]) -> Effect:
    """``Tensor.unfold(dim, size, step)``: windows of ``size`` units every ``step`` along
    ``dim``, each window laid out along a new last axis (which holds no position of its own,
    like channels). Along a spatial ``dim`` that is a convolution's window; the new axis
    moves every spatial axis one place from the end (HaloNet's blocks)."""
    rank = call.args[0].dim()
    axis = _neg(call.arg(1, "dimension"), rank)
    moved = tuple(d - 1 for d in dims)
    if axis not in dims:
        return Keep(moved)
    size, step = int(call.arg(2, "size")), int(call.arg(3, "step"))
    width = -min(moved)
    axes = [AxisWindow(1, 0, 0)] * width
    kernel = [1] * width
    axes[width + axis - 1], kernel[width + axis - 1] = conv_window(size, step, 0), size
    return Window(tuple(axes), kernel=tuple(kernel), dims=moved)


def unfold(call: Call, dims: tuple[int, ...]) -> Effect:
    """``nn.Unfold`` lays each window out along channels and the windows along one flat axis:
    the same convention as ``flatten`` over the spatial axes."""
    return Global(f"{call.kind} flattens the window positions: the spatial layout is gone")


def constant(call: Call, dims: tuple[int, ...]) -> Effect:
    """``zeros``, ``arange``, ``*_like``: new values that depend on no input value."""
    return Constant(f"{call.kind} makes new values: no input position reaches them")


def mixes_all(call: Call, dims: tuple[int, ...]) -> Effect:
    """Attention, recurrence and matrix products mix every position."""
    return Global(f"{call.kind} mixes all positions")


def __getattr__(name: str):
    if name == "RF_RULES":  # the view of the op catalogue, built once the rules above exist
        from cnninspect.engine.ops.catalogue import RF_RULES

        return RF_RULES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

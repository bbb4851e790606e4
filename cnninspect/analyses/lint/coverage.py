"""CNN2xx: input pixels no output unit reads -- skipped between windows, dropped at the border,
or outside the output's receptive field."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from cnninspect.analyses.lint.context import CONV_KINDS, LintContext, fmt_size, spatial
from cnninspect.analyses.lint.findings import Finding
from cnninspect.analyses.lint.registry import FIELDS, GRAPH, KNOWN, rule
from cnninspect.engine.ops.receptive import AxisWindow, conv_window

AXES = "HW"


def _axis_name(i: int, n: int) -> str:
    return ("D", "H", "W")[3 - n + i] if n <= 3 else f"axis {i}"


def _int_window(w) -> tuple[int, int, int, int] | None:
    """(stride, lo, hi, step) of an integer window; None for fractional ones (upsampling)."""
    if w is None:
        return None
    if type(w.stride) is int and type(w.lo) is int and type(w.hi) is int:
        return w.stride, w.lo, w.hi, w.step
    values = [Fraction(w.stride), Fraction(w.lo), Fraction(w.hi)]
    if any(v.denominator != 1 for v in values):
        return None
    return int(w.stride), int(w.lo), int(w.hi), int(w.step)


WINDOWED = CONV_KINDS | frozenset({
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
})  # fmt: skip


def _row_windows(row, n: int) -> tuple[AxisWindow, ...] | None:
    """A conv or pooling row's windows on its ``n`` spatial axes from its own geometry (int
    kernel, stride, padding; a pooling module keeps a single int for all axes, as given)."""
    k, st, p, d = (_axes(v, n) for v in (row.kernel_size, row.stride, row.padding, row.dilation))
    if k is None or st is None or p is None:
        return None
    d = d if d is not None else (1,) * n
    if not all(len(v) == n for v in (st, p, d)):
        return None
    return tuple(conv_window(*a) for a in zip(k, st, p, d))


def _axes(value, n: int = 1) -> tuple[int, ...] | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return value
    return None


@dataclass(frozen=True)
class _Op:
    windows: tuple
    sizes: tuple[int, ...]
    source: str

    @property
    def inputs(self) -> list[str]:
        return [self.source]


def _windows(ctx: LintContext) -> list[tuple[str, _Op, tuple[int, ...]]]:
    """Every single-input windowed op, with its windows, output sizes and input sizes
    (worked out once per lint for the two rules that read them)."""
    if "windows" not in ctx.cache:
        ctx.cache["windows"] = list(_find_windows(ctx))
    return ctx.cache["windows"]


def _find_windows(ctx: LintContext) -> Iterator[tuple[str, _Op, tuple[int, ...]]]:
    """Conv and pooling rows use their own geometry, so a layer after a global op (a
    squeeze-and-excitation scale) is still checked; other ops use the receptive-field graph.
    Only strided windows can skip or drop input, so stride-1 ops are passed over first."""
    report = ctx.rf
    if report is None or not ctx.has_graph:
        return
    for row in ctx.summary.layers:
        if len(row.inputs) != 1:
            continue
        if row.kind in WINDOWED:
            if not any(v > 1 for v in (_axes(row.stride) or (2,))):
                continue
            out = spatial(row.output_shape)
            windows = _row_windows(row, len(out)) if out is not None else None
        else:
            windows = None
        if windows is None:
            node = report.nodes.get(row.name)
            if node is None or node.kind != "spatial":
                continue
            if not any(w is not None and w.stride > 1 for w in node.windows):
                continue
            windows = node.windows
        out, source = spatial(row.output_shape), row.inputs[0]
        sizes = _sizes_of(ctx, source)
        if out is None or sizes is None or not (len(windows) == len(out) == len(sizes)):
            continue
        windows, source, sizes = _through_padding(ctx, tuple(windows), source, sizes)
        yield row.name, _Op(tuple(windows), tuple(out), source), tuple(sizes)


def _sizes_of(ctx: LintContext, source: str) -> tuple[int, ...] | None:
    if source.startswith("input:"):
        return tuple(ctx.rf.input_size)
    return spatial(ctx.rows[source].output_shape) if source in ctx.rows else None


def _through_padding(
    ctx: LintContext, windows: tuple, source: str, sizes: tuple[int, ...]
) -> tuple[tuple, str, tuple[int, ...]]:
    """A window op reading a padding op (``F.pad``, ``nn.ZeroPad2d``, timm's BlurPool2d) is
    judged on the padding's input: the rows padding added are no image pixels, so a last window
    that leaves one of them unread drops nothing of the image."""
    node = ctx.rf.nodes.get(source) if source in ctx.rows else None
    if node is None or node.kind != "spatial" or len(node.inputs) != 1 or len(node.windows) != len(windows):
        return windows, source, sizes
    shifts = []
    for w in node.windows:
        iw = _int_window(w)
        if iw is None or iw[0] != 1 or iw[1] != iw[2] or iw[1] > 0:
            return windows, source, sizes  # not a pure border padding
        shifts.append(iw[1])  # -(rows padded before)
    inner = _sizes_of(ctx, node.inputs[0])
    if inner is None or len(inner) != len(sizes) or all(s == 0 for s in shifts):
        return windows, source, sizes
    folded = tuple(
        w if iw is None else AxisWindow(w.stride, w.lo + shift, w.hi + shift, w.step)
        for w, shift in zip(windows, shifts)
        for iw in (_int_window(w),)
    )
    return folded, node.inputs[0], inner


def _describe(row, n: int) -> str:
    """``Conv2d 3x3 stride 2x2`` (and the dilation when there is one) for a row on ``n`` axes."""
    parts = [row.kind]
    for label, value in (("", row.kernel_size), ("stride ", row.stride), ("dilation ", row.dilation)):
        axes = _axes(value, n)
        if axes is not None and (label != "dilation " or any(a > 1 for a in axes)):
            parts.append(label + fmt_size(axes))
    return " ".join(parts)


@rule("CNN201", needs=((GRAPH, None), (FIELDS, None), (KNOWN, "ops without a receptive-field rule")))
def skipped_pixels(ctx: LintContext) -> Iterator[Finding]:
    for name, node, sizes in _windows(ctx):
        covered = period = 1
        for w in node.windows:
            iw = _int_window(w)
            if iw is None or iw[0] < 2:
                continue
            s, lo, hi, step = iw
            if hi - lo + 1 >= s and step == 1:
                continue
            covered *= len({(lo + t * step) % s for t in range((hi - lo) // step + 1)})
            period *= s
        if covered >= period:
            continue
        read = Fraction(covered, period)
        row = ctx.rows[name]
        where = ctx.where(row)
        others = [ctx.where(ctx.rows[c]) for c in ctx.consumers.get(node.inputs[0], []) if c != name]
        also = f"; {', '.join(others)} also read{'s' if len(others) == 1 else ''} that input" if others else ""
        yield Finding(
            "CNN201", where,
            f"{where} ({_describe(row, len(sizes))}) reads {read} of its {fmt_size(sizes)} input's pixels: "
            f"{1 - read} are never read by it{also}",
            (name,), {"read_fraction": float(read), "other_readers": others},
        )  # fmt: skip


def _dropped(n: int, m: int, w: tuple[int, int, int, int]) -> tuple[int, int]:
    """Input rows before the first window and after the last one, for input n and output m.

    After the last window only rows a further window would have read count: with a kernel
    smaller than the stride the rows in the gaps are skipped anyway (that is CNN201).
    """
    s, lo, hi, _ = w
    last = (m - 1) * s + hi
    after = sum(1 for r in range(last + 1, n) if (r - lo) % s <= hi - lo)
    return max(0, lo), after


def _clean_sizes(n: int, m: int, w: tuple[int, int, int, int], pad: int | None) -> list[int] | None:
    """The nearest input sizes around ``n`` that drop nothing, when the output-size formula
    ``floor((n + 2p - span)/s) + 1`` reproduces this layer's own output (symmetric padding)."""
    s, lo, hi, _ = w
    if pad is None:
        return None
    out = lambda size: (size + 2 * pad - (hi - lo + 1)) // s + 1  # noqa: E731
    if out(n) != m:
        return None
    ok = [c for c in range(max(1, n - 2 * s), n + 2 * s + 1) if out(c) >= 1 and _dropped(c, out(c), w) == (0, 0)]
    below = [c for c in ok if c < n][-1:]
    above = [c for c in ok if c > n][:1]
    return below + above


@rule("CNN202", needs=((GRAPH, None), (FIELDS, None), (KNOWN, "ops without a receptive-field rule")))
def dropped_border(ctx: LintContext) -> Iterator[Finding]:
    for name, node, sizes in _windows(ctx):
        row = ctx.rows[name]
        lost = []
        for i, (w, n, m) in enumerate(zip(node.windows, sizes, node.sizes)):
            iw = _int_window(w)
            if iw is None or iw[0] < 2:
                continue
            before, after = _dropped(n, m, iw)
            if before or after:
                pad = row.padding[i] if isinstance(row.padding, tuple) and len(row.padding) == len(sizes) else None
                if isinstance(row.padding, int):
                    pad = row.padding
                if pad is None and row.padding is None:
                    pad = -iw[1]  # a functional op: assume symmetric padding, checked by _clean_sizes
                lost.append((i, before, after, n, _clean_sizes(n, m, iw, pad)))
        if not lost:
            continue
        where = ctx.where(row)
        parts = []
        for i, before, after, n, clean in lost:
            axis = _axis_name(i, len(sizes))
            text = f"{axis}: the last {after} of {n}" if after else f"{axis}: the first {before} of {n}"
            if clean:
                text += f" (sizes {' and '.join(map(str, clean))} drop none)"
            parts.append(text)
        yield Finding(
            "CNN202", where,
            f"{where} ({_describe(row, len(sizes))}) never reads part of its {fmt_size(sizes)} input's border: "
            + "; ".join(parts),
            (name,),
            {"dropped": {_axis_name(i, len(sizes)): [b, a] for i, b, a, _, _ in lost}},
        )  # fmt: skip


@rule("CNN203", needs=((GRAPH, None), (FIELDS, None), (KNOWN, "outputs whose field is unknown")))
def small_receptive_field(ctx: LintContext) -> Iterator[Finding]:
    report = ctx.rf
    if report is None or not report.fields or not ctx.has_graph:
        return
    n = len(report.input_size)
    target, what = _target(ctx, n)
    if ctx.options.object_size is None:
        # against the input: what the model's outputs see (a global head sees everything)
        outs = [report.fields[r] for r in ctx.outputs if r in report.fields]
        outs = [f for f in outs if not f.is_global and not f.unknown and f.size is not None]
        out = min(outs, key=lambda f: tuple(f.size), default=None)
    else:
        out = report.output  # the last feature map: where objects have to be seen whole
    if out is None or out.is_global or out.unknown or out.size is None or len(out.size) != n:
        return
    if all(s >= t for s, t in zip(out.size, target)):
        return
    first = next(
        (f for f in report.fields.values()
         if f.is_global or (f.size is not None and all(s >= t for s, t in zip(f.size, target)))),
        None,
    )  # fmt: skip
    where = ctx.where(ctx.rows[out.name]) if out.name in ctx.rows else out.name
    if first is None:
        tail = "no layer's field covers it"
    else:
        at = ctx.where(ctx.rows[first.name]) if first.name in ctx.rows else first.name
        tail = f"first covered at {at}" + (" (global)" if first.is_global else f" ({fmt_size(first.size)})")
    kind = "output" if ctx.options.object_size is None else "last feature map"
    yield Finding(
        "CNN203", where,
        f"{kind} {where} has a {fmt_size(out.size)} receptive field, smaller than "
        f"the {what} {fmt_size(target)}; {tail}",
        (out.name,), {"size": [float(s) for s in out.size], "target": list(target)},
    )  # fmt: skip


def _target(ctx: LintContext, n: int) -> tuple[tuple[int, ...], str]:
    size = ctx.options.object_size
    if size is None:
        return tuple(ctx.rf.input_size), "input"
    if isinstance(size, int):
        return (size,) * n, "object size"
    return tuple(size), "object size"

"""Compose the per-op rules over the graph: the receptive field of every node.

Per spatial axis, an op whose output unit ``o`` reads input units
``o*s + lo .. o*s + hi`` turns ``(r, j, start)`` into::

    r'     = r + (hi - lo) * j
    start' = start + (lo + hi) / 2 * j
    j'     = j * s

which for a convolution (``lo = -p``, ``hi = d*(k-1) - p``) is the textbook recurrence.
Numbers are exact: ints while whole (most models never leave them, and int arithmetic
is many times cheaper than Fraction's), Fractions once upsampling or an even window
makes them fractional.
Where paths meet, a unit sees the union of its inputs' fields; different jumps
mean the paths disagree on where units sit (flagged ``misaligned``, bounding
region reported).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from cnninspect.engine.ops.receptive import (
    AxisWindow,
    Constant,
    Effect,
    Global,
    Keep,
    Unknown,
    Window,
    constant,
)
from cnninspect.engine.ops.registry import first_tensor
from cnninspect.engine.propagate import NodeRecord
from cnninspect.engine.receptive.inner import opaque_effect
from cnninspect.engine.receptive.report import (
    Node,
    Number,
    ReceptiveField,
    ReceptiveFieldReport,
    exact,
)
from cnninspect.engine.receptive.rules import rule_for


@dataclass
class _State:
    kind: str  # "spatial" | "global" | "unknown"
    dims: tuple[int, ...] = ()
    sizes: tuple[int, ...] = ()
    r: tuple[Number, ...] = ()
    j: tuple[Number, ...] = ()
    start: tuple[Number, ...] = ()
    naive: tuple[int, ...] = ()
    misaligned: bool = False
    why: str = ""
    _bounds: list[tuple[Number, Number] | None] | None = None

    def bounds(self, axis: int) -> tuple[Number, Number]:
        """The field's first and last input coordinate on ``axis`` (cached: in a DenseNet one
        feature map joins every later concatenation of its block)."""
        if self._bounds is None:
            self._bounds = [None] * len(self.r)
        cached = self._bounds[axis]
        if cached is None:
            half = _half(self.r[axis] - 1)
            cached = self._bounds[axis] = (self.start[axis] - half, self.start[axis] + half)
        return cached


def analyse(records: list[NodeRecord], input_shapes: list[tuple[int, ...]], sequential: bool = False) -> ReceptiveFieldReport:
    """Receptive fields of every record, for the first input's spatial axes."""
    shape = tuple(input_shapes[0]) if input_shapes else ()
    given = shape
    if _is_waveform(records, shape):
        shape = (shape[0], 1, shape[1])  # (batch, samples): the field is counted in samples
    n = len(shape) - 2
    report = ReceptiveFieldReport(input_size=tuple(shape[2:]), fields={}, nodes={})
    if n < 1:
        return report
    base = _State("spatial", tuple(range(-n, 0)), tuple(shape[2:]), (1,) * n, (1,) * n, (0,) * n, (1,) * n)
    states: dict[str, _State | None] = {}
    centre = tuple(_half(v - 1) for v in report.input_size)  # where a global field is centred
    missing: list[str] = []
    previous = None
    for rec in records:
        names = ([previous] if previous else ["input:"]) if sequential else list(rec.inputs)
        previous = rec.name
        for name in names:
            if name.startswith("input:") and name not in states:
                states[name] = base if _is_image_input(rec, names, given) else None
        ins = [(name, s) for name in names if (s := states.get(name)) is not None]
        state, node = _step(rec, ins, sequential)
        if state is None:
            continue
        if node.kind == "unknown" and not node.why.startswith("after "):
            missing.append(f"{rec.name} ({rec.kind})")
        states[rec.name] = state
        report.nodes[rec.name] = node
        report.fields[rec.name] = _field(rec.name, state, report, centre)
    if missing:
        shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
        report.warnings.append(
            f"receptive field unknown from {len(missing)} op(s) on: {shown} (no rule, not guessed)"
        )
    return report


def _is_waveform(records: list[NodeRecord], shape: tuple[int, ...]) -> bool:
    """A (batch, samples) float input that the forward first gives a channel axis, as
    Wav2Vec2 does to its 16 kHz audio: one axis to measure the field along. Token ids
    (integers) and an MLP's (batch, features) input have none."""
    if len(shape) != 2 or not records:
        return False
    rec = records[0]
    x = first_tensor(rec.call.args) if rec.call.args else first_tensor(rec.call.kwargs)
    out = first_tensor(rec.out)
    if x is None or out is None or not x.is_floating_point() or tuple(x.shape) != shape:
        return False
    return out.dim() == 3 and (out.shape[0], out.shape[2]) == shape


def _half(value: Number) -> Number:
    """``value / 2``, exact, and still an int when it is whole."""
    if isinstance(value, int):
        return value >> 1 if value % 2 == 0 else Fraction(value, 2)
    return value / 2


def _is_image_input(rec: NodeRecord, names: list[str], shape: tuple[int, ...]) -> bool:
    """Whether a model input is the image the fields are measured on (not, say, a class vector).

    Told by the tensor its first consumer received, when that consumer reads nothing else.
    """
    if len(names) != 1:
        return True
    x = first_tensor(rec.call.args) if rec.call.args else first_tensor(rec.call.kwargs)
    return x is None or (x.dim() == len(shape) and tuple(x.shape[2:]) == tuple(shape[2:]))


def _field(name: str, s: _State, report: ReceptiveFieldReport, centre: tuple) -> ReceptiveField:
    if s.kind == "global":
        return ReceptiveField(
            name, report.input_size, None, centre,
            is_global=True, why=s.why, report=report,
        )  # fmt: skip
    if s.kind == "unknown":
        return ReceptiveField(name, None, None, None, unknown=True, why=s.why, report=report)
    return ReceptiveField(
        name,
        s.r,  # already exact: every step normalises whole Fractions to int
        s.j,
        s.start,
        misaligned=s.misaligned,
        naive=s.naive,
        why=s.why,
        report=report,
    )


def _out_sizes(rec: NodeRecord, dims: tuple[int, ...]) -> tuple[int, ...] | None:
    out = first_tensor(rec.out)
    if out is None:
        return None
    shape = out.shape
    if len(shape) < -min(dims):
        return None
    return tuple([shape[d] for d in dims])


def _step(rec: NodeRecord, ins: list[tuple[str, _State]], sequential: bool) -> tuple[_State | None, Node]:
    names = [name for name, _ in ins]
    rule = rule_for(rec.call) if ins else None
    if not ins or rule is constant:  # made from shapes alone: no field
        return None, Node(rec.name, "none", names, (), None)
    effect = _effect(rec, ins, sequential, rule)
    if isinstance(effect, Constant):  # an opaque module that reads no input position
        return None, Node(rec.name, "none", names, (), None, effect.why)
    if isinstance(effect, (Global, Unknown)):
        kind = "global" if isinstance(effect, Global) else "unknown"
        return _State(kind, why=effect.why), Node(rec.name, kind, names, (), None, effect.why)
    primary = ins[0][1]  # every input is spatial here: a global or unknown one returned above
    merged = _union([s for _, s in ins], rec)
    dims = effect.dims if isinstance(effect, (Keep, Window)) and effect.dims is not None else primary.dims
    windows: list[AxisWindow | None] = [None] * len(primary.dims)
    if isinstance(effect, Window):
        merged = _apply_window(merged, effect, dims, windows)
    sizes = _out_sizes(rec, dims)
    if sizes is None:
        why = f"{rec.kind} output has no spatial axes left"
        return _State("global", why=why), Node(rec.name, "global", names, (), None, why)
    merged.dims, merged.sizes = dims, sizes
    return merged, Node(rec.name, "spatial", names, tuple(windows), sizes)


def _effect(rec: NodeRecord, ins: list[tuple[str, _State]], sequential: bool, rule: Callable | None) -> Effect:
    """What the op does to the geometry: its rule's answer, or Global/Unknown when an input
    has lost the geometry already, the op has no rule, or its rule cannot read the call."""
    if all(s.kind == "spatial" for _, s in ins):
        return _spatial_effect(rec, ins, sequential, rule)
    by_kind: dict[str, _State] = {}  # the first input of each kind
    for _, s in ins:
        by_kind.setdefault(s.kind, s)
    if "global" in by_kind:
        if "spatial" in by_kind:
            return Global(
                "combined with a global input (e.g. squeeze-and-excitation gating): every unit sees the whole input"
            )
        return Global("after a global op")
    if "unknown" in by_kind:
        root = by_kind["unknown"].why  # the first op that had no rule, named once down the chain
        return Unknown(root if root.startswith("after ") else f"after an op without a receptive-field rule ({root})")
    raise AssertionError(f"an input of unexpected kind: {sorted(by_kind)}")


def _spatial_effect(rec: NodeRecord, ins: list[tuple[str, _State]], sequential: bool, rule: Callable | None) -> Effect:
    """The effect of an op whose inputs all still have their geometry."""
    primary = ins[0][1]
    if sequential and not _matches(rec, primary):
        return Global("the input was reshaped by code the forward hooks cannot see")
    if rule is None:
        opened = rec.children or rec.priced_inside  # an opaque module, or one that ran no call at all
        inside = opaque_effect(rec, primary, _base_like(primary), _step) if opened else None
        if inside is not None:
            return inside
        why = f"no receptive-field rule for {rec.kind}"
        if rec.children:
            why += " (an opaque module: its inner calls could not be followed)"
        return Unknown(why)
    try:
        effect: Effect = rule(rec.call, primary.dims)
    except Exception as exc:  # a rule that cannot read this call is as good as no rule
        return Unknown(f"the {rec.kind} rule failed: {type(exc).__name__}: {exc}")
    return effect


def _base_like(primary: _State) -> _State:
    """A unit field on ``primary``'s axes of the module's input: the start of an inner analysis."""
    n = len(primary.dims)
    return _State("spatial", primary.dims, primary.sizes, (1,) * n, (1,) * n, (0,) * n, (1,) * n)


def _apply_window(
    merged: _State, effect: Window, dims: tuple[int, ...], windows: list[AxisWindow | None]
) -> _State:
    """The recurrence of the module docstring on every axis the window covers; each axis's
    window goes into ``windows``."""
    w = len(effect.axes)
    r, j, st, naive = list(merged.r), list(merged.j), list(merged.start), list(merged.naive)
    for a, d in enumerate(dims):
        index = w + d
        if not 0 <= index < w:
            continue
        ax = effect.axes[index]
        windows[a] = ax
        r[a] = exact(r[a] + (ax.hi - ax.lo) * j[a])
        st[a] = exact(st[a] + _half((ax.lo + ax.hi) * j[a]))
        j[a] = exact(j[a] * ax.stride)
        if effect.kernel is not None:
            naive[a] = naive[a] + effect.kernel[index] - 1
    return _State("spatial", dims, (), tuple(r), tuple(j), tuple(st), tuple(naive), merged.misaligned)


def _matches(rec: NodeRecord, primary: _State) -> bool:
    """In the hook fallback, whether the tensor a module received is the one recorded before it."""
    x = first_tensor(rec.call.args) if rec.call.args else first_tensor(rec.call.kwargs)
    if x is None or x.dim() < max(-d for d in primary.dims):
        return False
    return tuple(int(x.shape[d]) for d in primary.dims) == primary.sizes


def _union(states: list[_State], rec: NodeRecord) -> _State:
    """The bounding field of several inputs (residual add, concatenation)."""
    first = states[0]
    if len(states) == 1:
        return _State("spatial", first.dims, first.sizes, first.r, first.j, first.start, first.naive, first.misaligned)
    n = len(first.dims)
    out_sizes = _out_sizes(rec, first.dims) or first.sizes
    r, j, st, naive = [], [], [], []
    misaligned = any(s.misaligned for s in states)
    for a in range(n):
        lo, hi = first.bounds(a)
        jumps = set()
        for s in states:
            a_lo, a_hi = s.bounds(a)
            if s.sizes[a] == 1 and out_sizes[a] != 1:
                misaligned = True  # broadcast: every unit sees this input's unit 0
            else:
                jumps.add(s.j[a])
            lo = min(lo, a_lo)
            hi = max(hi, a_hi)
        if len(jumps) > 1:
            misaligned = True
        r.append(exact(hi - lo + 1))
        st.append(exact(_half(lo + hi)))
        j.append(first.j[a])
        naive.append(max(s.naive[a] for s in states))
    return _State("spatial", first.dims, first.sizes, tuple(r), tuple(j), tuple(st), tuple(naive), misaligned)

"""The receptive-field records: one :class:`ReceptiveField` per node, and the report over them.

A field carries the closed form of the textbook recurrence (``size``, ``jump``,
``start`` per axis); the report also keeps the graph of per-op windows, so that
:meth:`ReceptiveFieldReport.region` can walk back from one unit and give the exact
input indices it reads, clipped at every layer. The two agree wherever the
closed form is exact (integer jumps, no clipping); the walk is the ground truth
the gradient check is compared with.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from cnninspect.engine.ops.receptive import AxisWindow
from cnninspect.errors import ModelError, OptionError
from cnninspect.units import fmt_axes, jsonable

Number = int | Fraction
Region = tuple[tuple[int, int], ...]


def exact(value: Fraction | int) -> Number:
    """A Fraction that is whole becomes an int (so the table reads 16, not 16/1)."""
    if type(value) is not int and isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    return value


@dataclass(frozen=True)
class ReceptiveField:
    """What one node's units see of the input, per spatial axis (H, W order).

    Unit ``i`` covers ``start + i*jump - (size-1)/2 .. start + i*jump + (size-1)/2``
    before clipping. ``naive`` is the chapter's stride-1 formula ``R += K - 1`` with ``K``
    the written kernel size (strides and dilations ignored, which is its mistake).
    Global fields (the unit sees the whole input) have ``size`` equal to the input
    size and no jump; unknown ones have neither.
    """

    name: str
    size: tuple[Number, ...] | None
    jump: tuple[Number, ...] | None
    start: tuple[Number, ...] | None
    is_global: bool = False
    unknown: bool = False
    misaligned: bool = False
    naive: tuple[int, ...] | None = None
    why: str = ""
    report: Any = field(default=None, compare=False, repr=False)

    @property
    def effective_padding(self) -> tuple[Number, ...] | None:
        """How far unit 0's field reaches before input index 0 (Araujo et al., Distill 2019)."""
        if self.size is None or self.start is None or self.is_global:
            return None
        return tuple(exact(Fraction(r - 1, 2) - s) for r, s in zip(self.size, self.start))

    def region(self, unit: int | Sequence[int] = 0) -> Region:
        """Per axis the ``(first, last)`` input index that ``unit`` reads, clipped to the input."""
        if self.report is None:
            raise OptionError("this receptive field is not attached to a report; use report.region(name, unit)")
        return self.report.region(self.name, unit)

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": _listed(self.size),
            "jump": _listed(self.jump),
            "start": _listed(self.start),
            "global": self.is_global,
            "unknown": self.unknown,
            "misaligned": self.misaligned,
            "naive": _listed(self.naive),
            "effective_padding": _listed(self.effective_padding),
        }


def _listed(values: Sequence[Number] | None) -> list[Number] | None:
    return None if values is None else [exact(v) if isinstance(v, Fraction) else v for v in values]


@dataclass
class Node:
    """One op in the report's graph: how its output units read each of its inputs."""

    name: str
    kind: str  # "input" | "spatial" | "global" | "unknown"
    inputs: list[str]
    windows: tuple[AxisWindow | None, ...]  # per spatial axis; None keeps the unit index
    sizes: tuple[int, ...] | None  # the output's spatial size per axis
    why: str = ""


@dataclass
class ReceptiveFieldReport:
    """Receptive fields of every node of a model for one input size."""

    input_size: tuple[int, ...]
    fields: dict[str, ReceptiveField]
    nodes: dict[str, Node]
    warnings: list[str] = field(default_factory=list)
    summary: Any = field(default=None, repr=False)
    naive: bool = False  # show the stride-1 formula in to_text() by default

    def __getitem__(self, name: str) -> ReceptiveField:
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(f"no node {name!r} with a receptive field; nodes are: {', '.join(self.fields)}") from None

    def __iter__(self) -> Iterator[ReceptiveField]:
        return iter(self.fields.values())

    def __len__(self) -> int:
        return len(self.fields)

    @property
    def output(self) -> ReceptiveField | None:
        """The model's last feature map: the last node whose output still has the input's
        layout (N, C and the spatial axes, one of them over 1), whatever its field -- a map that a
        squeeze-and-excitation gate multiplied is global and still the output; the last node of
        all when none keeps that layout (an MLP)."""
        shapes = {layer.name: layer.output_shape for layer in getattr(self.summary, "layers", [])}
        rank = len(self.input_size) + 2

        def keeps_layout(name: str) -> bool:
            shape = shapes.get(name)
            if shape is None:  # no summary (a report built by hand): the field's own layout
                node = self.nodes.get(name)
                return node is not None and node.kind == "spatial"
            return (
                isinstance(shape, tuple) and len(shape) == rank
                and all(isinstance(n, int) for n in shape) and max(shape[2:]) > 1
            )  # fmt: skip

        spatial = [f for name, f in self.fields.items() if keeps_layout(name)]
        if spatial:
            return spatial[-1]
        return next(reversed(self.fields.values()), None)

    def region(self, name: str, unit: int | Sequence[int] = 0) -> Region:
        """The ``(first, last)`` input indices, per axis, that ``unit`` of node ``name`` reads.

        Walks the graph back from the unit, clipping at every layer's input, so the
        answer is exact for clipped border units, transposed convolutions and
        interpolation. Negative unit indices count from the end, as in Python.
        """
        node = self.nodes.get(name)
        if node is None or name not in self.fields:
            raise OptionError(f"no node {name!r} with a receptive field; nodes are: {', '.join(self.fields)}")
        full = tuple((0, n - 1) for n in self.input_size)
        if node.kind == "global":
            return full
        if node.kind == "unknown":
            raise ModelError(f"the receptive field of {name!r} is unknown: {node.why}")
        units = self._units(node, unit)
        demand: dict[str, list[tuple[int, int]]] = {name: [(u, u) for u in units]}
        order = list(self.nodes)
        result: list[tuple[int, int]] | None = None
        for current in reversed(order[: order.index(name) + 1]):
            spans = demand.pop(current, None)
            if spans is None:
                continue
            here = self.nodes[current]
            if here.kind == "global":
                return full
            if here.kind == "unknown":
                raise ModelError(f"the receptive field of {name!r} passes through {current!r}: {here.why}")
            for source in here.inputs:
                reads = self._reads(here, source, spans)
                if reads is None:
                    continue
                if source.startswith("input:"):
                    result = reads if result is None else _bound(result, reads)
                else:
                    demand[source] = reads if source not in demand else _bound(demand[source], reads)
        if result is None:
            raise OptionError(f"unit {tuple(units)} of {name!r} reads only padding: no input index")
        return tuple(result)

    def _units(self, node: Node, unit: int | Sequence[int]) -> list[int]:
        sizes = node.sizes or ()
        units = [unit] * len(sizes) if isinstance(unit, int) else list(unit)
        if not all(isinstance(u, int) and not isinstance(u, bool) for u in units):
            raise OptionError(f"unit {unit!r} must be an int or one int per spatial axis, e.g. (3, 3)")
        if len(units) != len(sizes):
            raise OptionError(f"unit {unit!r} needs {len(sizes)} indices for {node.name!r} (spatial size {sizes})")
        out = []
        for u, n in zip(units, sizes):
            if not -n <= u < n:
                raise OptionError(f"unit {tuple(units)} is outside {node.name!r}'s spatial size {tuple(sizes)}")
            out.append(u % n)
        return out

    def _reads(self, node: Node, source: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]] | None:
        sizes = self.input_size if source.startswith("input:") else self.nodes[source].sizes
        if sizes is None:
            return None
        out = []
        for (first, last), window, n in zip(spans, node.windows, sizes):
            if window is not None:
                first, last = window.clipped(first, last, n)
            elif n == 1:  # broadcast along this axis
                first, last = 0, 0
            first, last = max(first, 0), min(last, n - 1)
            if first > last:
                return None
            out.append((first, last))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: fractional numbers become floats (the fields themselves stay exact)."""
        out = self.output
        return jsonable({
            "input_size": list(self.input_size),
            "output": {"name": out.name, **out.to_dict()} if out is not None else None,
            "nodes": {name: f.to_dict() for name, f in self.fields.items()},
            "warnings": list(self.warnings),
        })

    def to_text(self, naive: bool | None = None) -> str:
        """The summary table restricted to the receptive-field columns."""
        naive = self.naive if naive is None else naive
        lines = []
        if self.summary is not None:
            columns = ["name", "kind", "output_shape", "rf", "jump", "start"] + (["naive_rf"] if naive else [])
            lines.append(self.summary.to_text(columns=columns))
        out = self.output
        if out is not None:
            if out.is_global:
                lines.append(f"output {out.name}: global (every unit sees the whole input)")
            else:
                text = (
                    f"output {out.name}: receptive field {fmt_axes(out.size)}, jump {fmt_axes(out.jump)}, "
                    f"start {fmt_axes(out.start)}, effective padding {fmt_axes(out.effective_padding)}"
                )
                if naive and out.naive is not None:
                    text += f"; the stride-1 formula R += K-1 gives {fmt_axes(out.naive)}"
                lines.append(text)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _bound(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(min(x0, y0), max(x1, y1)) for (x0, x1), (y0, y1) in zip(a, b)]


__all__ = ["ReceptiveField", "ReceptiveFieldReport", "Node", "exact"]

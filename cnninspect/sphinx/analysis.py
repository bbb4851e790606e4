"""What the directives show, computed from the core analyses (no docutils here).

The directives only turn these records into nodes; the numbers come from
:func:`cnninspect.summarize` and, where those modules are installed, from
:mod:`cnninspect.receptive` and :mod:`cnninspect.fc`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..errors import OptionError

Shape = tuple[int, ...]


@dataclass
class Analysed:
    """A model loaded from its spec and summarised for one input."""

    spec: str
    model: Any
    summary: Any
    input_shapes: list[Shape]
    source_file: str | None

    @property
    def input_arg(self) -> Shape | list[Shape]:
        return self.input_shapes[0] if len(self.input_shapes) == 1 else self.input_shapes


# One build's summaries (several directives often show one model); cleared when a build starts,
# so a long-lived process never serves a model from an earlier build. Parallel readers fork with it.
_CACHE: dict[tuple, tuple[float | None, Analysed]] = {}


def clear_cache(*_: Any) -> None:
    _CACHE.clear()


def parse_shapes(text: Any, where: str) -> list[Shape] | None:
    """``1,3,32,32`` or ``1x3x32x32``; several inputs separated by ``;``. None when not given."""
    from ..inputs import parse_shape

    if text is None or text == "":
        return None
    if isinstance(text, (tuple, list)) and text and isinstance(text[0], (tuple, list, str)):
        return [parse_shape(t, where) for t in text]
    if isinstance(text, str):
        return [parse_shape(part.strip(), where) for part in text.split(";") if part.strip()]
    return [parse_shape(text, where)]


def parse_kwargs(text: str | None) -> dict[str, Any]:
    from ..spec import parse_kwargs as parse

    return parse(text)


def _mtime(path: str | None) -> float | None:
    try:
        return os.path.getmtime(path) if path else None
    except OSError:
        return None


_SHAPE_HINT = "add ':input-shape: 1,3,224,224' to the directive or set cnninspect_input_shape in conf.py"


def analyse(spec: str, shapes: list[Shape] | None, default_shapes: list[Shape] | None,
            kwargs: dict[str, Any], device: str | None, shape_hint: str = _SHAPE_HINT) -> Analysed:  # fmt: skip
    """Load ``spec`` and summarise it; the directive's shape wins over the config's, then the model's.

    ``shape_hint`` is the fix the error names when no shape is known (the CLI names its option).
    """
    from ..spec import load_model
    from ..summarize import summarize

    key = (spec, json.dumps(shapes), json.dumps(default_shapes), json.dumps(kwargs, sort_keys=True), device)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == _mtime(hit[1].source_file):
        return hit[1]
    loaded = load_model(spec, kwargs)
    use = shapes or default_shapes or ([tuple(loaded.default_input_shape)] if loaded.default_input_shape else None)
    if use is None:
        raise OptionError(f"model {spec!r} has no default input shape; {shape_hint}")
    arg = use[0] if len(use) == 1 else use
    summary = summarize(loaded.model, arg, device=device)
    result = Analysed(spec, loaded.model, summary, [tuple(s) for s in use], loaded.source_file)
    _CACHE[key] = (_mtime(loaded.source_file), result)
    return result


# ---------------------------------------------------------------- receptive fields


@dataclass
class RFRow:
    name: str
    kind: str
    size: tuple[Fraction, ...] | None  # None: global or unknown
    jump: tuple[Fraction, ...] | None
    start: tuple[Fraction, ...] | None
    naive: tuple[Fraction, ...] | None
    status: str = ""  # "", "global" or "unknown"


def rf_rows(summary: Any) -> list[RFRow]:
    """Layers that carry a receptive field, in order (empty when cnninspect.receptive is absent)."""
    rows = []
    for layer in summary.layers:
        rf = layer.receptive_field
        if rf is None:
            continue
        status = "global" if getattr(rf, "is_global", False) else "unknown" if getattr(rf, "unknown", False) else ""
        values = [None if status else _axes(getattr(rf, attr, None)) for attr in ("size", "jump", "start", "naive")]
        rows.append(RFRow(layer.name, layer.kind, *values, status=status))
    return rows


def _axes(value: Any) -> tuple[Fraction, ...] | None:
    if value is None:
        return None
    if not isinstance(value, (tuple, list)):
        value = (value,)
    return tuple(Fraction(v) for v in value)


def unit_region(layer: Any, unit: tuple[int, ...], input_size: tuple[int, ...]) -> list[tuple[int, int]]:
    """``(first, last)`` input index per axis of one unit, clipped to the input.

    Unit ``i`` of a layer with size ``r``, jump ``j`` and start ``s`` covers
    ``s + i*j - (r-1)/2 ... s + i*j + (r-1)/2`` (the convention of cnninspect.receptive).
    """
    rf = layer.receptive_field
    if rf is None or getattr(rf, "is_global", False) or getattr(rf, "unknown", False):
        what = "is global" if rf is not None and getattr(rf, "is_global", False) else "is not known"
        raise OptionError(f"layer {layer.name!r}: its receptive field {what}; pick a layer before the flatten")
    size, jump, start = _axes(rf.size), _axes(rf.jump), _axes(rf.start)
    if len(unit) != len(size):
        raise OptionError(f"unit {unit} has {len(unit)} coordinate(s); layer {layer.name!r} has {len(size)} spatial axes")
    out = []
    for i, r, j, s, n in zip(unit, size, jump, start, input_size):
        centre = s + i * j
        first = max(0, math.floor(centre - (r - 1) / 2))
        last = min(n - 1, math.ceil(centre + (r - 1) / 2))
        out.append((first, last))
    return out


def region(analysed: Analysed, layer: Any, unit: tuple[int, ...]) -> list[tuple[int, int]]:
    """Prefer the summary's receptive-field report (it walks multi-path graphs); else the formula."""
    report = getattr(analysed.summary, "receptive_field", None)
    if report is not None and hasattr(report, "region"):
        return [(int(a), int(b)) for a, b in report.region(layer.name, unit)]
    return unit_region(layer, unit, tuple(analysed.input_shapes[0][2:]))


# ---------------------------------------------------------------- FC vs conv


@dataclass
class FCRow:
    name: str
    kind: str
    in_shape: Shape
    out_shape: Shape
    conv_params: int
    fc_params: int

    @property
    def ratio(self) -> float:
        return self.fc_params / self.conv_params if self.conv_params else math.inf

    @property
    def saving(self) -> float:
        """Share of the fully-connected layer's parameters the conv does without."""
        return 1 - self.conv_params / self.fc_params if self.fc_params else 0.0


@dataclass
class FCComparison:
    rows: list[FCRow] = field(default_factory=list)

    @property
    def conv_params(self) -> int:
        return sum(r.conv_params for r in self.rows)

    @property
    def fc_params(self) -> int:
        return sum(r.fc_params for r in self.rows)

    @property
    def saving(self) -> float:
        return 1 - self.conv_params / self.fc_params if self.fc_params else 0.0


def fc_comparison(analysed: Analysed) -> FCComparison:
    """Each conv layer beside a fully-connected layer mapping the same input volume to the same output.

    Uses :func:`cnninspect.fc.compare_fc` when it is installed and reads the
    rows straight from the summary otherwise (the arithmetic is the chapter's:
    ``in_volume * out_volume`` weights plus ``out_volume`` biases).
    """
    external = _external_fc(analysed)
    if external is not None:
        return external
    summary = analysed.summary
    by_name = {layer.name: layer for layer in summary.layers}
    rows = []
    for layer in summary.layers:
        if not layer.kind.startswith("Conv") or not isinstance(layer.output_shape, tuple):
            continue
        src = layer.inputs[0] if layer.inputs else ""
        if src.startswith("input:") or src not in by_name:
            in_shape = tuple(summary.input_shapes[0])
        else:
            in_shape = by_name[src].output_shape
        if not isinstance(in_shape, tuple):
            continue
        in_vol, out_vol = math.prod(in_shape[1:]), math.prod(layer.output_shape[1:])
        rows.append(FCRow(layer.name, layer.kind, tuple(in_shape[1:]), tuple(layer.output_shape[1:]),
                          layer.num_params, in_vol * out_vol + out_vol))  # fmt: skip
    return FCComparison(rows)


def _external_fc(analysed: Analysed) -> FCComparison | None:
    """Rows from :mod:`cnninspect.fc`, read off the summary we already have (no second trace)."""
    try:
        from .. import fc
    except ImportError:
        return None
    try:
        annotate = getattr(fc, "annotate", None)
        if annotate is not None:
            found = annotate(analysed.summary)
        else:
            found = fc.compare_fc(analysed.model, analysed.input_arg).rows
        rows = [
            FCRow(r.name, getattr(r, "kind", ""), tuple(r.input_shape), tuple(r.output_shape),
                  int(r.conv_params), int(r.fc_params))
            for r in found
        ]  # fmt: skip
        return FCComparison(rows)
    except (AttributeError, TypeError):
        return None  # an API this version does not know: use the summary's own rows


def check_layer(summary: Any, name: str | None) -> Any:
    try:
        return summary.layer(name)
    except KeyError as exc:
        raise OptionError(str(exc.args[0])) from None


def spatial_layers(summary: Any) -> list[Any]:
    """Layers with a finite receptive field and a spatial output, in order."""
    out = []
    for layer in summary.layers:
        rf = layer.receptive_field
        if rf is None or getattr(rf, "is_global", False) or getattr(rf, "unknown", False):
            continue
        if isinstance(layer.output_shape, tuple) and len(layer.output_shape) >= 3:
            out.append(layer)
    return out


__all__ = [
    "Analysed", "analyse", "parse_shapes", "parse_kwargs", "rf_rows", "unit_region", "region",
    "fc_comparison", "FCComparison", "FCRow", "spatial_layers", "check_layer",
]  # fmt: skip

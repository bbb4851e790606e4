"""What the directives show, computed from the core analyses (no docutils here).

The directives only turn these records into nodes; the numbers come from
:func:`cnninspect.summarize` and, where those modules are installed, from
:mod:`cnninspect.engine.receptive` and :mod:`cnninspect.analyses.fc`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from cnninspect.errors import OptionError

if TYPE_CHECKING:
    from cnninspect.analyses.fc import FcComparison
    from cnninspect.engine.inputs import InputSpec

Shape = tuple[int, ...]


@dataclass
class Analysed:
    """A model loaded from its spec and summarised for one input."""

    spec: str
    model: Any
    summary: Any
    inputs: InputSpec
    source_file: str | None
    # memory setup -> (annotated summary, MemoryReport), filled by sphinx.memory.annotate
    memory: dict[tuple, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def input_shapes(self) -> list[Shape]:
        return list(self.inputs.shapes)


# One build's summaries (several directives often show one model); cleared when a build starts,
# so a long-lived process never serves a model from an earlier build. Parallel readers fork with it.
_CACHE: dict[tuple, tuple[float | None, Analysed]] = {}


def clear_cache(*_: Any) -> None:
    _CACHE.clear()


def parse_shapes(text: Any, where: str) -> InputSpec | None:
    """``:input-shape:`` text (``1,3,32,32``; several inputs separated by ``;``) or the
    ``cnninspect_input_shape`` config value (text, a shape or a list of shapes) as an
    input spec; None when not given."""
    from cnninspect.engine.inputs import InputSpec

    if text is None or text == "":
        return None
    if isinstance(text, str):
        return InputSpec.parse(text, where=where)
    return InputSpec.of(text, where=where)


def parse_kwargs(text: str | None) -> dict[str, Any]:
    from cnninspect.integrations.spec import parse_kwargs as parse

    return parse(text)


def _mtime(path: str | None) -> float | None:
    try:
        return os.path.getmtime(path) if path else None
    except OSError:
        return None


_SHAPE_HINT = "add ':input-shape: 1,3,224,224' to the directive or set cnninspect_input_shape in conf.py"


def analyse(spec: str, inputs: InputSpec | None, default_inputs: InputSpec | None,
            kwargs: dict[str, Any], device: str | None, shape_hint: str = _SHAPE_HINT) -> Analysed:  # fmt: skip
    """Load ``spec`` and summarise it; the directive's input wins over the config's, then the model's.

    ``shape_hint`` is the fix the error names when no shape is known (the CLI names its option).
    """
    from cnninspect.engine.inputs import choose_input
    from cnninspect.engine.summary import summarize
    from cnninspect.integrations.spec import load_model

    key = (spec, inputs, default_inputs, json.dumps(kwargs, sort_keys=True), device)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == _mtime(hit[1].source_file):
        return hit[1]
    loaded = load_model(spec, kwargs)
    use = choose_input(loaded.model, inputs, default_inputs, name=spec, hint=shape_hint)
    summary = summarize(loaded.model, use, device=device)
    result = Analysed(spec, loaded.model, summary, use, loaded.source_file)
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
    """Layers that carry a receptive field, in order (empty when cnninspect.engine.receptive is absent)."""
    rows = []
    for layer in summary.layers:
        rf = layer.receptive_field
        if rf is None:
            continue
        status = "global" if getattr(rf, "is_global", False) else "unknown" if getattr(rf, "unknown", False) else ""
        size, jump, start, naive = (
            None if status else _axes(getattr(rf, attr, None)) for attr in ("size", "jump", "start", "naive")
        )
        rows.append(RFRow(layer.name, layer.kind, size, jump, start, naive, status=status))
    return rows


def _axes(value: Any) -> tuple[Fraction, ...] | None:
    if value is None:
        return None
    if not isinstance(value, (tuple, list)):
        value = (value,)
    return tuple(Fraction(v) for v in value)


def region(analysed: Analysed, layer: Any, unit: tuple[int, ...]) -> list[tuple[int, int]]:
    """``(first, last)`` input index per axis of one unit of ``layer``, clipped to the input."""
    rf = layer.receptive_field
    if rf is None or rf.is_global or rf.unknown:
        what = "is global" if rf is not None and rf.is_global else "is not known"
        raise OptionError(f"layer {layer.name!r}: its receptive field {what}; pick a layer before the flatten")
    report = analysed.summary.receptive_field
    try:
        return [(int(a), int(b)) for a, b in report.region(layer.name, unit)]
    except (ValueError, IndexError) as exc:
        raise OptionError(f"layer {layer.name!r}, unit {unit}: {exc}") from None


# ---------------------------------------------------------------- FC vs conv


def fc_comparison(analysed: Analysed) -> FcComparison:
    """Each conv layer beside a fully-connected layer mapping the same volumes, read off the
    summary we already have (:func:`cnninspect.analyses.fc.annotate`, no second trace)."""
    from cnninspect.analyses.fc import FcComparison, annotate, with_fc_params

    rows = annotate(analysed.summary)  # the cached summary stays as it is
    return FcComparison(analysed.summary.model_name, rows, with_fc_params(analysed.summary, rows))


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
    "Analysed", "analyse", "parse_shapes", "parse_kwargs", "rf_rows", "region",
    "fc_comparison", "spatial_layers", "check_layer",
]  # fmt: skip

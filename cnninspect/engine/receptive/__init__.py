"""Receptive fields: exact, stride-aware, per axis, over any graph -- and checked against gradients.

:func:`receptive_field` returns a :class:`ReceptiveFieldReport`; :func:`summarize`
calls :func:`attach` so every summary row carries its field too. The rules live in
:mod:`cnninspect.engine.ops.receptive` (the op catalogue), the composition in
:mod:`.analyse`; the empirical proof is :mod:`cnninspect.analyses.gradcheck` and the
pictures :mod:`cnninspect.renderers.receptive_plot`.

What "sees" means here: a unit of a node is a spatial position with all its
channels, and its field is every input pixel it depends on. So slicing channels
out of a concatenation keeps the whole concatenation's field (a bounding region),
a norm's statistics do not count (by convention), and anything multiplied in from
a global branch (squeeze-and-excitation) makes the unit global. With fractional
jumps (upsampling, unequal adaptive bins) ``size``/``start`` are the continuous
envelope; :meth:`ReceptiveFieldReport.region` is exact per unit either way.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from cnninspect.engine.propagate import NodeRecord
from cnninspect.engine.receptive.analyse import analyse
from cnninspect.engine.receptive.report import ReceptiveField, ReceptiveFieldReport
from cnninspect.engine.records import AnalysisFailure, Layer, Summary
from cnninspect.errors import InputShapeError, ModelError

__all__ = ["receptive_field", "attach", "ReceptiveField", "ReceptiveFieldReport"]


def attach(
    summary: Summary, rows: list[tuple[NodeRecord, Layer]], input_shapes: list[tuple[int, ...]]
) -> ReceptiveFieldReport | None:
    """Give every row of ``summary`` its receptive field and the summary its report.

    ``rows`` pairs each record with the row made from it, so a field lands on its own
    row whatever the order. Rows without spatial meaning keep ``receptive_field = None``.
    An analysis that fails outright sets ``summary.rf_error`` (and a warning), never
    failing the summary. The hook fallback records no graph edges: its rows are then
    read as one sequential chain, and a warning says so.
    """
    records = [rec for rec, _ in rows]
    sequential = bool(records) and all(not rec.inputs for rec in records)
    try:
        report = analyse(records, input_shapes, sequential=sequential)
    except Exception as exc:  # never let this analysis cost the user the rest of the summary
        summary.rf_error = AnalysisFailure(type(exc).__name__, str(exc))
        summary.warnings.append(f"receptive fields not computed: {summary.rf_error}")
        summary.receptive_field = None
        return None
    report.summary = summary
    if sequential and report.fields:
        report.warnings.insert(
            0,
            "receptive fields: the forward-hook fallback records no graph edges, so the rows were "
            "read as one sequential chain (branches and skips are not seen)",
        )
    for rec, layer in rows:
        rf = report.fields.get(rec.name)
        layer.receptive_field = rf
        if rf is not None and rf.unknown and not rf.why.startswith("after "):
            layer.notes.append(f"receptive field unknown: {rf.why}")
        elif rf is not None and rf.misaligned:
            layer.notes.append("receptive field misaligned: its inputs' units sit on different grids")
    summary.warnings.extend(report.warnings)
    summary.receptive_field = report
    return report


def receptive_field(
    model: nn.Module,
    input_shape: Any = None,
    *,
    input_data: Any = None,
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
    naive: bool = False,
) -> ReceptiveFieldReport:
    """The receptive field of every node of ``model`` for an input of ``input_shape``.

    ``report.output`` is the model's last spatial output; ``report.region(name, unit)``
    gives the input indices one unit reads (the chapter's "which pixels does this
    neuron see"). Sizes depend on the input only through clipping and adaptive ops.
    With ``naive=True`` the report's text also shows the chapter's stride-1 formula.
    """
    from cnninspect.engine.summary import summarize

    summary = summarize(model, input_shape, input_data=input_data, dtype=dtype, device=device)
    report = summary.receptive_field
    if summary.rf_error is not None:
        raise ModelError(f"receptive fields not computed: {summary.rf_error}")
    if report is None or not report.fields:
        shape = summary.input_shapes[0] if summary.input_shapes else ()
        raise InputShapeError(
            f"the input of shape {tuple(shape)} has no spatial axes; receptive fields need "
            "(N, C, L), (N, C, H, W) or (N, C, D, H, W) inputs"
        )
    report.naive = naive
    return report

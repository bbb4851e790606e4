"""A summary whose rows carry their memory: the ``output_bytes`` and ``saved_bytes`` columns."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cnninspect.analyses.memory.report import MemoryReport
from cnninspect.engine.records import Summary


def with_memory(summary: Summary, **options: Any) -> tuple[Summary, MemoryReport]:
    """A copy of ``summary`` whose rows carry ``output_bytes`` and ``saved_bytes`` (the
    summary itself is left alone: it may be cached), and the report they come from.

    ``options`` are :meth:`Summary.memory`'s (``batch_size``, ``optimizer``, ``dtype``, ``amp``).
    """
    report = summary.memory(**options)
    by_name = {row.name: row for row in report.rows}
    layers = [
        replace(layer, output_bytes=by_name[layer.name].output_bytes,
                saved_bytes=by_name[layer.name].saved_bytes, notes=list(layer.notes))
        if layer.name in by_name else layer
        for layer in summary.layers
    ]  # fmt: skip
    return replace(summary, layers=layers, warnings=list(summary.warnings)), report

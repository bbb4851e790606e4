"""Per-layer memory as a bar chart: what each row makes autograd keep for backward.

The bytes a row saves for backward are what a training step holds until the backward
reaches it, so they are the bars; each bar is labelled in human units. The figure comes
from :mod:`cnninspect.renderers.figures` (Agg canvas, no pyplot state), and every bar's
``gid`` is its row's name, so the chart can be read back without looking at pixels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnninspect.engine.records import Summary
from cnninspect.errors import OptionError
from cnninspect.units import human_bytes

_BAR = "#3b6ea8"


@dataclass(frozen=True)
class MemoryBars:
    """The numbers one chart draws: a bar per row, in table order."""

    labels: list[str]
    saved: list[int]  # bytes saved for backward, the bars
    output: list[int]  # bytes of each row's outputs, shown beside the bar's label
    title: str


def memory_bars(summary: Summary, depth: int | None = None, title: str | None = None) -> MemoryBars:
    """The rows of a summary annotated by ``cnninspect.analyses.memory.with_memory``, folded
    to ``depth`` as the table is (a folded row saves the sum of its rows)."""
    from cnninspect.renderers.text import fold

    rows = fold(summary.layers, depth)
    missing = [row.name for row in rows if row.saved_bytes is None]
    if missing and len(missing) == len(rows):
        raise OptionError(
            "this summary has no memory figures; annotate it first with "
            "cnninspect.analyses.memory.with_memory(summary)"
        )
    if missing:
        raise OptionError(f"the memory report has no figures for row(s) {', '.join(missing)}; a chart would leave them out")
    return MemoryBars(
        labels=[row.name for row in rows],
        saved=[int(row.saved_bytes or 0) for row in rows],
        output=[int(row.output_bytes or 0) for row in rows],
        title=title or f"{summary.model_name}: bytes saved for backward per layer",
    )


def memory_chart(bars: MemoryBars) -> Any:
    """One horizontal bar per row (bytes saved for backward), largest values labelled in units."""
    from cnninspect.renderers.figures import new_figure

    fig = new_figure(6.4, min(1.2 + 0.28 * len(bars.labels), 18))
    ax = fig.add_subplot()
    pos = list(range(len(bars.labels)))
    drawn = ax.barh(pos, bars.saved, color=_BAR, label="saved for backward")
    for patch, name in zip(drawn.patches, bars.labels):
        patch.set_gid(name)
    ax.set_yticks(pos, [f"{name} (out {human_bytes(out)})" for name, out in zip(bars.labels, bars.output)],
                  fontsize=7)  # fmt: skip
    ax.invert_yaxis()
    top = max(bars.saved, default=0) or 1
    for p, value in zip(pos, bars.saved):
        ax.text(value + top * 0.01, p, human_bytes(value), va="center", fontsize=7)
    ax.set_xlim(0, top * 1.3)
    _bytes_axis(ax, top)
    ax.set_xlabel("bytes saved for backward")
    ax.set_title(bars.title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _bytes_axis(ax: Any, top: int) -> None:
    """Ticks at a power-of-two step (64 KiB, 128 KiB ...), so they read as round binary units."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    step = 1
    while top / step > 6:
        step *= 2
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: human_bytes(int(value)) if value else "0"))


def plot_memory(summary: Summary, path: str | os.PathLike[str], depth: int | None = None) -> Path:
    """Write the chart of an annotated summary to ``path`` (PNG, atomically)."""
    from cnninspect.renderers.figures import save_figure

    return save_figure(memory_chart(memory_bars(summary, depth)), path, dpi=110)


__all__ = ["MemoryBars", "memory_bars", "memory_chart", "plot_memory"]

"""Matplotlib figures without pyplot's global state, written to PNG atomically.

Every plot cnninspect draws (receptive fields, the chapter's pictures, the docs' charts)
goes through these two functions, so none touches pyplot's figure registry or leaves a
half-written file behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def new_figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, path: str | os.PathLike[str], dpi: float = 100, tight: bool = True) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically; returns the path.

    ``tight=False`` keeps the figure's own canvas size (the receptive-field plots rely on it).
    """
    from cnninspect.files import atomic_write

    def draw(fh: Any) -> None:
        fig.savefig(fh, format="png", dpi=dpi, bbox_inches="tight" if tight else None)

    return atomic_write(path, draw, suffix=".png")

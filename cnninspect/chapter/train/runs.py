"""A run folder for every training run: metrics, the last checkpoint and plots, in one place.

A three-minute run that saves nothing surprises people, so ``cnninspect train``
writes ``runs/<model>-<date>-<time>/`` unless told otherwise, and says where.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

RUNS = Path("runs")
CURVES = "curves.png"
FILTERS = "filters.png"


def default_run_dir(spec: str, base: str | Path = RUNS, now: float | None = None) -> Path:
    """``runs/<model>-YYYYmmdd-HHMMSS``, with ``-2``, ``-3``... if that folder exists already."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", spec.rsplit(":", 1)[-1].rsplit("/", 1)[-1]).strip("-").lower()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    folder = Path(base) / f"{name or 'model'}-{stamp}"
    n = 2
    while folder.exists():
        folder = Path(base) / f"{name or 'model'}-{stamp}-{n}"
        n += 1
    return folder


def first_conv(model: Any) -> Any | None:
    """The first 2-d convolution of the model, whose filters the run folder shows."""
    import torch

    return next((m for m in model.modules() if isinstance(m, torch.nn.Conv2d)), None)


def write_plots(run_dir: str | Path, history: list[Any], before: Any | None, model: Any) -> list[Path]:
    """Loss/accuracy curves per epoch and the first conv's filters before vs after training."""
    from cnninspect.chapter import viz

    run_dir = Path(run_dir)
    written = [viz.save_figure(viz.training_curves(history), run_dir / CURVES)]
    conv = first_conv(model)
    if before is not None and conv is not None:
        written.append(viz.save_figure(viz.filters_before_after(before, conv.weight), run_dir / FILTERS))
    return written


__all__ = ["default_run_dir", "first_conv", "write_plots", "RUNS", "CURVES", "FILTERS"]

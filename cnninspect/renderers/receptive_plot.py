"""Pictures of receptive fields (PNG): the size per layer, and one unit's field over an image.

matplotlib is imported here, inside the functions, and only its object API with
the Agg canvas is used: no display, no pyplot global state, safe in tests and CI.
Files are written atomically (temporary file, then ``os.replace``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from cnninspect.engine.receptive.report import ReceptiveFieldReport
from cnninspect.errors import OptionError


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike) -> Path:
    from cnninspect.renderers.figures import save_figure

    return save_figure(fig, path, dpi=fig.dpi, tight=False)


def plot_sizes(report: ReceptiveFieldReport, path: str | os.PathLike, naive: bool = True) -> Path:
    """Receptive-field size per layer and axis (global layers drawn at the input size);
    with ``naive``, the chapter's stride-1 formula dashed beside it."""
    known = {name: f.size for name, f in report.fields.items() if not f.unknown and f.size is not None}
    names = list(known)
    if not names:
        raise OptionError("no layer has a known receptive field to plot")
    fig = _figure(max(6.0, 0.35 * len(names) + 2), 4.5)
    ax = fig.add_subplot(1, 1, 1)
    xs = list(range(len(names)))
    axes = {1: ["L"], 2: ["H", "W"], 3: ["D", "H", "W"]}.get(len(report.input_size), ["?"])
    if all(len(set(known[n])) == 1 and len(set(report[n].naive or (0,))) == 1 for n in names):
        axes = [", ".join(axes)]  # one line when every axis agrees
    for a, label in enumerate(axes):
        sizes = [float(known[n][a]) for n in names]
        ax.plot(xs, sizes, marker="o", label=f"receptive field ({label})")
        if naive:
            pts = [(x, nv[a]) for x, n in zip(xs, names) if (nv := report[n].naive) is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], linestyle="--", label=f"stride-1 formula ({label})")
    glob = [x for x, n in zip(xs, names) if report[n].is_global]
    if glob:
        ax.axvspan(glob[0] - 0.5, xs[-1] + 0.5, color="0.9", label="global")
    ax.set_xticks(xs)
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("input pixels")
    ax.set_title("Receptive field size per layer")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def _image_array(image: Any, size: tuple[int, int]):
    import numpy as np

    if image is None:  # a quiet gradient, so the rectangles are the subject
        h, w = size
        return np.add.outer(np.linspace(0.2, 0.6, h), np.linspace(0.0, 0.3, w))
    if isinstance(image, (str, os.PathLike)):
        from matplotlib.image import imread

        if not os.path.isfile(image):
            raise OptionError(f"image file {os.fspath(image)!r} does not exist; give a PNG of the input size")
        try:
            image = imread(os.fspath(image))
        except Exception as exc:  # PIL/matplotlib raise many kinds for unreadable files
            raise OptionError(f"cannot read image {os.fspath(image)!r} ({type(exc).__name__}: {exc}); give a PNG") from None
    if hasattr(image, "detach"):
        image = image.detach().cpu().numpy()
    arr = np.asarray(image, dtype=float)
    while arr.ndim > 3 or (arr.ndim == 3 and arr.shape[0] == 1 and arr.shape[-1] not in (3, 4)):
        arr = arr[0]
    if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[-1] not in (3, 4):
        arr = np.moveaxis(arr, 0, -1)
    if arr.shape[:2] != tuple(size):
        raise OptionError(f"the image is {arr.shape[0]}x{arr.shape[1]} but the input is {size[0]}x{size[1]}; give an image of the input size")
    lo, hi = float(arr.min()), float(arr.max())
    return (arr - lo) / (hi - lo) if hi > lo else arr * 0


def plot_region(
    report: ReceptiveFieldReport,
    path: str | os.PathLike,
    unit: int | Sequence[int] = 0,
    node: str | None = None,
    image: Any = None,
) -> Path:
    """One unit's receptive field drawn over the input (2-D inputs): the exact clipped
    region filled, the unclipped closed form dashed, the centre marked."""
    from matplotlib.patches import Rectangle

    if len(report.input_size) != 2:
        raise OptionError(f"plot_region draws 2-D inputs; this input's spatial size is {report.input_size}")
    rf = report[node] if node is not None else report.output
    if rf is None:
        raise OptionError("the report has no node to draw")
    region = report.region(rf.name, unit)
    h, w = report.input_size
    fig = _figure(5.0, 5.0 * h / w + 0.6 if w >= h else 5.0)
    ax = fig.add_subplot(1, 1, 1)
    arr = _image_array(image, (h, w))
    ax.imshow(arr, cmap="gray", interpolation="nearest", vmin=0, vmax=1)
    (r0, r1), (c0, c1) = region
    ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, facecolor=(1, 0.3, 0, 0.35), edgecolor="orangered", linewidth=2))
    shown = unit
    xlim, ylim = [-0.5, w - 0.5], [-0.5, h - 0.5]
    if not rf.is_global and rf.jump is not None:
        assert rf.start is not None and rf.size is not None  # a field with a jump has both
        units = report._units(report.nodes[rf.name], unit)
        shown = tuple(units)
        centre = [Fraction(s) + u * Fraction(j) for s, u, j in zip(rf.start, units, rf.jump)]
        half = [Fraction(r - 1, 2) for r in rf.size]
        ax.add_patch(Rectangle(
            (float(centre[1] - half[1]) - 0.5, float(centre[0] - half[0]) - 0.5), float(rf.size[1]), float(rf.size[0]),
            fill=False, edgecolor="yellow", linestyle="--", linewidth=1.5,
        ))  # fmt: skip
        ax.plot([float(centre[1])], [float(centre[0])], marker="+", color="yellow", markersize=12)
        # show the part of the unclipped field that falls in the padding, too
        xlim = [min(xlim[0], float(centre[1] - half[1]) - 1), max(xlim[1], float(centre[1] + half[1]) + 1)]
        ylim = [min(ylim[0], float(centre[0] - half[0]) - 1), max(ylim[1], float(centre[0] + half[0]) + 1)]
    ax.set_xlim(*xlim)
    ax.set_ylim(ylim[1], ylim[0])
    ax.set_title(f"{rf.name} unit {shown}: rows {r0}-{r1}, cols {c0}-{c1}", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)

"""Charts beside the tables, written once per content hash and reused while unchanged.

matplotlib is imported inside the functions (``Figure`` + its own canvas, never
pyplot), so loading the extension stays cheap and no global backend is switched.
A chart's file name is a hash of the model spec, the directive options and the
plotted numbers: an edited model gives new numbers and so a new file, and an
unchanged one finds its file already there and does not rewrite it (so Sphinx
sees an unchanged image and incremental builds stay incremental).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cnninspect.files import current_umask

_COLOURS = ("#3b6ea8", "#d9822b", "#5a9e4b", "#b04a5a")


def content_key(*parts: Any) -> str:
    """A short stable hash of JSON-able parts (spec, options, plotted values)."""
    from cnninspect import __version__

    text = json.dumps([__version__, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def save_once(make_figure: Callable[[], Any], directory: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    """Write ``stem.<fmt>`` for each format that is missing; never rewrite one that exists.

    Files are written to a temporary name and moved into place, so two parallel
    readers drawing the same chart cannot leave a half-written image.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"{stem}.{fmt}" for fmt in formats]
    missing = [p for p in paths if not p.exists()]
    if missing:
        fig = make_figure()
        for path in missing:
            fmt = path.suffix[1:]
            fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=path.suffix, dir=directory)
            os.close(fd)
            os.chmod(tmp, 0o666 & ~current_umask())  # as open() would: mkstemp's 0600 hides it from a web server
            try:
                fig.savefig(tmp, format=fmt, dpi=110, bbox_inches="tight", metadata=_metadata(fmt))
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    return paths


def write_once(write_png: Callable[[Path], Any], directory: Path, stem: str) -> Path:
    """Like :func:`save_once` for a function that writes a PNG itself (atomically) to a path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.png"
    if not path.exists():
        write_png(path)
    return path


def _metadata(fmt: str) -> dict[str, Any] | None:
    # no timestamps in the files, so identical charts are identical bytes
    return {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt)


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _fmt_int(value: float) -> str:
    return f"{int(round(value)):,}"


def bar_chart(labels: Sequence[str], values: Sequence[int], title: str, xlabel: str) -> Any:
    """One horizontal bar per layer, largest at the top of the list order, values printed."""
    from matplotlib.ticker import FuncFormatter

    height = min(1.2 + 0.28 * len(labels), 18)
    fig = _figure(6.4, height)
    ax = fig.add_subplot()
    pos = list(range(len(labels)))
    ax.barh(pos, values, color=_COLOURS[0])
    ax.set_yticks(pos, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _fmt_int(v)))
    top = max(values) if values else 1
    for p, v in zip(pos, values):
        ax.text(v + top * 0.01, p, _fmt_int(v), va="center", fontsize=7)
    ax.set_xlim(0, top * 1.25 or 1)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def growth_chart(labels: Sequence[str], series: Mapping[str, Sequence[float | None]], title: str,
                 dashed: Sequence[str] = ()) -> Any:  # fmt: skip
    """Receptive-field size after each layer, one line per series (axes, the stride-1 formula)."""
    fig = _figure(6.4, 3.8)
    ax = fig.add_subplot()
    pos = list(range(len(labels)))
    for k, (name, values) in enumerate(series.items()):
        is_dashed = name in dashed
        ax.plot(pos, [float("nan") if v is None else float(v) for v in values],
                marker="x" if is_dashed else "o", linestyle="--" if is_dashed else "-",
                color=_COLOURS[k % len(_COLOURS)], label=name)  # fmt: skip
        if k == 0:
            for p, v in zip(pos, values):
                if v is not None:
                    ax.annotate(f"{float(v):g}", (p, float(v)), textcoords="offset points", xytext=(0, 6),
                                ha="center", fontsize=7)  # fmt: skip
    ax.set_xticks(pos, labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("receptive field (input pixels)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def unit_chart(image: Any, region: Sequence[tuple[int, int]], title: str) -> Any:
    """An input image with one unit's receptive field drawn on it as a rectangle."""
    from matplotlib.patches import Rectangle

    fig = _figure(4.2, 4.2)
    ax = fig.add_subplot()
    ax.imshow(image, cmap="gray", interpolation="nearest", vmin=0, vmax=max(1.0, float(image.max())))
    (r0, r1), (c0, c1) = region
    ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=True, alpha=0.35,
                           facecolor=_COLOURS[1], edgecolor="none"))  # fmt: skip
    ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=False,
                           edgecolor=_COLOURS[1], linewidth=2))  # fmt: skip
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(f"columns {c0}..{c1}")
    ax.set_ylabel(f"rows {r0}..{r1}")
    return fig


def grouped_log_bars(labels: Sequence[str], series: Mapping[str, Sequence[int]], title: str, xlabel: str) -> Any:
    """Several series per label on a log axis (e.g. conv vs fully-connected parameters)."""
    height = min(1.4 + 0.45 * len(labels), 18)
    fig = _figure(6.4, height)
    ax = fig.add_subplot()
    n = len(series)
    width = 0.8 / max(n, 1)
    for k, (name, values) in enumerate(series.items()):
        pos = [i + (k - (n - 1) / 2) * width for i in range(len(labels))]
        ax.barh(pos, [max(v, 1) for v in values], height=width, label=name, color=_COLOURS[k % len(_COLOURS)])
        for p, v in zip(pos, values):
            ax.text(max(v, 1) * 1.15, p, _fmt_int(v), va="center", fontsize=7)
    ax.set_xscale("log")
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    xmax = max((max(v) for v in series.values() if len(v)), default=10)
    ax.set_xlim(right=max(xmax, 10) * 30)
    return fig

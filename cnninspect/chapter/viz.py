"""The chapter's figures, drawn from real tensors: filters, kernels, feature maps, activations.

Everything draws on a bare ``matplotlib.figure.Figure`` (Agg canvas, no pyplot),
so it works headless, in threads and in tests without touching global state.
matplotlib is imported inside the functions to keep ``import cnninspect`` cheap.
Each function returns the Figure and, given ``path``, also writes a PNG
atomically (temporary file, then rename).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from cnninspect.errors import InputShapeError, ModelError, OptionError
from cnninspect.renderers.figures import new_figure as _figure
from cnninspect.renderers.figures import save_figure

# The classic 3x3 kernels, as the chapter writes them (cross-correlation, like nn.Conv2d).
KERNELS: dict[str, list[list[float]]] = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "blur": [[1 / 9] * 3, [1 / 9] * 3, [1 / 9] * 3],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
}

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "gelu")


def _maybe_save(fig: Any, path: str | os.PathLike[str] | None) -> Any:
    if path is not None:
        save_figure(fig, path)
    return fig


def _conv_weight(layer: Any) -> Any:
    import torch

    weight = layer.weight if isinstance(layer, torch.nn.Module) else layer
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        got = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise InputShapeError(
            f"a filter grid needs a Conv2d or a 4-d weight (out, in, kH, kW); got {got}"
        )
    return weight.detach().float().cpu()


def tile_mosaic(tiles: Any, ncols: int = 8, pad: int = 1, normalize_each: bool = True) -> Any:
    """Lay (N, H, W) tiles out in a grid as one 2-d float array, NaN between and after tiles.

    One ``imshow`` of a mosaic is far cheaper than a subplot per tile, and NaN
    draws as background. With ``normalize_each`` every tile is scaled to [0, 1]
    on its own range, so a weak filter's pattern is as visible as a strong one's.
    """
    import numpy as np

    t = np.asarray(tiles.detach().float().cpu() if hasattr(tiles, "detach") else tiles, dtype=np.float64)
    if t.ndim != 3:
        raise InputShapeError(f"tiles must be (N, H, W); got {t.shape}")
    n, h, w = t.shape
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    out = np.full((nrows * (h + pad) - pad, ncols * (w + pad) - pad), np.nan)
    for i in range(n):
        tile = t[i]
        if normalize_each:
            lo, hi = tile.min(), tile.max()
            tile = (tile - lo) / (hi - lo) if hi > lo else np.zeros_like(tile)
        r, c = divmod(i, ncols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = tile
    return out


def _show_mosaic(ax: Any, mosaic: Any, cmap: str = "gray") -> None:
    import matplotlib

    cm = matplotlib.colormaps[cmap].with_extremes(bad="white")
    ax.imshow(mosaic, cmap=cm, interpolation="nearest")
    ax.set_axis_off()


def _filter_tiles(w: Any, in_channel: int | None) -> Any:
    if in_channel is None:
        return w.mean(dim=1)
    if not 0 <= in_channel < w.shape[1]:
        raise OptionError(f"in_channel {in_channel} is out of range; the layer has {w.shape[1]} input channels")
    return w[:, in_channel]


def filter_grid(
    layer: Any,
    *,
    title: str | None = None,
    ncols: int = 8,
    in_channel: int | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Any:
    """A grid of a conv layer's filters, one tile per output channel.

    Multi-channel filters are shown for ``in_channel`` (default: the mean over
    input channels). Each tile is scaled to its own range, as the chapter does,
    so the pattern is visible whatever its magnitude.
    """
    w = _conv_weight(layer)
    mosaic = tile_mosaic(_filter_tiles(w, in_channel), ncols)
    fig = _figure(0.5 + 0.45 * min(ncols, w.shape[0]), 0.6 + 0.45 * (-(-w.shape[0] // ncols)))
    ax = fig.add_subplot(1, 1, 1)
    _show_mosaic(ax, mosaic)
    ax.set_title(title or f"{w.shape[0]} filters {w.shape[2]}x{w.shape[3]}")
    return _maybe_save(fig, path)


def filters_before_after(
    before: Any, after: Any, *, ncols: int = 8, in_channel: int | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Any:  # fmt: skip
    """Two filter grids side by side: the layer at initialisation and after training."""
    wb, wa = _conv_weight(before), _conv_weight(after)
    if wb.shape != wa.shape:
        raise InputShapeError(f"before and after filters differ in shape: {tuple(wb.shape)} vs {tuple(wa.shape)}")
    n = wb.shape[0]
    fig = _figure(1.0 + 0.9 * min(ncols, n), 0.8 + 0.45 * (-(-n // ncols)))
    for i, (w, label) in enumerate(((wb, "before training"), (wa, "after training"))):
        ax = fig.add_subplot(1, 2, i + 1)
        _show_mosaic(ax, tile_mosaic(_filter_tiles(w, in_channel), ncols))
        ax.set_title(label)
    return _maybe_save(fig, path)


def test_image(size: int = 28) -> Any:
    """A synthetic test picture with vertical, horizontal and diagonal edges: a bright square and a bar.

    Returned as a float tensor (1, 1, size, size) in [0, 1].
    """
    import torch

    if size < 8:
        raise OptionError(f"test_image size must be at least 8, got {size}")
    img = torch.zeros(1, 1, size, size)
    a, b = size // 4, size // 2 + size // 8
    img[..., a:b, a:b] = 1.0  # a square: vertical and horizontal edges
    for i in range(size):  # a diagonal line
        img[..., i, size - 1 - i] = 0.6
    return img


test_image.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite its name


def _as_image(image: Any) -> Any:
    import torch

    x = torch.as_tensor(image, dtype=torch.float32)
    if x.dim() == 2:
        x = x[None, None]
    elif x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[:2] != (1, 1):
        raise InputShapeError(f"expected one grayscale image (H, W), (1, H, W) or (1, 1, H, W); got {tuple(x.shape)}")
    return x


BORDERS = ("zeros", "symmetric")


def apply_kernels(
    image: Any | None = None, kernels: dict[str, Any] | None = None, *, border: str = "zeros"
) -> dict[str, Any]:
    """Each kernel cross-correlated with the image at the image's size, as ``{name: (H, W) tensor}``.

    ``border="zeros"`` pads with zeros (``nn.Conv2d``'s padding); ``"symmetric"`` mirrors the
    border, edge pixel repeated, as the chapter's kernel gallery does.
    """
    import torch
    import torch.nn.functional as F

    if border not in BORDERS:
        raise OptionError(f"border {border!r} is unknown; use one of {', '.join(BORDERS)}")
    x = _as_image(test_image() if image is None else image)
    out = {}
    for name, k in (kernels or KERNELS).items():
        kt = torch.as_tensor(k, dtype=torch.float32)
        if kt.dim() != 2 or kt.shape[0] != kt.shape[1] or kt.shape[0] % 2 == 0:
            raise InputShapeError(f"kernel {name!r} must be a square odd-sized 2-d array; got {tuple(kt.shape)}")
        if border == "symmetric":
            from cnninspect.chapter.pictures import correlate_same

            out[name] = torch.as_tensor(correlate_same(x[0, 0].double().numpy(), kt.double().numpy()))
        else:
            out[name] = F.conv2d(x, kt[None, None], padding=kt.shape[0] // 2)[0, 0]
    return out


def kernel_gallery(
    image: Any | None = None,
    kernels: dict[str, Any] | None = None,
    *,
    border: str = "zeros",
    path: str | os.PathLike[str] | None = None,
) -> Any:
    """The input, then each classic kernel and what it makes of the input (see :func:`apply_kernels`)."""
    x = _as_image(test_image() if image is None else image)
    kernels = kernels or KERNELS
    results = apply_kernels(x, kernels, border=border)
    n = len(results)
    fig = _figure(2.2 * (n + 1), 4.6)
    ax = fig.add_subplot(2, n + 1, 1)
    ax.imshow(x[0, 0].numpy(), cmap="gray", interpolation="nearest")
    ax.set_title("input")
    ax.set_axis_off()
    fig.add_subplot(2, n + 1, n + 2).set_axis_off()
    for i, (name, result) in enumerate(results.items()):
        import torch

        kax = fig.add_subplot(2, n + 1, i + 2)
        kt = torch.as_tensor(kernels[name], dtype=torch.float32)
        kax.imshow(kt.numpy(), cmap="coolwarm", interpolation="nearest")
        for (r, c), v in _cells(kt):
            kax.text(c, r, f"{v:.2g}", ha="center", va="center", fontsize=7)
        kax.set_title(name, fontsize=9)
        kax.set_axis_off()
        rax = fig.add_subplot(2, n + 1, n + 1 + i + 2)
        rax.imshow(result.numpy(), cmap="gray", interpolation="nearest")
        rax.set_axis_off()
    return _maybe_save(fig, path)


def _cells(kt: Any) -> Iterable[tuple[tuple[int, int], float]]:
    for r in range(kt.shape[0]):
        for c in range(kt.shape[1]):
            yield (r, c), float(kt[r, c])


def capture_feature_maps(model: Any, x: Any, layers: Sequence[str] | None = None) -> dict[str, Any]:
    """Run one forward and keep each leaf layer's output: ``{module path: (C, H, W) tensor}``.

    ``layers`` picks module paths; by default every leaf whose output is a 4-d map.
    """
    import torch

    x = torch.as_tensor(x)
    named = dict(model.named_modules())
    if layers is not None:
        unknown = [name for name in layers if name not in named]
        if unknown:
            raise OptionError(f"no module named {', '.join(map(repr, unknown))} in the model; it has {', '.join(n for n in named if n)}")
        chosen = list(layers)
    else:
        chosen = [name for name, m in named.items() if name and not list(m.children())]
    maps: dict[str, Any] = {}
    handles = []

    def hook(name: str) -> Any:
        def record(module: Any, inputs: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor) and output.dim() == 4 and name not in maps:
                maps[name] = output.detach()[0].float().cpu()

        return record

    for name in chosen:
        handles.append(named[name].register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    except Exception as exc:
        raise ModelError(f"the forward pass for feature maps failed ({type(exc).__name__}: {exc})") from exc
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    if layers is not None:
        return {name: maps[name] for name in chosen if name in maps}
    return maps


def feature_maps(
    model: Any,
    x: Any,
    *,
    layers: Sequence[str] | None = None,
    channels: int = 8,
    path: str | os.PathLike[str] | None = None,
) -> Any:
    """One input through the layers: a row per layer, its first ``channels`` maps per row."""
    import torch

    x = torch.as_tensor(x)
    maps = capture_feature_maps(model, x, layers)
    if not maps:
        raise ModelError("no layer produced a 4-d feature map; pass layers=[...] naming conv/pool layers")
    rows = len(maps) + 1
    fig = _figure(1.0 + 0.9 * channels, 1.1 * rows)
    ax = fig.add_subplot(rows, 1, 1)
    ax.imshow(x[0, 0].float().cpu().numpy(), cmap="gray", interpolation="nearest")
    ax.set_title("input", fontsize=8)
    ax.set_axis_off()
    for r, (name, fmap) in enumerate(maps.items()):
        ax = fig.add_subplot(rows, 1, r + 2)
        _show_mosaic(ax, tile_mosaic(fmap[:channels], ncols=channels), cmap="viridis")
        ax.set_title(f"{name} {tuple(fmap.shape)}", fontsize=8)
    return _maybe_save(fig, path)


def activation_functions(
    names: Sequence[str] = ACTIVATIONS,
    *,
    lo: float = -4.0,
    hi: float = 4.0,
    path: str | os.PathLike[str] | None = None,
) -> Any:
    """The activation functions, computed by torch over [lo, hi], one panel each."""
    import torch
    import torch.nn.functional as F

    funcs = {
        "relu": F.relu,
        "leaky_relu": lambda t: F.leaky_relu(t, 0.1),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "gelu": F.gelu,
        "elu": F.elu,
        "silu": F.silu,
    }
    unknown = [n for n in names if n not in funcs]
    if unknown:
        raise OptionError(f"unknown activation {', '.join(map(repr, unknown))}; choose from {', '.join(funcs)}")
    x = torch.linspace(lo, hi, 401)
    fig = _figure(3.0 * len(names), 2.8)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        ax.plot(x.numpy(), funcs[name](x).numpy(), linewidth=2)
        ax.axhline(0, color="gray", linewidth=0.5)
        ax.axvline(0, color="gray", linewidth=0.5)
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
    return _maybe_save(fig, path)


def training_curves(history: Sequence[Any], *, path: str | os.PathLike[str] | None = None) -> Any:
    """Loss and accuracy per epoch, train and test, from ``fit``'s records (or their dicts)."""
    rows = [h.to_dict() if hasattr(h, "to_dict") else dict(h) for h in history]
    if not rows:
        raise OptionError("training_curves needs at least one epoch record")
    epochs = [r["epoch"] for r in rows]
    fig = _figure(8.0, 3.0)
    for i, (metric, unit) in enumerate((("loss", ""), ("acc", " (%)"))):
        ax = fig.add_subplot(1, 2, i + 1)
        for split in ("train", "test"):
            values = [r.get(f"{split}_{metric}") for r in rows]
            if all(v is not None for v in values):
                ax.plot(epochs, values, marker="o", label=split)
        ax.set_xlabel("epoch")
        ax.set_title(("loss" if metric == "loss" else "accuracy") + unit)
        ax.grid(True, alpha=0.3)
        ax.legend()
    return _maybe_save(fig, path)


__all__ = [
    "training_curves",
    "KERNELS",
    "tile_mosaic",
    "ACTIVATIONS",
    "filter_grid",
    "filters_before_after",
    "test_image",
    "apply_kernels",
    "BORDERS",
    "kernel_gallery",
    "capture_feature_maps",
    "feature_maps",
    "activation_functions",
    "save_figure",
]

"""cnninspect.chapter.viz: the chapter's figures render, and the numbers behind them are right."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cnninspect import viz
from cnninspect.chapter.models import SimpleCNN
from cnninspect.errors import InputShapeError, OptionError


def _not_blank(path, min_colors=20):
    img = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    assert img.shape[0] > 50 and img.shape[1] > 50
    assert img.std() > 10  # real contrast, not a flat canvas
    assert len(np.unique(img.reshape(-1, 3), axis=0)) >= min_colors


def _xcorr_by_hand(img, k):
    """Zero-padded 'same' cross-correlation with plain loops (what nn.Conv2d computes)."""
    h, w = img.shape
    p = np.pad(img, 1)
    out = np.zeros_like(img)
    for i in range(h):
        for j in range(w):
            out[i, j] = (p[i:i + 3, j:j + 3] * k).sum()
    return out


def test_kernels_match_hand_convolution():
    img = viz.test_image(16)[0, 0].numpy().astype(np.float64)
    results = viz.apply_kernels(viz.test_image(16))
    assert set(results) == {"identity", "sobel_x", "sobel_y", "blur", "sharpen"}
    for name, k in viz.KERNELS.items():
        np.testing.assert_allclose(results[name].numpy(), _xcorr_by_hand(img, np.array(k)), atol=1e-5)
    np.testing.assert_array_equal(results["identity"].numpy(), img.astype(np.float32))
    # Sobel x on the square: rising edge on the left (positive), falling edge on the right (negative)
    sx = results["sobel_x"].numpy()
    assert sx[8, 3] > 0 and sx[8, 10] < 0


def test_kernel_gallery_png(tmp_path):
    fig = viz.kernel_gallery(path=tmp_path / "kernels.png")
    assert len(fig.axes) == 2 * (len(viz.KERNELS) + 1)
    _not_blank(tmp_path / "kernels.png")


def test_filter_grids_png(tmp_path):
    torch.manual_seed(0)
    model = SimpleCNN()
    fig = viz.filter_grid(model.conv1, title="conv1", path=tmp_path / "f.png")
    mosaic = fig.axes[0].images[0].get_array()
    assert mosaic.shape == (4 * 4 - 1, 8 * 4 - 1)  # 32 filters of 3x3 in 4 rows of 8, 1-pixel gaps
    assert int((~np.isnan(np.asarray(mosaic.filled(np.nan)))).sum()) == 32 * 9
    w5 = model.conv1.weight.detach()[5, 0].numpy()  # filter 5: row 0, column 5
    expected = (w5 - w5.min()) / (w5.max() - w5.min())
    np.testing.assert_allclose(np.asarray(mosaic)[0:3, 20:23], expected, atol=1e-6)
    _not_blank(tmp_path / "f.png")
    before = model.conv2.weight.detach().clone()
    viz.filters_before_after(before, model.conv2, path=tmp_path / "ba.png")
    _not_blank(tmp_path / "ba.png")
    with pytest.raises(InputShapeError):
        viz.filter_grid(model.fc1)
    with pytest.raises(OptionError):
        viz.filter_grid(model.conv2, in_channel=32)


def test_feature_maps_through_layers(tmp_path):
    torch.manual_seed(0)
    model = SimpleCNN()
    x = viz.test_image(28)
    maps = viz.capture_feature_maps(model, x)
    # the chapter's shapes: 32x28x28 after conv1, 32x14x14 after the first pool, 64x14x14 after conv2
    assert maps["conv1"].shape == (32, 28, 28)
    assert maps["conv2"].shape == (64, 14, 14)
    torch.testing.assert_close(maps["conv1"], model.conv1(x)[0].detach())
    fig = viz.feature_maps(model, x, layers=["conv1", "conv2"], channels=4, path=tmp_path / "fm.png")
    assert [ax.get_title() for ax in fig.axes] == ["input", "conv1 (32, 28, 28)", "conv2 (64, 14, 14)"]
    assert fig.axes[2].images[0].get_array().shape == (14, 4 * 15 - 1)  # first 4 maps of conv2
    _not_blank(tmp_path / "fm.png")
    with pytest.raises(OptionError, match="conv9"):
        viz.capture_feature_maps(model, x, layers=["conv9"])


def test_activation_functions_png(tmp_path):
    fig = viz.activation_functions(path=tmp_path / "act.png")
    assert [ax.get_title() for ax in fig.axes] == list(viz.ACTIVATIONS)
    relu_line = fig.axes[0].lines[0]
    xs, ys = relu_line.get_xdata(), relu_line.get_ydata()
    np.testing.assert_allclose(ys, np.maximum(xs, 0), atol=1e-6)
    _not_blank(tmp_path / "act.png", min_colors=5)
    with pytest.raises(OptionError, match="swish"):
        viz.activation_functions(["swish"])


def test_importing_cnninspect_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, cnninspect, cnninspect.chapter.viz, cnninspect.chapter.train; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr

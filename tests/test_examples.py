"""Every example script runs and prints the chapter's numbers (computed here by hand)."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import numpy as np
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(name, *args, capsys, monkeypatch):
    """Run an example as ``__main__`` in this process (one torch import for all of them)."""
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / name), *args])
    capsys.readouterr()
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    return capsys.readouterr().out


def test_every_example_is_tested():
    tested = {"fc_vs_cnn.py", "manual_convolution.py", "kernel_gallery.py", "output_sizes.py",
              "parameter_counts.py", "receptive_field.py", "conv2d_shapes.py", "simplecnn_summary.py",
              "train_mnist.py"}  # fmt: skip
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_fc_vs_cnn(capsys, monkeypatch):
    out = run("fc_vs_cnn.py", capsys=capsys, monkeypatch=monkeypatch)
    assert f"{224 * 224 * 3 * 1000:,}" in out  # 150,528,000 weights
    assert f"{224 * 224 * 3 * 1000 + 1000:,}" in out  # 150,529,000 with biases
    assert f"{(3 * 3 * 3 + 1) * 64:,}" in out  # 1,792
    stack = (27 + 1) * 64 + 2 * (9 * 64 + 1) * 64  # 75,648
    assert f"{stack:,}" in out and "99.95%" in out
    assert f"distance {6 ** 0.5:.2f}" in out and "feature map: yes" in out
    # conv1 of SimpleCNN vs a dense 784 -> 32*28*28 layer with bias
    assert f"{784 * 32 * 784 + 32 * 784:,}" in out


def test_manual_convolution(capsys, monkeypatch):
    """The chapter's own 5x5 image and 8-centred edge kernel (figures.json, section 1.2)."""
    out = run("manual_convolution.py", capsys=capsys, monkeypatch=monkeypatch)
    assert "(5 - 3 + 2*0)/1 + 1 = 3" in out
    # top-left window [[1,2,3],[4,5,6],[7,8,9]]: 8*5 - (1+2+3+4+6+7+8+9) = 40 - 40 = 0 (the chapter prints -13)
    assert re.search(r"output\[0,0\] = .* = 0$", out, re.M)
    # centre: window [[5,6,1],[8,9,2],[2,3,4]]: 8*9 - (5+6+1+8+2+2+3+4) = 72 - 31 = 41
    assert re.search(r"\[ *27 +41 +-17\]", out)
    assert "reference.conv2d agrees: True" in out and "functional.conv2d agrees: True" in out
    assert "the chapter prints output[0,0] = -13" in out and "erratum" in out


def test_kernel_gallery(tmp_path, capsys, monkeypatch):
    """The chapter's 6x7 picture and five kernels, same-size output with a mirrored border."""
    monkeypatch.chdir(tmp_path)  # default --out is ./example-output
    out = run("kernel_gallery.py", capsys=capsys, monkeypatch=monkeypatch)
    # the picture: a 4x4 square outline of 255s (12 pixels) in rows 1-4, columns 1-4
    assert "test picture 6x7" in out and f"sum {12 * 255}" in out
    assert re.search(r"identity: 6x7 +min +0\.00 +max +255\.00", out)
    # blur's maximum: the 3x3 neighbourhoods of the outline's inner corner hold 5 lit pixels: 5*255/9
    assert re.search(rf"blur: 6x7 .* max +{5 * 255 / 9:.2f}", out)
    # a vertical Sobel on a mirrored border: the outline's left column (3 lit rows around it) gives
    # 1+2+1 = 4 times 255 at its middle rows
    assert re.search(rf"sobel_vertical_edges: 6x7 +min +-{4 * 255}\.00 +max +{4 * 255}\.00", out)
    for png in ("kernels.png", "activations.png"):
        img = np.asarray(Image.open(tmp_path / "example-output" / png).convert("L"), dtype=float)
        assert img.std() > 10


def test_output_sizes(capsys, monkeypatch):
    out = run("output_sizes.py", capsys=capsys, monkeypatch=monkeypatch)
    for label, n, k, s, p in [("3x3, no padding", 28, 3, 1, 0), ("ResNet stem", 224, 7, 2, 3),
                              ("AlexNet", 224, 11, 4, 2), ("3x3, stride 2, padding 1", 28, 3, 2, 1)]:  # fmt: skip
        expected = (n + 2 * p - k) // s + 1
        line = next(ln for ln in out.splitlines() if label in ln)
        assert line.split()[-2:] == [str(expected), str(expected)], line
    assert re.search(r"max-pool 2x2, stride 2 +28 +14 +14", out)


def test_parameter_counts(capsys, monkeypatch):
    out = run("parameter_counts.py", capsys=capsys, monkeypatch=monkeypatch)
    total = 288 + 32 + 18_432 + 64 + 401_408 + 128 + 1_280 + 10  # the chapter's per-tensor list
    assert f"SimpleCNN total parameters: {total:,} (formulas: {total:,})" in out
    assert f"{(9 * 512 + 1) * 512:,}" in out  # 2,359,808
    assert f"{(49 * 3 + 1) * 64:,}" in out  # 9,472


def test_receptive_field(capsys, monkeypatch):
    out = run("receptive_field.py", capsys=capsys, monkeypatch=monkeypatch)
    # conv3, conv3 (1+2+2=5), pool (6, jump 2), conv3 x2 (6+4+4=14), pool (16, jump 4); naive 1+2+2+1+2+2+1 = 11
    assert "receptive field 16 (naive formula: 11)" in out
    # SimpleCNN: conv3 (3), pool (4, j2), conv3 (8), pool (10, j4); naive 1+2+1+2+1 = 7
    assert "receptive field 10 (naive formula: 7)" in out


def test_conv2d_shapes(capsys, monkeypatch):
    out = run("conv2d_shapes.py", capsys=capsys, monkeypatch=monkeypatch)
    assert "weight (32, 3, 3, 3), bias (32,), 896 params; input (8, 3, 32, 32) -> output (8, 32, 32, 32)" in out
    assert "weight (64, 3, 7, 7), bias (64,), 9,472 params; input (8, 3, 224, 224) -> output (8, 64, 112, 112)" in out
    assert f"{32 * 32 * 32 * 27:,}" in out  # ConvBlock MACs: 884,736


def test_simplecnn_summary(capsys, monkeypatch):
    out = run("simplecnn_summary.py", capsys=capsys, monkeypatch=monkeypatch)
    macs = 28 * 28 * 32 * 9 + 14 * 14 * 64 * 32 * 9 + 3136 * 128 + 128 * 10
    assert f"parameters: {421_642:,}; MACs per image: {macs:,}; output: 1x10" in out
    assert re.search(r"conv2 +Conv2d +1x64x14x14 +18,496", out)


def test_train_mnist(tmp_path, capsys, monkeypatch):
    out = run("train_mnist.py", "--epochs", "1", "--limit", "640", "--device", "cpu", "--out", str(tmp_path),
              capsys=capsys, monkeypatch=monkeypatch)  # fmt: skip
    assert re.search(r"^Epoch 1/1: Train Loss: [\d.]+, Train Acc: [\d.]+%, Test Loss", out, re.M)
    acc = float(re.search(r"final test accuracy: ([\d.]+)% on 640 test images", out).group(1))
    assert acc > 50.0  # 640 images, one epoch: far above chance (10 %)
    moved = float(re.search(r"moved by ([\d.]+)", out).group(1))
    assert moved > 0
    for png in ("conv1_filters.png", "feature_maps.png"):
        img = np.asarray(Image.open(tmp_path / png).convert("L"), dtype=float)
        assert img.std() > 10

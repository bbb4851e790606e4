"""FC vs conv: the chapter's figures, per-layer comparisons and position sensitivity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnninspect
from cnninspect.analyses.fc import CAT, EDGE_KERNEL, shift
from cnninspect.chapter.models import CustomCNN, SimpleCNN
from cnninspect.integrations.cli import main


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_exercise_5_and_the_chapter_figures():
    """224x224x3 into 1,000 units vs conv layers; the expectations are the chapter's printed figures."""
    figures = cnninspect.chapter_comparisons()
    assert figures.fc_weights == 150_528_000
    assert figures.fc_params == 150_529_000
    assert figures.conv_first == 1_792
    assert figures.conv_stack == 75_648
    assert round(figures.stack_saving * 100, 2) == 99.95
    assert [n for _, n in figures.parameter_table] == [896, 18_496, 73_856, 295_168, 9_472, 2_359_808]


def test_chapter_figures_agree_with_torch_layers():
    """The same figures from torch's own layers, built on the meta device (no memory)."""
    figures = cnninspect.chapter_comparisons()
    with torch.device("meta"):
        assert _count(nn.Linear(224 * 224 * 3, 1000)) == figures.fc_params
        stack = nn.Sequential(nn.Conv2d(3, 64, 3), nn.Conv2d(64, 64, 3), nn.Conv2d(64, 64, 3))
        assert _count(stack) == figures.conv_stack
        for label, n in figures.parameter_table:
            k = int(label[0])
            cin, cout = (int(v) for v in label.split(", ")[1].split(" -> "))
            assert _count(nn.Conv2d(cin, cout, k)) == n, label
    text = figures.to_text()
    assert "150,529,000" in text and "75,648" in text and "99.95%" in text


def test_compare_fc_per_layer_by_hand():
    result = cnninspect.compare_fc(CustomCNN(), (1, 3, 32, 32))
    assert [r.name for r in result.rows] == ["block1.conv", "block2.conv"]
    first, second = result.rows
    # block1.conv: 3x32x32 -> 32x32x32; dense: 3,072 x 32,768 weights + 32,768 biases
    assert (first.input_shape, first.output_shape) == ((3, 32, 32), (32, 32, 32))
    assert first.conv_params == 896
    assert first.fc_params == 3_072 * 32_768 + 32_768
    # block2.conv: 32x16x16 -> 64x16x16
    assert second.fc_params == 8_192 * 16_384 + 16_384
    assert second.conv_params == 18_496
    assert result.conv_params == 896 + 18_496
    assert result.fc_params == first.fc_params + second.fc_params
    assert first.ratio == pytest.approx(first.fc_params / 896)
    assert result.saving == pytest.approx(1 - 19_392 / result.fc_params)
    text = result.to_text()
    assert "block1.conv" in text and f"{first.fc_params:,}" in text and "total" in text


def test_compare_fc_without_bias_and_with_groups():
    model = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, groups=2, bias=False), nn.Conv2d(8, 2, 1))
    result = cnninspect.compare_fc(model, (1, 4, 5, 5))
    grouped, pointwise = result.rows
    assert grouped.conv_params == 8 * 2 * 9  # no bias, each filter sees 4/2 channels
    assert grouped.fc_params == (4 * 25) * (8 * 25)  # no bias either: like for like
    assert pointwise.fc_params == (8 * 25) * (2 * 25) + 2 * 25


def test_fc_column_in_the_summary():
    result = cnninspect.compare_fc(SimpleCNN(), (1, 1, 28, 28))
    text = result.summary.to_text(columns="name,kind,num_params,fc_params")
    conv1 = next(line for line in text.splitlines() if line.startswith("conv1"))
    assert f"{784 * 32 * 784 + 32 * 784:,}" in conv1  # 1x28x28 -> 32x28x28
    pool = next(line for line in text.splitlines() if line.startswith("pool "))
    assert pool.split()[-1] == "0"  # no FC figure for a layer that is not a conv


def test_position_sensitivity_of_a_flattened_image():
    demo = cnninspect.position_sensitivity()
    assert demo.changed_pixels == 6
    assert demo.flat_distance == pytest.approx(math.sqrt(6))
    assert round(demo.flat_distance, 2) == 2.45  # the chapter's figure
    # computed independently: the flattened vectors as a dense layer would see them
    moved = np.zeros_like(CAT)
    moved[1:] = CAT[:-1]
    assert np.linalg.norm(CAT.ravel() - moved.ravel()) == pytest.approx(demo.flat_distance)


def test_conv_feature_map_moves_with_the_image():
    """Held to torch, not to the demo's own flag: torch's conv of the image moved by torch.roll on
    a zero-bordered canvas (so the roll loses nothing) is the demo's shifted feature map, and it
    is torch's feature map of the unmoved image, rolled the same way."""
    demo = cnninspect.position_sensitivity()
    pad = 1 + EDGE_KERNEL.shape[0] // 2  # the shift plus the kernel's reach
    canvas = torch.from_numpy(np.pad(CAT, pad).astype(np.float64))
    k = torch.from_numpy(EDGE_KERNEL.astype(np.float64))[None, None]

    def conv(t):
        return F.conv2d(t[None, None], k, padding=1)[0, 0]

    moved = torch.roll(canvas, 1, dims=0)
    assert torch.equal(moved[0], torch.zeros_like(moved[0]))  # nothing wrapped round
    np.testing.assert_allclose(demo.feature_map, conv(canvas).numpy())
    np.testing.assert_allclose(demo.shifted_feature_map, conv(moved).numpy())
    truly_equivariant = torch.allclose(conv(moved), torch.roll(conv(canvas), 1, dims=0))
    assert truly_equivariant and demo.equivariant == truly_equivariant
    assert not torch.allclose(conv(moved), conv(canvas))  # the map did move: the check can fail


def test_shift_in_every_direction():
    image = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(shift(image, 0, 1), [[0, 0, 1], [0, 3, 4], [0, 6, 7]])
    np.testing.assert_array_equal(shift(image, -1, 0), [[3, 4, 5], [6, 7, 8], [0, 0, 0]])


def test_cli_fc(capsys):
    assert main(["fc", "custom-cnn"]) == 0
    out = capsys.readouterr().out
    assert "block1.conv" in out and "150,529,000" in out and "75,648" in out
    assert "6 pixels differ, distance 2.45" in out
    assert main(["fc", "simple-cnn", "--no-chapter"]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "150,529,000" not in out

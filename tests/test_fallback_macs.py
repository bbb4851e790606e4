"""MACs on the fallback paths (fx cannot trace the forward), held to torch's flop counter on a real forward.

The hook fallback sees module calls only; these tests say which of its figures can be trusted.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from oracles import counted_macs, counted_macs_by_op
from torch import nn

import cnninspect

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class ShapeBranch(nn.Module):
    """Branches on a size: fx cannot trace it, the meta tensors can still run it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.down = nn.Conv2d(6, 4, 3, stride=2)
        self.gru = nn.GRU(4, 5, batch_first=True)
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        y = self.conv(x)
        if y.shape[-1] > 4:
            y = self.down(torch.relu(y))
        seq = y.flatten(2).transpose(1, 2)  # (batch, positions, 4)
        return self.fc(self.gru(seq)[0])


class ValueBranch(nn.Module):
    """Branches on a value: the forward has to run once for real."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 8 * 8, 10))

    def forward(self, x):
        y = self.bn(self.conv(x))
        if y.sum() > -1e9:
            y = torch.relu(y)
        return self.head(y)


def test_fallback_on_meta_tensors_counts_what_torch_counts():
    model = ShapeBranch().eval()
    s = cnninspect.summarize(model, (1, 3, 10, 10))
    assert "hook" in s.method
    by_op = counted_macs_by_op(model, torch.randn(1, 3, 10, 10))
    # conv 100 x 6 x 27, down 16 x 4 x 54; the GRU (3 gates x 5 x (4 + 5) per step, 16 steps) and fc
    # reach the counter as mm/addmm
    assert by_op == {"convolution": 16_200 + 3_456, "mm": 960, "addmm": 1_440}
    assert s.total_macs == sum(by_op.values())
    assert s.layer("down").macs == counted_macs(model.down, torch.randn(1, 6, 10, 10)) == 16 * 4 * 54


def test_fallback_with_a_real_forward_counts_what_torch_counts():
    model = ValueBranch().eval()
    s = cnninspect.summarize(model, (2, 3, 8, 8))
    assert s.method == "hooks (real forward)"
    assert s.total_macs == counted_macs(model, torch.randn(2, 3, 8, 8)) == 2 * (64 * 4 * 27 + 10 * 256)


class FunctionalBranch(nn.Module):
    """The issue's case: a value branch, then a functional conv and a matmul that no module owns."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.w = nn.Parameter(torch.randn(4, 4, 3, 3))
        self.proj = nn.Parameter(torch.randn(8, 8))
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        y = self.conv(x)
        if x.sum() > -1e9:
            y = F.conv2d(y, self.w, padding=1)
        y = torch.matmul(y.flatten(2).mean(2).repeat(1, 2), self.proj)
        return self.fc(y)


def test_functional_ops_on_the_fallback_reach_the_oracle_for_real():
    """Guards the xfail below: torch does see the functional conv and the matmul."""
    by_op = counted_macs_by_op(FunctionalBranch().eval(), torch.randn(1, 3, 8, 8))
    assert by_op == {"convolution": 64 * 4 * 27 + 64 * 4 * 36, "mm": 8 * 8, "addmm": 16}


def test_functional_ops_on_the_fallback_are_counted_or_warned():
    model = FunctionalBranch().eval()
    s = cnninspect.summarize(model, (1, 3, 8, 8))
    assert "hook" in s.method
    expected = counted_macs(model, torch.randn(1, 3, 8, 8))
    assert s.total_macs == expected or any("functional" in w and "MACs" in w for w in s.warnings)

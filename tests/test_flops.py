"""``flops`` per row and ``total_flops``, held to hand counts and to torch's flop counter.

The README's convention: the matmul-like ops cost 2 x MACs (what ``FlopCounterMode`` counts), a
batch norm 2 FLOPs per element (scale, shift), layer/group norm 5 (mean, variance, normalise,
scale, shift), a pool window one FLOP per window element per output, an adaptive pool one per
input element, an activation or elementwise op one per output element; reshapes cost nothing.
Every figure below is worked out from the shapes by hand, not read back from cnninspect.
"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from oracles import counted_macs
from torch import nn

import cnninspect


class Mixed(nn.Module):
    """One of every op kind the FLOP convention names, as modules."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.gn = nn.GroupNorm(2, 8)
        self.avg = nn.AvgPool2d(3, stride=1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)
        self.ln = nn.LayerNorm(5)

    def forward(self, x):
        y = self.pool(self.act(self.bn(self.conv(x))))
        y = self.gn(y) + y
        y = torch.sigmoid(y)
        y = self.gap(self.avg(y)).flatten(1)
        return self.ln(self.fc(y)) * 2


# 1x3x10x10 in. conv 3->8 3x3 pad 1: 8x10x10 = 800 outputs x 27 MACs = 21,600 MACs = 43,200 FLOPs
MIXED_FLOPS = {
    "conv": 2 * 800 * 27,
    "bn": 2 * 800,  # scale and shift per element
    "act": 800,
    "pool": 8 * 5 * 5 * 4,  # 200 outputs x 2x2 window
    "gn": 5 * 200,
    "add": 200,
    "sigmoid": 200,
    "avg": 8 * 3 * 3 * 9,  # 72 outputs x 3x3 window
    "gap": 72,  # one per input element
    "flatten": 0,
    "fc": 2 * 5 * 8,
    "ln": 5 * 5,
    "mul": 5,
}


def test_every_row_costs_its_hand_count():
    s = cnninspect.summarize(Mixed().eval(), (1, 3, 10, 10))
    assert {layer.name: layer.flops for layer in s.layers} == MIXED_FLOPS
    assert s.total_flops == sum(MIXED_FLOPS.values()) == 48_630


def test_matmul_flops_are_what_torch_counts():
    """Only conv and linear reach torch's counter; their FLOPs are its count, row by row."""
    model = Mixed().eval()
    s = cnninspect.summarize(model, (1, 3, 10, 10))
    x = torch.randn(1, 3, 10, 10)
    assert counted_macs(model.conv, x) * 2 == s.layer("conv").flops == 2 * s.layer("conv").macs
    assert counted_macs(model.fc, torch.randn(1, 8)) * 2 == s.layer("fc").flops
    matmul_rows = sum(layer.flops for layer in s.layers if layer.macs)
    assert matmul_rows == 2 * counted_macs(model, x) == 43_280


def test_functional_spellings_cost_the_same_as_modules():
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.randn(8, 3, 3, 3))

        def forward(self, x):
            y = F.conv2d(x, self.w, padding=1)  # 800 x 27 MACs
            y = F.relu(F.max_pool2d(y, 2))  # 200 x 4, then 200
            y = F.layer_norm(y, y.shape[1:])  # 5 x 200
            y = F.avg_pool2d(y, 3, stride=1)  # 72 x 9
            return torch.tanh(y) - y  # 72, 72

    s = cnninspect.summarize(Functional(), (1, 3, 10, 10))
    by_kind = {layer.kind: layer.flops for layer in s.layers}
    assert by_kind == {
        "conv2d": 43_200, "max_pool2d": 800, "relu": 200, "layer_norm": 1_000, "avg_pool2d": 648,
        "tanh": 72, "sub": 72,
    }  # fmt: skip
    assert s.total_flops == 45_992


def test_flops_travel_in_the_json():
    s = cnninspect.summarize(Mixed().eval(), (1, 3, 10, 10))
    data = json.loads(s.to_json())
    assert data["total_flops"] == 48_630
    assert {row["name"]: row["flops"] for row in data["layers"]} == MIXED_FLOPS


def test_flops_scale_with_the_batch():
    """Every FLOP is per element: batch 3 costs exactly 3 times batch 1, row by row."""
    one = cnninspect.summarize(Mixed().eval(), (1, 3, 10, 10))
    three = cnninspect.summarize(Mixed().eval(), (3, 3, 10, 10))
    assert [layer.flops * 3 for layer in one.layers] == [layer.flops for layer in three.layers]


_BMM_SUM = lambda i, a, b: i[0] + torch.bmm(a, b).sum(0)  # noqa: E731  addbmm, in ops torch counts


@pytest.mark.parametrize(
    "spelling, counted_as",
    [
        (lambda i, a, b: torch.baddbmm(i, a, b), None),
        (lambda i, a, b: i.baddbmm(batch1=a, batch2=b, beta=1.0, alpha=0.5), None),  # BLOOM's alibi
        (lambda i, a, b: torch.addbmm(i[0], a, b), _BMM_SUM),  # torch's counter has no addbmm formula
        (lambda i, a, b: i[0].addbmm(a, b), _BMM_SUM),
        (lambda i, a, b: torch.addmm(i[0], a[0], b[0]), None),
        (lambda i, a, b: i[0].addmm(mat1=a[0], mat2=b[0]), None),
    ],
)
def test_every_spelling_of_addmm_costs_what_torch_counts(spelling, counted_as):
    class Op(nn.Module):
        def __init__(self, fn) -> None:
            super().__init__()
            self.fn = fn

        def forward(self, i, a, b):
            return self.fn(i, a, b)

    shapes = [(3, 4, 6), (3, 4, 5), (3, 5, 6)]
    args = [torch.randn(s) for s in shapes]
    s = cnninspect.summarize(Op(spelling), shapes)
    assert s.total_macs == counted_macs(Op(counted_as or spelling), *args) > 0

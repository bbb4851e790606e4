"""MACs of transposed convolutions (modules and functions) and bilinear layers, against torch's flop counter.

A transposed conv scatters every input value through the whole kernel: in_numel x (out/groups) x
prod(kernel) MACs, whatever the stride, padding or output_padding trim. torch's counter does not
cost ``bilinear`` (its ``_trilinear`` kernel has no formula), so that is held to a hand count.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from oracles import counted_macs, counted_macs_by_op
from torch import nn

import cnninspect

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TRANSPOSED = [
    # module, input shape, hand count
    (nn.ConvTranspose1d(4, 6, 4, stride=3, padding=2, groups=2, dilation=2), (2, 4, 7), 2 * 4 * 7 * 3 * 4),
    (nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1), (1, 4, 5, 5), 100 * 6 * 9),
    (nn.ConvTranspose3d(2, 3, (2, 3, 1), stride=(2, 1, 2), bias=False), (1, 2, 3, 4, 5), 120 * 3 * 6),
]


@pytest.mark.parametrize("module, shape, by_hand", TRANSPOSED, ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else "")
def test_transposed_conv_modules(module, shape, by_hand):
    s = cnninspect.summarize(module, shape)
    assert s.total_macs == counted_macs(module, torch.randn(shape)) == by_hand
    assert s.total_flops == 2 * by_hand


class FunctionalTransposed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(4, 3, 3))
        self.w2 = nn.Parameter(torch.randn(4, 2, 3, 3))
        self.w3 = nn.Parameter(torch.randn(4, 2, 2, 2, 2))

    def forward(self, x1, x2, x3):
        a = F.conv_transpose1d(x1, self.w1, stride=2)
        b = F.conv_transpose2d(x2, self.w2, stride=2, padding=1, groups=2)
        c = F.conv_transpose3d(x3, self.w3, stride=2)
        return a, b, c


def test_functional_transposed_convs():
    shapes = [(1, 4, 6), (1, 4, 5, 5), (1, 4, 3, 3, 3)]
    model = FunctionalTransposed()
    s = cnninspect.summarize(model, shapes)
    # 24 x 3 x 3; 100 x 2 x 9 (groups 2: each input feeds 2 of the 4 outputs); 108 x 2 x 8
    by_hand = {"conv_transpose1d": 216, "conv_transpose2d": 1_800, "conv_transpose3d": 1_728}
    assert {layer.kind: layer.macs for layer in s.layers} == by_hand
    assert counted_macs_by_op(model, *[torch.randn(x) for x in shapes]) == {"convolution": sum(by_hand.values())}


def test_bilinear_module_by_hand():
    """Each of the 3 x 5 outputs is a1^T W_k a2: 6 x 7 MACs."""

    class Head(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bil = nn.Bilinear(6, 7, 5)

        def forward(self, a, b):
            return self.bil(a, b)

    model = Head()
    s = cnninspect.summarize(model, [(3, 6), (3, 7)])
    assert s.layer("bil").macs == s.total_macs == 3 * 5 * 6 * 7 == 630
    # the same form as an einsum torch can count: contracting W with one input costs the 630 of
    # the form itself, the other input against that another 3*5*6 or 3*5*7, by the order it picks
    a, b = torch.randn(3, 6), torch.randn(3, 7)
    ein = counted_macs(lambda x, y: torch.einsum("bi,kij,bj->bk", x, model.bil.weight, y), a, b)
    assert ein in (630 + 3 * 5 * 6, 630 + 3 * 5 * 7)


class FunctionalBilinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(5, 6, 7))

    def forward(self, a, b):
        return F.bilinear(a, b, self.weight)


def test_bilinear_function_costs_like_the_module():
    s = cnninspect.summarize(FunctionalBilinear(), [(3, 6), (3, 7)])
    assert s.total_macs == 630
    # a bare nn.Bilinear as the root is traced through to F.bilinear: the same 630
    assert cnninspect.summarize(nn.Bilinear(6, 7, 5), [(3, 6), (3, 7)]).total_macs == 630

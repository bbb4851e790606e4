"""Calls no rule describes are priced from the aten ops they run, never counted as zero."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnninspect


class FunctionalAttention(nn.Module):
    """Self-attention through ``F.multi_head_attention_forward`` with the layer's weights passed
    by hand (WavLM does this), which the op catalogue has no entry for."""

    def __init__(self, untraceable: bool) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(32, 4)
        self.untraceable = untraceable

    def forward(self, x):
        if self.untraceable and x.shape[0] > int(x.sum() * 0):  # a value fx cannot trace
            x = x * 1.0
        a = self.attn
        out, _ = F.multi_head_attention_forward(
            x, x, x, 32, 4, a.in_proj_weight, a.in_proj_bias, None, None, False, 0.0,
            a.out_proj.weight, a.out_proj.bias, training=False, need_weights=True,
        )  # fmt: skip
        return out


def _flop_counter_macs(model: nn.Module, x: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() // 2


def test_functional_attention_is_priced_like_torchs_flop_counter_on_both_paths():
    x = torch.randn(10, 2, 32)
    for untraceable in (False, True):
        model = FunctionalAttention(untraceable).eval()
        s = cnninspect.summarize(model, tuple(x.shape))
        assert s.method.startswith("fx") != untraceable, s.method
        assert s.macs_complete, s.macs_incomplete_reasons
        # need_weights=True: the CPU forward multiplies the weights out with bmm, which torch counts
        assert s.total_macs == _flop_counter_macs(model, x) > 0


class Distances(nn.Module):
    def forward(self, x, y):
        return torch.cdist(x, y)


def test_cdist_costs_one_multiply_add_per_feature_per_pair():
    s = cnninspect.summarize(Distances(), input_data=(torch.randn(3, 10, 8), torch.randn(3, 7, 8)))
    assert s.macs_complete and s.total_macs == 3 * 10 * 7 * 8


class Inverse(nn.Module):
    def forward(self, x):
        return torch.linalg.inv(x @ x.transpose(-1, -2) + torch.eye(4)) @ x


def test_an_aten_op_without_a_formula_makes_the_total_incomplete_not_zero():
    s = cnninspect.summarize(Inverse(), (2, 4, 4))
    assert not s.macs_complete
    assert any("inv" in reason for reason in s.macs_incomplete_reasons), s.macs_incomplete_reasons


class EllipsisAttention(nn.Module):
    """LongT5's local attention writes its batch dimensions as ``...``."""

    def forward(self, q, k):
        weights = torch.einsum("...qhd,...khd->...hqk", q, k)
        return torch.einsum("...hqk,...khd->...qhd", weights, k)


def test_einsum_with_an_ellipsis_is_counted_like_torchs_flop_counter():
    q, k = torch.randn(2, 3, 5, 4, 8), torch.randn(1, 7, 4, 8)  # the ellipses broadcast (2, 3) with (1,)
    s = cnninspect.summarize(EllipsisAttention(), input_data=(q, k))
    assert s.macs_complete and s.total_macs == _flop_counter_macs_of(EllipsisAttention(), q, k) > 0


def _flop_counter_macs_of(model: nn.Module, *inputs: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(*inputs)
    return counter.get_total_flops() // 2

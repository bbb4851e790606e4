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


class AddmmProjection(nn.Module):
    """A layer no rule prices whose forward is one ``torch.addmm`` (GPT-2's ``Conv1D``)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        flat = torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight)
        return flat.reshape(*x.shape[:-1], -1)


class UntraceableBlock(nn.Module):
    """Branches on a size, so fx gives up and the hook pass sees the projections as leaves."""

    def __init__(self) -> None:
        super().__init__()
        self.up = AddmmProjection(8, 24)
        self.down = AddmmProjection(24, 8)

    def forward(self, x):
        if x.shape[1] > 1:
            x = torch.tanh(self.up(x))
        return self.down(x)


def test_hook_pass_prices_an_unruled_leaf_from_the_calls_inside_it():
    model = UntraceableBlock().eval()
    s = cnninspect.summarize(model, (2, 5, 8))
    assert "hook" in s.method
    truth = counted_macs(model, torch.randn(2, 5, 8))
    assert truth > 0
    assert s.total_macs == truth
    rows = {layer.name: layer for layer in s.layers}
    assert rows["up"].macs + rows["down"].macs == truth
    assert rows["up"].num_params == 8 * 24 + 24  # the leaf keeps its row and its parameters
    assert not any("counted as 0" in w for w in s.warnings)


class TiedUntraceable(nn.Module):
    """An embedding and an output projection sharing one weight (T5, GPT-2), behind a size branch."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.body = nn.Linear(16, 16)
        self.head = nn.Linear(16, 50, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids):
        x = self.embed(ids)
        if x.shape[1] > 1:
            x = torch.relu(self.body(x))
        return self.head(x)


def test_tied_weights_on_a_real_model_are_one_parameter_in_the_fallback():
    model = TiedUntraceable().eval()
    ids = torch.zeros(2, 7, dtype=torch.long)
    s = cnninspect.summarize(model, input_data=ids)
    assert "hook" in s.method
    assert s.total_params == sum(p.numel() for p in model.parameters())  # unique: 50*16 + 16*16 + 16
    assert s.total_macs == counted_macs(model, ids)


class ValueBranchOnMeta(ValueBranch):
    """A forward that reads a value (``.item()``), built on the meta device: nothing real to read."""


def test_a_meta_model_that_needs_values_runs_once_on_stand_in_weights():
    with torch.device("meta"):
        model = ValueBranchOnMeta().eval()
    s = cnninspect.summarize(model, (1, 3, 8, 8))
    assert s.method == "hooks (real forward)"
    assert any("stand-in weights" in w for w in s.warnings)
    real = ValueBranchOnMeta().eval()
    assert s.total_macs == counted_macs(real, torch.randn(1, 3, 8, 8))
    assert s.output_shapes == [tuple(real(torch.randn(1, 3, 8, 8)).shape)]
    assert all(p.device.type == "meta" for p in model.parameters())  # the model itself is untouched


class SecretCompute(nn.Module):
    """A layer no rule prices whose inner op no rule prices either (an FFT): its cost is unknown."""

    def forward(self, x):
        return torch.fft.rfft(x, dim=-1).abs()


class WithSecret(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 16)
        self.secret = SecretCompute()

    def forward(self, x):
        if x.shape[0] > 0:  # fx gives up here: the hook pass takes the model
            x = self.fc(x)
        return self.secret(x)


def test_an_unpriced_op_makes_the_total_a_lower_bound_in_row_totals_and_json():
    import json

    s = cnninspect.summarize(WithSecret().eval(), (2, 16))
    truth = counted_macs(WithSecret().eval(), torch.randn(2, 16))
    assert s.total_macs <= truth  # what is priced is real; the FFT is not among it
    assert not s.macs_complete
    row = s.layer("secret")
    assert not row.macs_complete and any("fft" in op for op in row.cost_unknown)
    assert "INCOMPLETE" in str(s)
    data = json.loads(s.to_json())
    assert data["macs_complete"] is False and data["macs_incomplete_reasons"]
    assert {r["name"]: r["macs_complete"] for r in data["layers"]}["secret"] is False
    assert cnninspect.summarize(UntraceableBlock().eval(), (2, 5, 8)).macs_complete


class SecretAtTheTop(nn.Module):
    """The forward itself calls an op no rule prices, on the hook path."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 16)

    def forward(self, x):
        if x.shape[0] > 0:
            x = self.fc(x)
        return torch.fft.rfft(x, dim=-1).abs()


def test_an_unpriced_op_of_the_forward_itself_is_a_row_and_makes_the_total_a_lower_bound():
    s = cnninspect.summarize(SecretAtTheTop().eval(), (2, 16))
    assert "hook" in s.method
    rows = [layer for layer in s.layers if "fft" in layer.kind]
    assert rows and not rows[0].macs_complete
    assert not s.macs_complete and "fft" in " ".join(s.macs_incomplete_reasons)

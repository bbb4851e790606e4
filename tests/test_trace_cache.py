"""The trace cache: a second summary of the same model reuses its trace only while the module
tree, the train/eval modes and the modules' settings are unchanged. Each change below must show
in the next summary exactly as a real forward and torch's flop counter see it."""

from __future__ import annotations

import pytest
import torch
from oracles import counted_macs
from torch import nn

import cnninspect

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHAPE = (1, 3, 12, 12)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.extra = nn.Conv2d(4, 4, 1)
        self.repeats = 1  # a plain setting the forward reads

    def forward(self, x):
        x = self.conv(x)
        if self.training:  # fx bakes this branch into the trace
            x = self.extra(x)
        for _ in range(self.repeats):
            x = torch.relu(x)
        return x


def agrees_with_torch(model: nn.Module) -> cnninspect.Summary:
    s = cnninspect.summarize(model, SHAPE)
    x = torch.randn(SHAPE)
    with torch.no_grad():
        out = model(x)
    assert s.output_shapes == [tuple(out.shape)]
    assert s.total_macs == counted_macs(model, x)
    assert s.total_params == sum(p.numel() for p in model.parameters())
    return s


class ScaledConv(nn.Module):
    """Not a torch.nn layer: fx traces into it, so it is a conv2d and a mul row, not one leaf."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 3, 3, 3))

    def forward(self, x):
        return torch.nn.functional.conv2d(x, self.weight, padding=1) * 2


def test_a_replaced_submodule_is_seen():
    model = Net().eval()
    before = agrees_with_torch(model)
    model.conv = nn.Conv2d(3, 6, 5, padding=2)
    model.extra = nn.Conv2d(6, 6, 1)
    after = agrees_with_torch(model)
    assert after.total_macs == 144 * 6 * 75 != before.total_macs
    model.conv = ScaledConv()  # the same path, another kind of module
    kinds = [layer.kind for layer in agrees_with_torch(model).layers]
    assert kinds == ["conv2d", "mul", "relu"]


def test_a_changed_mode_is_seen():
    model = Net().eval()
    eval_rows = [layer.name for layer in agrees_with_torch(model).layers]
    model.train()
    train_rows = [layer.name for layer in agrees_with_torch(model).layers]
    assert "extra" not in eval_rows and "extra" in train_rows
    model.eval()
    assert [layer.name for layer in agrees_with_torch(model).layers] == eval_rows


def test_a_changed_module_setting_is_seen():
    model = Net().eval()
    agrees_with_torch(model)
    model.conv.stride = (2, 2)  # the same parameters, another output size
    assert agrees_with_torch(model).layer("conv").output_shape == (1, 4, 6, 6)
    model.repeats = 3  # a plain attribute the forward loops over
    assert [layer.kind for layer in agrees_with_torch(model).layers] == ["Conv2d", "relu", "relu", "relu"]


class _Untraceable(nn.Module):
    """Pads only when the input is large enough: fx cannot branch on a traced size."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3)

    def forward(self, x):
        if x.shape[-1] > 2:
            x = nn.functional.pad(x, [1, 1, 1, 1])
        return self.conv(x)


class _ManyOpaque(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([_Untraceable(4) for _ in range(5)])
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        for block in self.blocks:
            x = torch.relu(block(x)) + x[..., : block.conv.out_channels, :, :]
        return self.head(x)


def test_every_untraceable_block_is_isolated_in_one_trace(monkeypatch):
    from cnninspect.engine import trace as trace_module

    traces = []
    real = trace_module._Tracer.trace
    monkeypatch.setattr(
        trace_module._Tracer, "trace", lambda self, *a, **k: traces.append(1) or real(self, *a, **k)
    )
    model = _ManyOpaque().eval()
    x = torch.randn(1, 4, 9, 9)
    s = cnninspect.summarize(model, tuple(x.shape))
    assert len(traces) == 1
    assert sorted(s.opaque) == [f"blocks.{i}" for i in range(5)]
    assert s.total_macs == counted_macs(model, x)
    assert s.output_shapes == [tuple(model(x).shape)]
    names = [layer.name for layer in s.layers if layer.module_path is None]
    assert len(names) == len(set(names))  # rolled-back calls leave no gaps or clashes in the names
    assert names[:3] == ["relu", "getitem", "add"]


class _CachingOpaque(nn.Module):
    """Untraceable, and keeps a tensor made on its first forward in a dict attribute (timm's
    attention-bias caches): the second summary reads it from there, not from a recorded call."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.scale = nn.Parameter(torch.ones(4))
        self.cache: dict[str, torch.Tensor] = {}

    def forward(self, x):
        if x.shape[-1] > 2:
            x = self.conv(x)
        if "s" not in self.cache:
            self.cache["s"] = self.scale[:, None, None]
        return x * self.cache["s"]


def test_a_repeat_summary_follows_an_opaque_module_that_reads_its_own_cache():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), _CachingOpaque()).eval()
    for _ in range(2):  # the second reuses the trace
        s = cnninspect.summarize(model, (1, 3, 12, 12))
        assert "1" in s.opaque
        assert s.layer("1").receptive_field.size == (5, 5)  # 3, then the 3x3 inside


class _Features(dict):
    """A model output read by attribute (Hugging Face's ``ModelOutput``)."""

    def __getattr__(self, name):
        return self[name]


class _OpaqueEncoder(_Untraceable):
    def forward(self, x):
        return _Features(feature_maps=super().forward(x))


class _LateFailingDecoder(nn.Module):
    """Uses its input in a traced op, then fails: everything it recorded is rolled back."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, feats):
        y = self.conv(feats * 2)
        if y.sum() > 0:  # fx cannot branch on a traced value
            y = y + 1
        return y


class _EncoderDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder, self.decoder = _OpaqueEncoder(4), _LateFailingDecoder()

    def forward(self, x):
        return self.decoder(self.encoder(x).feature_maps)


def test_an_attribute_read_first_used_inside_a_rolled_back_forward_survives_the_rollback():
    """fx makes ``encoder(x).feature_maps``'s node lazily, on first use: inside the decoder's
    forward, which then fails and is rolled back (Mask2Former's pixel decoder did this)."""
    model = _EncoderDecoder().eval()
    x = torch.randn(1, 4, 9, 9)
    s = cnninspect.summarize(model, tuple(x.shape))
    assert set(s.opaque) == {"encoder", "decoder"}
    assert s.output_shapes == [tuple(model(x).shape)]
    assert s.total_macs == counted_macs(model, x)

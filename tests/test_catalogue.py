"""The op catalogue (issue 13, items 1-3): one entry per op family, held to a real forward.

Shapes are compared with what the layer really returns, MACs with torch's flop counter on a
real forward (``oracles.counted_macs``), receptive fields with the rule of the torch layer the
subclass runs exactly like -- never with cnninspect's own output.
"""

from __future__ import annotations

import math
import re
import runpy
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from oracles import counted_macs
from torch import nn

import cnninspect
from cnninspect.analyses.formulas import Seen, resolve
from cnninspect.engine.ops.catalogue import (
    CATALOGUE,
    COSTS,
    PARTS,
    RF_RULES,
    SHAPES,
    entry_for_call,
    entry_for_module,
    register_op,
)  # fmt: skip
from cnninspect.errors import OptionError

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def catalogue_restored():
    """Whatever a test registers is gone afterwards, and every replaced rule is back."""
    saved = dict(CATALOGUE.entries)
    yield
    for name in [n for n in CATALOGUE.entries if n not in saved or CATALOGUE.entries[n] != saved[n]]:
        CATALOGUE.remove(name)
    for name, entry in saved.items():
        if name not in CATALOGUE.entries:
            CATALOGUE.add(entry)


# --- the catalogue itself ----------------------------------------------------------------


def test_every_entry_has_all_four_parts_or_says_why_not():
    for entry in CATALOGUE:
        assert entry.keys, entry.name
        for part in PARTS:
            given = getattr(entry, part) is not None
            reason = entry.opt_out.get(part, "")
            assert given != bool(reason), f"{entry.name}.{part}: given={given}, opt-out reason={reason!r}"
            assert not reason or len(reason) > 10, f"{entry.name}.{part}: say why, not just {reason!r}"
        for part in ("reference", "chain_step"):  # built-in formulas are named, not imported, by the engine
            rule = getattr(entry, part)
            assert rule is None or callable(resolve(rule)), f"{entry.name}.{part} names no formula"


def test_every_key_belongs_to_one_entry():
    seen: dict[object, str] = {}
    for entry in CATALOGUE:
        for key in set(entry.keys):
            assert key not in seen, f"{key!r} is in both {seen[key]!r} and {entry.name!r}"
            seen[key] = entry.name


def test_one_entry_serves_every_spelling():
    spellings = [
        ("call_module", nn.ReLU, nn.ReLU()), ("call_function", F.relu, None),
        ("call_function", torch.relu, None), ("call_method", "relu", None),
        ("call_method", "relu_", None), ("call_function", torch.relu_, None),
    ]  # fmt: skip
    entries = {entry_for_call(op, target, module).name for op, target, module in spellings}
    assert entries == {"activation"}
    relu = torch.randn(2, 3)
    for key in (nn.ReLU, F.relu, torch.relu, "method:relu", "method:relu_", torch.relu_):
        assert SHAPES.lookup(key) is not None and COSTS.lookup(key) is not None and RF_RULES.lookup(key) is not None
    assert resolve(entry_for_module(nn.ReLU()).reference)(None, _seen([relu.shape])).shape == [tuple(relu.shape)]


def test_no_rank_is_read_from_a_class_name():
    sources = "\n".join(p.read_text() for p in (ROOT / "cnninspect").rglob("*.py"))
    assert not re.search(r"__name__\)?\[-2\]|kind\[-2\]", sources)


def _seen(shapes):
    return Seen([tuple(s) for s in shapes], len(shapes))


# --- failure 1: a pool whose class name does not end in "Nd" ------------------------------


class MaxPoolSame(nn.MaxPool2d):
    """Keeps MaxPool2d's forward; only its name is unusual (and its kernel a plain int)."""


class AvgPoolPlain(nn.AvgPool1d):
    pass


@pytest.mark.parametrize(
    "layer, shape, flops",
    [
        (MaxPoolSame(3, 2, padding=1), (1, 4, 17, 17), 4 * 9 * 9 * 3 * 3),  # 9x9 windows of 3x3 per channel
        (AvgPoolPlain(4, 3), (2, 5, 31), 2 * 5 * 10 * 4),  # (31 - 4) // 3 + 1 = 10 windows of 4
    ],
)
def test_pool_subclasses_named_without_nd_are_summarised(layer, shape, flops):
    net = nn.Sequential(nn.Identity(), layer)
    s = cnninspect.summarize(net, shape)
    real = net(torch.randn(shape))
    row = s.layers[-1]
    assert row.kind == type(layer).__name__ and row.output_shape == tuple(real.shape)
    assert row.flops == flops  # one comparison or addition per window element
    base = nn.MaxPool2d(3, 2, padding=1) if isinstance(layer, nn.MaxPool2d) else nn.AvgPool1d(4, 3)
    want = cnninspect.summarize(nn.Sequential(nn.Identity(), base), shape).layers[-1].receptive_field
    assert row.receptive_field.size == want.size and row.receptive_field.jump == want.jump
    report = cnninspect.verify(net, shape)
    assert report.ok and report.check(row.name, "output_shape").status == "ok"


# --- failure 2: a rule registered for a class after its subclass was looked up ------------


class Scale(nn.Module):
    def forward(self, x):
        return x * 2


class ScaleChild(Scale):
    pass


def test_a_rule_registered_later_reaches_subclasses_looked_up_before(catalogue_restored):
    assert SHAPES.lookup(ScaleChild) is None and COSTS.lookup(ScaleChild) is None
    register_op(Scale, shape=lambda call: call.args[0], cost=lambda call: 7)
    assert SHAPES.lookup(ScaleChild) is not None and COSTS.lookup(ScaleChild)(_call(ScaleChild())).macs == 7
    assert ScaleChild not in SHAPES._rules and ScaleChild not in COSTS._rules  # the cache is apart


def _call(module):
    from cnninspect.engine.ops.registry import Call

    return Call("call_module", "m", type(module).__name__, (torch.empty(1, device="meta"),), {}, module)


# --- failure 3: a subclass that overrides forward never gets its parent's rule ------------


def _same_pad(n, k, s, d):
    return max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)


class Conv2dSame(nn.Conv2d):
    """timm's TF-style 'same' convolution: pads by the input's size, so fx cannot trace it."""

    def forward(self, x):
        ih, iw = x.size()[-2:]
        ph = _same_pad(ih, self.kernel_size[0], self.stride[0], self.dilation[0])
        pw = _same_pad(iw, self.kernel_size[1], self.stride[1], self.dilation[1])
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return F.conv2d(x, self.weight, self.bias, self.stride, (0, 0), self.dilation, self.groups)


class MaxPool2dSame(nn.MaxPool2d):
    """timm's 'same' max pool, likewise padding by the input's size."""

    def forward(self, x):
        ih, iw = x.size()[-2:]
        ph, pw = (_same_pad(n, self.kernel_size, self.stride, 1) for n in (ih, iw))
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=-float("inf"))
        return F.max_pool2d(x, self.kernel_size, self.stride, 0, self.dilation, self.ceil_mode)


class PaddedConv(nn.Conv2d):
    """Overrides forward with code fx can trace: traced through, one row per op."""

    def forward(self, x):
        return self._conv_forward(F.pad(x, (0, 1, 0, 1)), self.weight, self.bias)


@pytest.mark.parametrize("stride, size", [(2, 224), (2, 35), (1, 17)])
def test_conv2d_same_gets_the_real_shape_and_macs(stride, size):
    net = nn.Sequential(Conv2dSame(3, 8, 3, stride=stride), nn.ReLU(), MaxPool2dSame(3, 2))
    x = torch.randn(1, 3, size, size)
    s = cnninspect.summarize(net, tuple(x.shape))
    conv_out = net[0](x)
    assert s.layers[0].output_shape == tuple(conv_out.shape)  # 112x112 for 224 at stride 2, not 111
    assert s.output_shapes[0] == tuple(net(x).shape)
    assert s.total_macs == counted_macs(net, x) > 0
    # not its parent's field: read from the pad and conv inside it, the centre shifted by the top pad
    top = _same_pad(size, 3, stride, 1) // 2
    rf = s.layers[0].receptive_field
    assert (rf.size, rf.jump, rf.start) == ((3, 3), (stride, stride), (1 - top, 1 - top))


def test_verify_holds_conv2d_same_to_the_real_forward_without_its_parents_formula():
    net = nn.Sequential(Conv2dSame(3, 8, 3, stride=2), nn.ReLU(), MaxPool2dSame(3, 2))
    report = cnninspect.verify(net, (1, 3, 35, 35))
    assert report.ok, "\n".join(map(str, report.mismatches))
    shape = report.check("0", "output_shape")
    assert shape.values["hooks"] == [(1, 8, 18, 18)] and "reference" not in shape.values  # Conv2d's formula gives 17
    assert report.check("<total>", "macs").status == "ok"
    assert report.check("2", "output_shape").values["hooks"] == [(1, 8, 9, 9)]  # 'same' pooling of 18: ceil(18/2)


def test_a_traceable_forward_override_is_traced_through():
    net = nn.Sequential(PaddedConv(3, 4, 3, stride=2), nn.ReLU())
    x = torch.randn(1, 3, 20, 20)
    s = cnninspect.summarize(net, tuple(x.shape))
    assert [row.kind for row in s.layers][:2] == ["pad", "conv2d"]
    assert s.output_shapes[0] == tuple(net(x).shape)
    assert s.total_macs == counted_macs(net, x)


def test_a_subclass_that_keeps_forward_keeps_the_rule():
    class MyConv(nn.Conv2d):
        pass

    net = nn.Sequential(MyConv(3, 4, 3, stride=2, padding=1))
    x = torch.randn(1, 3, 20, 20)
    s = cnninspect.summarize(net, tuple(x.shape))
    assert [row.kind for row in s.layers] == ["MyConv"]
    assert s.layers[0].output_shape == tuple(net(x).shape) and s.total_macs == counted_macs(net, x)


# --- register_op ------------------------------------------------------------------------


def _im2col():
    return runpy.run_path(str(ROOT / "docs" / "extending_example.py"))


def test_the_worked_example_runs_and_agrees_with_a_real_forward(catalogue_restored):
    example = _im2col()
    Im2ColConv = example["Im2ColConv"]
    model = nn.Sequential(Im2ColConv(3, 16, 3, padding=1), nn.ReLU(), Im2ColConv(16, 32, 3, stride=2))
    x = torch.randn(1, 3, 32, 32)
    s = cnninspect.summarize(model, tuple(x.shape))
    assert [row.kind for row in s.layers] == ["Im2ColConv", "ReLU", "Im2ColConv"]
    assert [row.output_shape for row in s.layers] == [tuple(model[0](x).shape), tuple(model[0](x).shape), tuple(model(x).shape)]
    assert s.total_macs == counted_macs(model, x)
    # the field of a 3x3 conv on a 3x3 conv at stride 2, as the equivalent torch convs give it
    twin = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2))
    want = cnninspect.receptive_field(twin, tuple(x.shape))
    assert s.layers[-1].receptive_field.size == want.output.size == (5, 5)


def test_register_op_refuses_a_duplicate_unless_told_to_replace(catalogue_restored):
    with pytest.raises(OptionError, match="replace=True"):
        register_op(nn.Conv2d, cost=lambda call: 1)
    register_op(nn.Conv2d, name="my conv", cost=lambda call: 1, replace=True)
    s = cnninspect.summarize(nn.Sequential(nn.Conv2d(1, 1, 3)), (1, 1, 8, 8))
    assert s.total_macs == 1
    assert COSTS.lookup(nn.Conv1d) is not None and COSTS.lookup(nn.Conv1d)(_call(nn.Conv1d(1, 1, 3))) != 1


def test_register_op_clears_cached_lookups_and_traces(catalogue_restored):
    example = _im2col()
    Im2ColConv = example["Im2ColConv"]
    CATALOGUE.remove(next(e.name for e in CATALOGUE if Im2ColConv in e.keys))
    model = nn.Sequential(Im2ColConv(3, 4, 3))
    before = cnninspect.summarize(model, (1, 3, 10, 10))
    assert "Im2ColConv" not in [row.kind for row in before.layers]  # traced through: unfold, matmul...
    register_op(Im2ColConv, shape=example["im2col_shape"], cost=example["im2col_macs"])
    after = cnninspect.summarize(model, (1, 3, 10, 10))
    assert [row.kind for row in after.layers] == ["Im2ColConv"]
    assert after.total_macs == counted_macs(model, torch.randn(1, 3, 10, 10))


def test_register_op_as_a_decorator(catalogue_restored):
    @cnninspect.register_op(shape=lambda call: call.args[0], cost=lambda call: call.out.numel())
    class Doubler(nn.Module):
        def forward(self, x):
            return x * 2

    s = cnninspect.summarize(nn.Sequential(Doubler()), (2, 3))
    assert [row.kind for row in s.layers] == ["Doubler"] and s.total_macs == 6


def test_register_op_names_a_bad_key_and_a_bad_rule(catalogue_restored):
    with pytest.raises(OptionError, match="not an op"):
        register_op(3, cost=lambda call: 0)
    with pytest.raises(OptionError, match="must be a function"):
        register_op(nn.Conv2d, cost=5, replace=True)


def test_timm_norm_act_is_one_priced_leaf_only_while_its_parts_are_priced():
    """timm's BatchNormAct2d runs batch norm, then its own drop and act modules: one row when
    the catalogue prices those parts, traced through (its calls priced one by one) otherwise."""
    norm_act = pytest.importorskip("timm.layers.norm_act")

    class Swishy(nn.Module):  # an activation no rule describes: its forward is traced
        def forward(self, x):
            return x * torch.sigmoid(x)

    def net(act):
        return nn.Sequential(nn.Conv2d(3, 8, 3), norm_act.BatchNormAct2d(8, act_layer=act)).eval()

    x = torch.randn(2, 3, 10, 10)
    for act, leaf in ((nn.ReLU, True), (Swishy, False)):
        model = net(act)
        s = cnninspect.summarize(model, tuple(x.shape))
        names = [layer.name for layer in s.layers]
        assert ("1" in names) is leaf, names  # the layer's own row, or the calls inside it
        assert s.macs_complete and s.total_macs == counted_macs(model, x) > 0
        assert s.output_shapes == [tuple(model(x).shape)]
        assert cnninspect.verify(model, tuple(x.shape), gradient_layers="none").ok


def test_a_torch_function_and_its_tensor_method_are_one_op():
    """``torch.square(x)`` and ``x.square()`` are the same op: an entry that names one spelling
    names both (resnetv2_50d_frn's ``x.square()`` once lost every receptive field after it)."""
    keys = {key for entry in CATALOGUE for key in entry.keys}
    missing = [
        f"{entry.name}: method:{key.__name__}"
        for entry in CATALOGUE
        for key in entry.keys
        if callable(key) and key is getattr(torch, getattr(key, "__name__", ""), None)
        and hasattr(torch.Tensor, key.__name__) and f"method:{key.__name__}" not in keys
    ]  # fmt: skip
    assert not missing, missing

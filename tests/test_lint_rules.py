"""Each lint rule on a model that triggers it and a near-identical one that does not.

The figures in the messages are proven against independent sources: gradients of a real
forward (which input pixels an output reads), a real forward with the bias changed, the
composition of two layers' real weights, torch's own parameter counts.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from lint_models import Biased, Clean, Residual, SameMerge, Unused, stack
from torch import nn

from cnninspect.analyses.lint import lint
from cnninspect.chapter.models import SimpleCNN


def codes(model: nn.Module, shape, **kw) -> list[str]:
    return [f.code for f in lint(model, shape, **kw).findings]


def read_mask(model: nn.Module, shape) -> torch.Tensor:
    """Input pixels some output value depends on: the non-zero input gradient of sum(output)
    through a float64 copy with positive weights (so no two taps cancel)."""
    m = model.double().eval()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.rand_like(p) + 0.1)
    x = torch.rand(shape, dtype=torch.float64, requires_grad=True)
    m(x).sum().backward()
    return x.grad[0, 0] != 0


def test_clean_model_is_clean():
    report = lint(Clean().eval(), (1, 3, 32, 32))
    assert report.ok, report.to_text()


# --------------------------------------------------------------------------- CNN101


def test_bias_before_batchnorm_is_wasted():
    report = lint(Biased().train(), (4, 3, 32, 32), select=["CNN101"])
    [f] = report.findings
    assert f.path == "features.0" and f.data["wasted_params"] == 16
    # independent: in training mode the output does not change when the bias does
    model = Biased().train()
    x = torch.randn(4, 3, 32, 32)
    before = model.features[:2](x)
    with torch.no_grad():
        model.features[0].bias.add_(torch.randn(16) * 5)
    assert torch.allclose(model.features[:2](x), before, atol=1e-4)
    assert codes(Clean(), (1, 3, 32, 32), select=["CNN101"]) == []


def test_linear_bias_before_layernorm_is_kept():
    # LayerNorm subtracts the mean over the features, not each feature's own mean: the bias stays
    assert codes(stack(nn.Linear(8, 8), nn.LayerNorm(8)), (2, 8), select=["CNN101"]) == []
    assert codes(stack(nn.Linear(8, 8), nn.BatchNorm1d(8)), (2, 8), select=["CNN101"]) == ["CNN101"]


# --------------------------------------------------------------------------- CNN102


def test_dominant_dense_layer_is_the_chapters_fc1():
    model = SimpleCNN()
    [f] = lint(model, (1, 1, 28, 28), select=["CNN102"]).findings
    total = sum(p.numel() for p in model.parameters())
    assert f.path == "fc1" and f.data["params"] == model.fc1.weight.numel() == 3136 * 128
    assert f.data["share"] == pytest.approx(model.fc1.weight.numel() / total)
    assert f.data["pooled_params"] == 64 * 128
    pooled = stack(nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 4096))
    assert codes(pooled, (1, 1, 28, 28), select=["CNN102"]) == []


# --------------------------------------------------------------------------- CNN103 / CNN104


def test_unused_module_parameter_and_buffer():
    report = lint(Unused(use=False), (2, 8), select=["CNN103", "CNN104"])
    assert sorted((f.code, f.path) for f in report.findings) == [
        ("CNN103", "extra"), ("CNN103", "scale"), ("CNN104", "mask"),
    ]  # fmt: skip
    # independent: after backward, exactly those parameters have no gradient
    model = Unused(use=False)
    model(torch.randn(2, 8)).sum().backward()
    assert sorted(n for n, p in model.named_parameters() if p.grad is None) == ["extra.bias", "extra.weight", "scale"]
    assert codes(Unused(use=True), (2, 8), select=["CNN103", "CNN104"]) == []


def test_batchnorm_statistics_never_updated():
    model = Clean().eval()
    with torch.no_grad():
        model.features[1].weight.mul_(2)  # "trained" weights, statistics still initial
    assert [f.path for f in lint(model, (1, 3, 32, 32), select=["CNN104"]).findings] == ["features.1"]
    model.train()
    model(torch.randn(2, 3, 32, 32))  # one training batch updates the statistics
    assert codes(model.eval(), (1, 3, 32, 32), select=["CNN104"]) == []


# --------------------------------------------------------------------------- CNN201 / CNN202


def test_strided_1x1_shortcut_skips_three_quarters():
    [f] = lint(Residual(k=1), (1, 8, 16, 16), select=["CNN201"]).findings
    assert f.path == "shortcut" and f.data["read_fraction"] == 0.25 and f.data["other_readers"] == ["conv"]
    assert read_mask(nn.Conv2d(8, 8, 1, stride=2), (1, 8, 16, 16)).double().mean() == 0.25
    assert codes(Residual(k=3), (1, 8, 16, 16), select=["CNN201"]) == []


def test_floor_drops_the_border_and_names_clean_sizes():
    model = nn.Conv2d(1, 1, 3, stride=2)
    [f] = lint(model, (1, 1, 16, 16), select=["CNN202"]).findings
    assert f.data["dropped"] == {"H": [0, 1], "W": [0, 1]}
    mask = read_mask(nn.Conv2d(1, 1, 3, stride=2), (1, 1, 16, 16))
    assert not mask[-1].any() and not mask[:, -1].any() and mask[:-1, :-1].all()
    assert "sizes 15 and 17 drop none" in f.message
    for size in (15, 17):
        assert read_mask(nn.Conv2d(1, 1, 3, stride=2), (1, 1, size, size)).all()
        assert codes(model, (1, 1, size, size), select=["CNN202"]) == []


def test_gaps_of_a_strided_1x1_are_not_a_dropped_border():
    # 1x1 stride 2 on 16 leaves row 15 unread, but it is one of the skipped rows (CNN201), not a border
    assert codes(nn.Conv2d(1, 1, 1, stride=2), (1, 1, 16, 16), select=["CNN201", "CNN202"]) == ["CNN201"]


def test_a_pooling_module_with_one_int_for_all_axes_is_checked():
    # nn.AvgPool2d(1, stride=2) keeps kernel_size=1, stride=2 as ints; both rules used to pass it over
    skip = stack(nn.Conv2d(1, 4, 3, padding=1), nn.AvgPool2d(1, stride=2))
    [f] = lint(skip, (1, 1, 16, 16), select=["CNN201"]).findings
    assert f.data["read_fraction"] == 0.25 and "(AvgPool2d 1x1 stride 2x2)" in f.message
    assert read_mask(nn.AvgPool2d(1, stride=2), (1, 1, 16, 16)).double().mean() == 0.25
    assert codes(stack(nn.Conv2d(1, 4, 3, padding=1), nn.AvgPool2d(2)), (1, 1, 16, 16), select=["CNN201"]) == []
    pool = stack(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2))
    [f] = lint(pool, (1, 1, 15, 15), select=["CNN202"]).findings
    assert f.data["dropped"] == {"H": [0, 1], "W": [0, 1]} and "sizes 14 and 16 drop none" in f.message
    mask = read_mask(nn.AvgPool2d(2), (1, 1, 15, 15))  # MaxPool's gradient picks one tap: average instead
    assert not mask[-1].any() and mask[:-1, :-1].all() and read_mask(nn.AvgPool2d(2), (1, 1, 16, 16)).all()
    assert codes(pool, (1, 1, 16, 16), select=["CNN202"]) == []


def test_selective_kernel_dilated_stride_two_path_loses_pixels_for_good():
    # docs/lint.rst (CNN201, on the model zoo): timm skresnet18 splits a block's channels between a 3x3
    # path and a dilated 3x3 stride-2 path; the shortcut is a strided 1x1, so the dilated half's odd
    # rows and columns reach no output at all
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    block = timm.create_model("skresnet18").layer2[0].eval().double()
    x = torch.rand(1, 64, 56, 56, dtype=torch.float64, requires_grad=True)
    block(x).abs().sum().backward()
    read = x.grad[0] != 0
    assert read[:32, 1::2, 1::2].any() and not read[32:, 1::2, :].any() and not read[32:, :, 1::2].any()
    found = lint(block, (1, 64, 56, 56), select=["CNN201"]).findings
    paths = {f.path: f.data["read_fraction"] for f in found}
    assert paths == {"conv1.paths.1.conv": 0.25, "downsample.0": 0.25}
    assert "dilation 2x2" in next(f.message for f in found if f.path == "conv1.paths.1.conv")


class PadThenConv(nn.Module):
    """F.pad (reflect, as timm's BlurPool2d) then a 3x3 stride-2 conv without padding of its own."""

    def __init__(self, pad: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.pad = pad
        self.conv = nn.Conv2d(1, 1, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, self.pad, mode="reflect"))


def test_rows_padding_added_are_no_dropped_border():
    # pad 1 all round: 16 -> 18, and the last window (rows 14..16 of 18) leaves padded row 17 unread;
    # that row is a reflection, not an image pixel: every pixel of the 16x16 image is read
    assert read_mask(PadThenConv((1, 1, 1, 1)), (1, 1, 16, 16)).all()
    assert codes(PadThenConv((1, 1, 1, 1)), (1, 1, 16, 16), select=["CNN202"]) == []
    # pad 2 before only: the same 18 rows, but now the unread last row is the image's row 15
    [f] = lint(PadThenConv((2, 0, 2, 0)), (1, 1, 16, 16), select=["CNN202"]).findings
    assert f.data["dropped"] == {"H": [0, 1], "W": [0, 1]} and "of its 16x16 input" in f.message
    mask = read_mask(PadThenConv((2, 0, 2, 0)), (1, 1, 16, 16))
    assert not mask[-1].any() and not mask[:, -1].any() and mask[:-1, :-1].all()


# --------------------------------------------------------------------------- CNN203


def test_receptive_field_against_object_size():
    model = stack(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU())  # field 5
    [f] = lint(model, (1, 1, 32, 32), select=["CNN203"], object_size=7).findings
    assert f.data["size"] == [5.0, 5.0] and "no layer's field covers it" in f.message
    # independent: one output unit's gradient footprint is 5x5
    grad = read_mask(nn.Sequential(*model[:3]), (1, 1, 32, 32))
    assert grad.sum() > 0
    m = nn.Sequential(*model[:3]).double()
    x = torch.rand(1, 1, 32, 32, dtype=torch.float64, requires_grad=True)
    m(x)[0, 0, 10, 10].backward()
    rows, cols = (x.grad[0, 0] != 0).nonzero(as_tuple=True)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (5, 5)
    assert codes(model, (1, 1, 32, 32), select=["CNN203"], object_size=5) == []


def test_receptive_field_against_the_input_only_for_spatial_outputs():
    dense = stack(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3, padding=1))  # field 5
    [f] = lint(dense, (1, 1, 32, 32), select=["CNN203"]).findings
    assert f.data == {"size": [5.0, 5.0], "target": [32, 32]} and f.message.startswith("output ")
    # SimpleCNN's head flattens: its output sees the whole input, so only an object size can fail it
    assert codes(SimpleCNN(), (1, 1, 28, 28), select=["CNN203"]) == []
    f = lint(SimpleCNN(), (1, 1, 28, 28), select=["CNN203"], object_size=12).findings[0]
    assert f.data["size"] == [10.0, 10.0] and "first covered at" in f.message


# --------------------------------------------------------------------------- CNN301 / CNN302


def test_even_same_conv_shifts_the_grid_by_half_a_pixel():
    [f] = lint(SameMerge(2), (1, 1, 9, 9), select=["CNN301"]).findings
    (start_x, _), (start_conv, _) = f.data["starts"]
    shift = start_conv - start_x
    assert abs(shift) == 0.5
    # independent: an impulse at row 4 through an all-ones even 'same' conv, read as a map whose
    # unit i sits at input row i + shift, has its centre of mass back at row 4
    conv = nn.Conv2d(1, 1, 2, padding="same", bias=False)
    nn.init.ones_(conv.weight)
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 4] = 1
    with torch.no_grad():
        y = conv(x)[0, 0]
    rows = torch.arange(9.0) + float(shift)
    assert float((y.sum(1) * rows).sum() / y.sum()) == pytest.approx(4.0)
    assert codes(SameMerge(3), (1, 1, 9, 9), select=["CNN301"]) == []


def test_strided_paths_merged_at_different_jumps():
    class TwoJumps(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(1, 1, 9)  # 16 -> 8, jump 1
            self.b = nn.Conv2d(1, 1, 3, stride=2, padding=1)  # 16 -> 8, jump 2

        def forward(self, x):
            return self.a(x) + self.b(x)

    [f] = lint(TwoJumps(), (1, 1, 16, 16), select=["CNN301"]).findings
    assert f.data["jumps"] == [[1, 1], [2, 2]]
    # independent: unit 7 of each path reads different input rows
    for conv, rows in ((nn.Conv2d(1, 1, 9), (7, 15)), (nn.Conv2d(1, 1, 3, stride=2, padding=1), (13, 15))):
        x = torch.rand(1, 1, 16, 16, requires_grad=True)
        conv(x)[0, 0, 7, 7].backward()
        hit = (x.grad[0, 0].abs().sum(1) != 0).nonzero().flatten()
        assert (int(hit.min()), int(hit.max())) == rows


class Remerge(nn.Module):
    """``y = x + first(x)`` with an even 'same' conv (half a pixel off: reported); then ``y`` is
    merged again, with ``x`` (nothing new) or with a second even conv of ``y`` (a new half pixel)."""

    def __init__(self, again_with_input: bool) -> None:
        super().__init__()
        self.again_with_input = again_with_input
        self.first = nn.Conv2d(1, 1, 2, padding="same")
        self.second = nn.Conv2d(1, 1, 2, padding="same")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x + self.first(x)
        return y + x if self.again_with_input else y + self.second(y)


def footprint(model: nn.Module, part, at: int = 8) -> tuple[int, int]:
    """First and last input row that unit ``at`` of ``part(model, x)`` reads (by gradient)."""
    m = model.double()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.rand_like(p) + 0.1)
    x = torch.rand(1, 1, 16, 16, dtype=torch.float64, requires_grad=True)
    part(m, x)[0, 0, at, at].backward()
    rows = (x.grad[0, 0].abs().sum(1) != 0).nonzero().flatten()
    return int(rows.min()), int(rows.max())


def test_a_merge_is_not_reported_again_downstream():
    # y's units read rows i..i+1 where x's read row i: the first merge's half pixel. Adding x again
    # reads exactly what y reads (no new offset); the old rule compared x with the centre of y's
    # bounding box and reported the same half pixel a second time
    y = lambda m, x: x + m.first(x)  # noqa: E731
    assert footprint(Remerge(True), y) == footprint(Remerge(True), lambda m, x: m(x)) == (8, 9)
    [f] = lint(Remerge(True), (1, 1, 16, 16), select=["CNN301"]).findings
    assert f.layers[1:] == ("input:x", "first")
    # a second even conv of y does shift it again: (8, 10) against y's (8, 9) -- a new finding
    assert footprint(Remerge(False), lambda m, x: m.second(y(m, x))) == (8, 10)
    second = lint(Remerge(False), (1, 1, 16, 16), select=["CNN301"]).findings
    assert [g.layers[2] for g in second] == ["first", "second"]
    (start_y, _), (start_second, _) = second[1].data["starts"]
    assert start_second - start_y == 0.5


def test_transposed_conv_kernel_not_divisible_by_stride():
    [f] = lint(stack(nn.ConvTranspose2d(1, 1, 3, stride=2)), (1, 1, 8, 8), select=["CNN302"]).findings
    assert "1 or 2 taps" in f.message

    def interior(k: int) -> torch.Tensor:  # independent: overlap counts with all-ones weights
        t = nn.ConvTranspose2d(1, 1, k, stride=2, bias=False)
        nn.init.ones_(t.weight)
        return t(torch.ones(1, 1, 8, 8))[0, 0, 4:-4, 4:-4]

    assert interior(3).unique().numel() > 1  # a checkerboard
    assert interior(4).unique().numel() == 1
    assert codes(stack(nn.ConvTranspose2d(1, 1, 4, stride=2)), (1, 1, 8, 8), select=["CNN302"]) == []


# --------------------------------------------------------------------------- CNN401


def test_stacked_linears_collapse_into_one():
    model = stack(nn.Linear(64, 64), nn.Dropout(0.1), nn.Linear(64, 10))
    [f] = lint(model, (2, 64), select=["CNN401"]).findings
    assert f.data == {"pair_weights": 64 * 64 + 64 * 10, "merged_weights": 64 * 10}
    # independent: one Linear with the product of the weights gives the same output
    model.eval()
    a, b = model[0], model[2]
    merged = nn.Linear(64, 10)
    with torch.no_grad():
        merged.weight.copy_(b.weight @ a.weight)
        merged.bias.copy_(b.weight @ a.bias + b.bias)
    x = torch.randn(5, 64)
    assert torch.allclose(model(x), merged(x), atol=1e-5)
    assert codes(stack(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)), (2, 64), select=["CNN401"]) == []
    # a bottleneck is a cheaper low-rank factorisation: not reported
    assert codes(stack(nn.Linear(64, 8), nn.Linear(8, 64)), (2, 64), select=["CNN401"]) == []


def test_conv_then_pointwise_conv_collapse_into_one_conv():
    model = stack(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Conv2d(8, 8, 1))
    [f] = lint(model.eval(), (1, 8, 12, 12), select=["CNN401"]).findings
    assert f.data == {"pair_weights": 8 * 8 * 9 + 8 * 8, "merged_weights": 8 * 8 * 9}
    # independent: the composition is one 3x3 conv (weights multiplied through the BN's affine map)
    model.eval()
    conv, bn, point = model
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    w = torch.einsum("om,mikl->oikl", point.weight[:, :, 0, 0] * scale, conv.weight)
    shift = bn.bias - bn.running_mean * scale
    bias = point.weight[:, :, 0, 0] @ (conv.bias * scale + shift) + point.bias
    x = torch.randn(1, 8, 12, 12)
    assert torch.allclose(model(x), F.conv2d(x, w, bias, padding=1), atol=1e-5)
    relu = stack(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 1))
    assert codes(relu, (1, 8, 12, 12), select=["CNN401"]) == []
    # stacked 3x3s are cheaper than the 5x5 they equal: a factorisation, not reported
    assert codes(stack(nn.Conv2d(8, 8, 3), nn.Conv2d(8, 8, 3)), (1, 8, 12, 12), select=["CNN401"]) == []


# --------------------------------------------------------------------------- CNN402 / CNN501


def test_batchnorm_after_dropout():
    bad = stack(nn.Linear(8, 8), nn.ReLU(), nn.Dropout(0.5), nn.BatchNorm1d(8))
    assert codes(bad, (4, 8), select=["CNN402"]) == ["CNN402"]
    # independent: the variance BatchNorm sees differs between train and eval
    x = torch.randn(20000, 8)
    drop = nn.Dropout(0.5)
    assert drop.train()(x).var() == pytest.approx(2 * x.var(), rel=0.1)
    assert drop.eval()(x).var() == pytest.approx(x.var())
    good = stack(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5))
    assert codes(good, (4, 8), select=["CNN402"]) == []


def test_tensor_core_channels_only_in_half_precision():
    odd = stack(nn.Conv2d(3, 30, 3), nn.ReLU(), nn.Conv2d(30, 32, 3))
    report = lint(odd, (1, 3, 16, 16), select=["CNN501"], precision="bfloat16")
    assert [(f.path, f.data) for f in report.findings] == [("0", {"in": 3, "out": 30}), ("2", {"in": 30, "out": 32})]
    assert codes(odd, (1, 3, 16, 16), select=["CNN501"]) == []  # float32: tensor cores do not apply
    even = stack(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(32, 32, 3))
    assert codes(even, (1, 3, 16, 16), select=["CNN501"], precision="float16") == []
    assert codes(odd.to(torch.bfloat16), (1, 3, 16, 16), select=["CNN501"], dtype=torch.bfloat16) == ["CNN501", "CNN501"]


# --------------------------------------------------------------------------- not checked


class Branchy(nn.Module):
    """A biased conv before BatchNorm (CNN101) and a head forward never calls (CNN103); with
    ``branch`` the forward reads a value, so fx cannot trace it and forward hooks summarise it."""

    def __init__(self, branch: bool) -> None:
        super().__init__()
        self.branch = branch
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.branch and x.sum() > 0:
            x = x * 1
        return self.bn(self.conv(x)).mean((2, 3))


def test_rules_a_hook_summary_cannot_run_say_so():
    traced = lint(Branchy(False).eval(), (1, 3, 16, 16))
    assert traced.summary.method == "fx" and traced.not_checked == {}
    assert sorted(traced.codes()) == ["CNN101", "CNN103"] and "not checked" not in traced.to_text()
    hooked = lint(Branchy(True).eval(), (1, 3, 16, 16))
    assert hooked.summary.method.startswith("hooks")
    # the hooks still see every module call, so the unused head is found ...
    assert hooked.codes() == ["CNN103"] and hooked.findings[0].path == "head"
    # ... but CNN101 follows edges the hooks do not record: it is listed, not silently clean
    whole = sorted(c for c, parts in hooked.not_checked.items() if parts[0][0] is None)
    assert whole == ["CNN101", "CNN102", "CNN201", "CNN202", "CNN203", "CNN301", "CNN401", "CNN402"]
    assert sorted(c for c in hooked.not_checked if c not in whole) == ["CNN103", "CNN104"]
    text = hooked.to_text()
    assert "not checked: CNN101, CNN102, CNN201" in text and "which layer feeds which" in text
    assert {n["code"] for n in hooked.to_dict()["not_checked"]} == set(whole) | {"CNN103", "CNN104"}
    notes = hooked.to_sarif()["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert {n["descriptor"]["id"] for n in notes} == set(hooked.not_checked)


class HookedOdd(nn.Module):
    """Conv 3->30, ReLU, conv 30->32 behind a branch on a value: fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Conv2d(3, 30, 3)
        self.second = nn.Conv2d(30, 32, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            x = x * 1
        return self.second(torch.relu(self.first(x)))


def test_tensor_core_input_channels_need_the_graph():
    # a forward-hook summary cannot tell which layer reads the model's RGB input, so it judges output
    # channels only (first's 30) and says so; it used to report first's 3 RGB channels as well
    report = lint(HookedOdd().eval(), (1, 3, 16, 16), select=["CNN501"], precision="bfloat16")
    assert report.summary.method.startswith("hooks")
    assert [f.message for f in report.findings] == ["first (Conv2d 3->30) has 30 output channels, not multiples of 8, in bfloat16"]
    assert [part for part, _ in report.not_checked["CNN501"]] == ["input channels"]
    odd = stack(nn.Conv2d(3, 30, 3), nn.ReLU(), nn.Conv2d(30, 32, 3))  # the same layers, traced
    traced = lint(odd, (1, 3, 16, 16), select=["CNN501"], precision="bfloat16")
    assert [f.path for f in traced.findings] == ["0", "2"] and traced.not_checked == {}


class Rolled(nn.Module):
    """A conv added to a view of itself: through ``torch.roll`` (no receptive-field rule: Swin's
    shifted windows roll the map; timm's halonet26t used to stand here with ``Tensor.unfold``,
    until the engine gained a rule for it) or directly."""

    def __init__(self, roll: bool) -> None:
        super().__init__()
        self.roll = roll
        self.conv = nn.Conv2d(1, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y + (torch.roll(y, 1, 2) if self.roll else y)


def test_rows_with_an_unknown_field_are_listed_as_not_checked():
    assert lint(Rolled(False), (1, 1, 16, 16)).not_checked == {}
    report = lint(Rolled(True), (1, 1, 16, 16))
    unknown = [f for f in report.summary.receptive_field.fields.values() if f.unknown]
    assert unknown, "the engine has a receptive-field rule for roll now: use an op that has none"
    assert sorted(report.not_checked) == ["CNN201", "CNN202", "CNN203", "CNN301"]
    assert all(part is not None for parts in report.not_checked.values() for part, _ in parts)
    assert "no receptive-field rule for roll" in report.to_text()

"""Analytic receptive fields against the empirical gradient check (issue 3's proof).

For every case: the centre unit of an input just large enough not to clip along
one axis (done for each axis, the other axis kept as small as the net allows, down
to 1, to keep float64 cheap), and the corner units of an input where the analytic
region is clipped -- for the torchvision trunks, longer than the field along one axis,
so that no corner's region is simply the whole image.
The gradient check (``gradcheck.measure``) back-propagates from each unit through
a positive-weight, average-pooled float64 copy; size and first index must agree
exactly. Where a published figure exists (Araujo et al., Distill 2019, and the
chapter), the size is also held to it.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnninspect.analyses.gradcheck import measure, probe_copy
from cnninspect.engine.receptive import receptive_field


def _last(report):
    return report[list(report.fields)[-1]]


def _centre_shape(model, channels: int, small: tuple[int, ...], axis: int) -> tuple[tuple[int, ...], tuple[int, ...], int, int]:
    """An input shape whose ``axis`` is just long enough for one unit to be unclipped.

    Returns (shape, unit, first, size) with the closed-form first index of that unit.
    """
    rf = _last(receptive_field(model, (1, channels) + small))
    r, j, s = Fraction(rf.size[axis]), Fraction(rf.jump[axis]), Fraction(rf.start[axis])
    half = (r - 1) / 2
    u = max(0, math.ceil((half - s) / j))
    first = s + u * j - half
    n = int(first + r)  # the region ends exactly at the last index
    while True:
        sizes = list(small)
        sizes[axis] = n
        shape = (1, channels) + tuple(sizes)
        report = receptive_field(model, shape)
        out = report.nodes[list(report.fields)[-1]].sizes
        if out[axis] > u:
            break
        n += 1
    unit = [o // 2 for o in out]
    unit[axis] = u
    return shape, tuple(unit), int(first), int(r)


def _agree_centre(model, channels: int, small: tuple[int, ...], expected: int | None = None, probe=None):
    probe = probe if probe is not None else probe_copy(model)
    sizes = []
    for axis in range(len(small)):
        shape, unit, first, size = _centre_shape(model, channels, small, axis)
        report = receptive_field(model, shape)
        analytic = report.region(list(report.fields)[-1], unit)
        (measured,) = measure(model, shape, [unit], probe=probe)
        assert analytic == measured, (shape, unit)
        # unclipped along this axis: the closed form's size and first index hold exactly
        assert measured[axis] == (first, first + size - 1), (shape, unit, measured, first, size)
        sizes.append(size)
    if expected is not None:
        assert all(s == expected for s in sizes), sizes
    return sizes


def _agree_corners(model, shape: tuple[int, ...], probe=None, closed_form: bool = True, every: bool = True):
    """Every corner unit, or (``every=False``, for the costly trunks) the first and the last."""
    n = len(shape) - 2
    corners = [tuple(-1 if (k >> a) & 1 else 0 for a in range(n)) for k in range(2**n)]
    if not every:
        corners = [corners[0], corners[-1]]
    report = receptive_field(model, shape)
    last = list(report.fields)[-1]
    analytic = [report.region(last, c) for c in corners]
    measured = measure(model, shape, corners, probe=probe)
    assert analytic == measured
    if not closed_form:
        return
    # with whole jumps, the clipped closed form start + u*j -+ (r-1)/2 is the same region
    rf, sizes = report[last], report.nodes[last].sizes
    for c, region in zip(corners, analytic):
        for a, (first, last_) in enumerate(region):
            u = c[a] % sizes[a]
            centre = Fraction(rf.start[a]) + u * rf.jump[a]
            half = Fraction(rf.size[a] - 1, 2)
            assert (first, last_) == (max(0, centre - half), min(shape[2 + a] - 1, centre + half))


def _agree_long_corners(model, field: int, long: int, small: int, probe) -> None:
    """Corners of an input longer than the field along its first axis: there each corner's region
    is clipped at its own border only, unlike the centre's and unlike each other's, so a wrong
    start, jump or clipping cannot pass as "the whole image"."""
    assert long > field
    shape = (1, 3, long, small)
    _agree_corners(model, shape, probe=probe, every=False)
    report = receptive_field(model, shape)
    first, last = (report.region(list(report.fields)[-1], c)[0] for c in ((0, 0), (-1, -1)))
    assert first[0] == 0 and first[1] < long - 1 and last[0] > 0 and last[1] == long - 1, (first, last)


def _conv(cin, cout, k, s=1, p=0, d=1):
    return nn.Conv2d(cin, cout, k, s, p, d)


# --- the chapter's examples -------------------------------------------------------------


def chapter_vgg_like():
    """conv3, conv3, pool2/2, conv3, conv3, pool2/2 (the chapter prints 11; the truth is 16)."""
    return nn.Sequential(
        _conv(3, 8, 3, p=1), nn.ReLU(), _conv(8, 8, 3, p=1), nn.ReLU(), nn.MaxPool2d(2, 2),
        _conv(8, 16, 3, p=1), nn.ReLU(), _conv(16, 16, 3, p=1), nn.ReLU(), nn.MaxPool2d(2, 2),
    )  # fmt: skip


def test_chapter_vgg_like_is_16_by_gradient():
    model = chapter_vgg_like()
    _agree_centre(model, 3, (8, 8), expected=16)
    _agree_corners(model, (1, 3, 24, 24))
    assert _last(receptive_field(model, (1, 3, 32, 32))).naive == (11, 11)


def test_exercise3_four_3x3_convs_is_9_by_gradient():
    model = nn.Sequential(*[_conv(3 if i == 0 else 4, 4, 3, p=1) for i in range(4)])
    _agree_centre(model, 3, (4, 4), expected=9)
    _agree_corners(model, (1, 3, 12, 12))


# --- small hand-built cases -----------------------------------------------------------


def test_dilated_stack_by_gradient():
    """Context-module style: dilations 1, 2, 4 give 1 + 2 + 4 + 8 = 15; then a stride and another dilation."""
    model = nn.Sequential(
        _conv(2, 4, 3, p=1), _conv(4, 4, 3, p=2, d=2), _conv(4, 4, 3, p=4, d=4),
        _conv(4, 4, 3, s=2, p=1), _conv(4, 4, 3, p=3, d=3),
    )  # fmt: skip
    assert _last(receptive_field(model, (1, 2, 8, 8))).size[0] == 15 + 2 + 2 * 2 * 3
    _agree_centre(model, 2, (8, 8))
    _agree_corners(model, (1, 2, 30, 30))


def test_factorised_1x7_7x1_and_asymmetric_stride_by_gradient():
    model = nn.Sequential(
        nn.Conv2d(2, 4, (1, 7), padding=(0, 3)), nn.Conv2d(4, 4, (7, 1), padding=(3, 0)),
        nn.Conv2d(4, 4, (3, 5), stride=(2, 1), padding=(0, 2)), nn.MaxPool2d((2, 3), stride=(1, 3)),
        nn.Conv2d(4, 4, (1, 7), padding=(0, 3)),
    )  # fmt: skip
    rf = _last(receptive_field(model, (1, 2, 40, 40)))
    # H: 1 + 6 + 2 (conv 3) + 1*2 (pool 2 at jump 2) = 11; W: 7 + 4 + 2 + 6*3 = 31
    assert rf.size == (11, 31) and rf.jump == (2, 3)
    _agree_centre(model, 2, (12, 12))
    _agree_corners(model, (1, 2, 17, 23))


def test_conv1d_stack_by_gradient():
    model = nn.Sequential(
        nn.Conv1d(1, 4, 5, stride=2, padding=2), nn.ReLU(), nn.MaxPool1d(3, 2, padding=1),
        nn.Conv1d(4, 4, 3, dilation=2, padding=2), nn.AvgPool1d(2, ceil_mode=True),
    )  # fmt: skip
    # conv 5 (jump 2); pool 3: +2*2 = 9 (jump 4); dilated 3 (extent 5): +4*4 = 25; pool 2: +1*4 = 29
    assert _last(receptive_field(model, (1, 1, 64))).size == (29,)
    _agree_centre(model, 1, (64,), expected=29)
    _agree_corners(model, (1, 1, 37))


def test_conv3d_stack_by_gradient():
    model = nn.Sequential(nn.Conv3d(1, 2, 3, stride=(1, 2, 2), padding=1), nn.MaxPool3d(2), nn.Conv3d(2, 2, (1, 3, 3)))
    _agree_centre(model, 1, (6, 12, 12))
    _agree_corners(model, (1, 1, 7, 11, 13))


class TinyUNet(nn.Module):
    """Two levels down, back up once by a transposed conv and once by bilinear upsampling, with skips."""

    def __init__(self) -> None:
        super().__init__()
        self.enc1 = nn.Sequential(_conv(1, 4, 3, p=1), nn.ReLU(), _conv(4, 4, 3, p=1), nn.ReLU())
        self.enc2 = nn.Sequential(_conv(4, 8, 3, p=1), nn.ReLU())
        self.bottom = nn.Sequential(_conv(8, 8, 3, p=1), nn.ReLU())
        self.up2 = nn.ConvTranspose2d(8, 8, 2, stride=2)
        self.dec2 = _conv(16, 8, 3, p=1)
        self.dec1 = _conv(12, 4, 3, p=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        b = self.bottom(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(b), e2], dim=1))
        up = F.interpolate(d2, scale_factor=2, mode="bilinear", align_corners=False)
        return self.dec1(torch.cat([up, e1], dim=1))


def test_unet_transposed_bilinear_and_skips_by_gradient():
    model = TinyUNet()
    report = receptive_field(model, (1, 1, 32, 32))
    # jumps: 4 at the bottom, 2 after the transposed conv, 1 after the bilinear upsampling
    assert [report[n].jump for n in ("bottom.1", "up2", "interpolate", "dec1")] == [(4, 4), (2, 2), (1, 1), (1, 1)]
    # every unit of the output, by gradient: the fractional jumps make border units differ
    units = [(i, j) for i in (0, 1, 2, 7, 15, 30, 31) for j in (0, 1, 14, 31)]
    measured = measure(model, (1, 1, 32, 32), units)
    assert [report.region("dec1", u) for u in units] == measured
    _agree_corners(model, (1, 1, 12, 20), closed_form=False)


def test_upsampling_first_gives_fractional_jumps_exact_per_unit():
    """Nearest, transposed conv (k3 s2 p1) and bilinear upsampling straight from the input:
    jumps 1/2, 1/2, 1/4, 1/8, and every unit's region (border ones included) matches the gradient."""
    model = nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"), _conv(1, 2, 3, p=1),
        nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1), nn.Upsample(scale_factor=2, mode="bilinear"),
        _conv(2, 2, 3, p=1),
    )  # fmt: skip
    report = receptive_field(model, (1, 1, 5, 5))
    half = Fraction(1, 2)
    assert [report[str(i)].jump[0] for i in range(5)] == [half, half, half / 2, half / 4, half / 4]
    units = [(i, j) for i in range(0, 38, 3) for j in (0, 1, 2, 17, 36, 37)]
    assert [report.region("4", u) for u in units] == measure(model, (1, 1, 5, 5), units)


# --- torchvision trunks -----------------------------------------------------------------


def _tv(name: str, **kwargs):
    import torchvision  # a hard dependency: its absence is an error, never a skip

    with torch.device("meta"):  # weights are overwritten by the probe: skip the slow init
        return getattr(torchvision.models, name)(**kwargs)


def _trunk(model: nn.Module, drop: set[str]) -> nn.Sequential:
    return nn.Sequential(*[child for name, child in model.named_children() if name not in drop])


def test_vgg16_features_212_stride_32_by_gradient():
    model = _tv("vgg16").features
    rf = _last(receptive_field(model, (1, 3, 224, 224)))
    assert (rf.size, rf.jump, rf.effective_padding) == ((212, 212), (32, 32), (90, 90))  # Araujo et al.
    probe = probe_copy(model)
    _agree_centre(model, 3, (32, 32), expected=212, probe=probe)
    _agree_long_corners(model, 212, 224, 32, probe)


def test_alexnet_features_195_by_gradient():
    model = _tv("alexnet").features
    probe = probe_copy(model)
    _agree_centre(model, 3, (63, 63), expected=195, probe=probe)
    _agree_long_corners(model, 195, 224, 63, probe)


def test_resnet18_trunk_by_gradient():
    model = _trunk(_tv("resnet18"), {"avgpool", "fc"})
    probe = probe_copy(model)
    assert _agree_centre(model, 3, (1, 1), probe=probe) == [435, 435]
    _agree_long_corners(model, 435, 448, 33, probe)


def test_resnet50_trunk_427_by_gradient():
    model = _trunk(_tv("resnet50"), {"avgpool", "fc"})
    probe = probe_copy(model)
    _agree_centre(model, 3, (1, 1), expected=427, probe=probe)
    _agree_long_corners(model, 427, 448, 33, probe)


def test_mobilenet_v2_features_by_gradient():
    model = _tv("mobilenet_v2").features
    probe = probe_copy(model)
    assert _agree_centre(model, 3, (1, 1), probe=probe) == [491, 491]
    _agree_long_corners(model, 491, 512, 33, probe)


@pytest.mark.slow
def test_densenet121_features_by_gradient():
    model = _tv("densenet121").features
    probe = probe_copy(model)
    _agree_centre(model, 3, (29, 29), probe=probe)
    _agree_corners(model, (1, 3, 64, 64), probe=probe, every=False)


def test_googlenet_trunk_by_gradient():
    net = _tv("googlenet", init_weights=False, aux_logits=False)
    model = _trunk(net, {"avgpool", "dropout", "fc", "aux1", "aux2"})
    probe = probe_copy(model)
    assert _agree_centre(model, 3, (16, 16), probe=probe) == [379, 379]
    _agree_long_corners(model, 379, 400, 32, probe)


def test_probe_grouped_conv_is_the_same_arithmetic_as_torch():
    """The probe computes float64 grouped convolutions by unfold + matmul (speed only)."""
    from cnninspect.analyses.gradcheck import grouped_conv2d

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 11, 9, dtype=torch.float64, generator=g)
    w = torch.randn(9, 2, 3, 2, dtype=torch.float64, generator=g)
    b = torch.randn(9, dtype=torch.float64, generator=g)
    for stride, padding, dilation in (((2, 1), (1, 2), (2, 1)), (1, 0, 1), (3, 2, 2)):
        expected = F.conv2d(x, w, b, stride, padding, dilation, 3)
        assert torch.allclose(grouped_conv2d(x, w, b, stride, padding, dilation, 3), expected, rtol=1e-12, atol=1e-12)


def test_global_ops_are_reported_global_not_measured():
    """A unit after global pooling sees the whole input: there is no window to measure."""
    model = nn.Sequential(_conv(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    report = receptive_field(model, (1, 1, 16, 16))
    assert [report[n].is_global for n in ("1", "2", "3")] == [True, True, True]
    assert report.region("1", 0) == ((0, 15), (0, 15))


class PositionEmbedded(nn.Module):
    """Position terms made from the input's size alone (timm's EdgeNeXt, Hiera, DeepSeek ViT do
    this): they add no input position to any unit's field, so the field is the convs' own."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = _conv(3, 4, 3, s=2, p=1)
        self.body = _conv(4, 4, 3, p=1)
        self.pos = nn.Parameter(torch.ones(1, 4, 3, 3))

    def forward(self, x):
        x = self.stem(x)
        b, c, h, w = x.shape
        grid = torch.arange(h * w, dtype=x.dtype, device=x.device).reshape(1, 1, h, w) / (h * w)
        pos = F.interpolate(self.pos, size=(h, w), mode="nearest") + grid
        return self.body(x + pos + torch.zeros_like(x))


def test_position_terms_sized_from_the_input_leave_the_field_known_by_gradient():
    model = PositionEmbedded()
    report = receptive_field(model, (1, 3, 16, 16))
    assert not any(f.unknown for f in report.fields.values())
    _agree_centre(model, 3, (5, 5), expected=7)  # 3x3 s2 then 3x3: 3 + 2*2
    _agree_corners(model, (1, 3, 16, 16))


class SamePadConv(nn.Conv2d):
    """TF-style "same" padding worked out from the input's size at run time (timm's
    ``Conv2dSame``): fx cannot trace ``math.ceil`` of a size, so the layer runs opaque."""

    def forward(self, x):
        pads = []
        for n, k, s, d in zip(x.shape[-2:], self.kernel_size, self.stride, self.dilation):
            total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
            pads.append((total // 2, total - total // 2))
        x = F.pad(x, [*pads[1], *pads[0]])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def test_opaque_same_padding_convs_are_followed_inside_by_gradient():
    model = nn.Sequential(
        SamePadConv(3, 4, 3, stride=2), nn.ReLU(), SamePadConv(4, 4, 4, stride=2, dilation=1),
        nn.ReLU(), SamePadConv(4, 4, 3),
    )  # fmt: skip
    probe = probe_copy(model)
    for shape in [(1, 3, 17, 17), (1, 3, 24, 19)]:  # odd and even: the padding splits differ
        report = receptive_field(model, shape)
        assert not any(f.unknown for f in report.fields.values())
        last = list(report.fields)[-1]
        out = report.nodes[last].sizes
        units = [(out[0] // 2, out[1] // 2), (0, 0), (out[0] - 1, out[1] - 1)]
        measured = measure(model, shape, units, probe=probe)
        assert [report.region(last, u) for u in units] == measured, shape
        assert tuple(report[last].size) == (17, 17)  # 3 + (4-1)*2 + (3-1)*2*2, the closed form


class BranchyOpaque(nn.Module):
    """Two parallel convs and a skip behind a size branch fx cannot trace: the inner calls
    must be joined by the tensors they pass, not read as a chain (that would give 3 + 5 - 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.small = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.large = nn.Conv2d(4, 4, 5, padding=2)

    def forward(self, x):
        if x.shape[-1] % 2 == 0:
            x = x * 1.0
        return torch.relu(self.small(x) + F.conv2d(x, self.large.weight, padding=2)) + x


def test_opaque_branches_are_joined_by_the_tensors_they_pass_by_gradient():
    model = nn.Sequential(_conv(3, 4, 3, s=2), BranchyOpaque(), _conv(4, 4, 3)).eval()
    import cnninspect

    assert "1" in cnninspect.summarize(model, (1, 3, 23, 23)).opaque  # fx could not trace the block
    report = receptive_field(model, (1, 3, 23, 23))
    last = list(report.fields)[-1]
    assert tuple(report[last].size) == (3 + 4 * 2 + 2 * 2,) * 2  # the 5x5 branch bounds the union
    _agree_centre(model, 3, (11, 11))
    _agree_corners(model, (1, 3, 23, 23))


class Cropped(nn.Module):
    """A step-1 crop between convs (Wav2Vec2 trims its same-padding this way): output unit o
    of the crop is input unit o + start, so the field keeps its size and shifts its centre."""

    def __init__(self) -> None:
        super().__init__()
        self.a = _conv(3, 4, 3, s=2, p=2)
        self.b = _conv(4, 4, 3)

    def forward(self, x):
        return self.b(self.a(x)[:, :, 1:-2, 2:])


def test_a_crop_shifts_the_field_by_gradient():
    model = Cropped()
    report = receptive_field(model, (1, 3, 20, 20))
    assert not any(f.unknown for f in report.fields.values())
    _agree_corners(model, (1, 3, 20, 20))
    _agree_corners(model, (1, 3, 17, 22))


class UnfoldedBlocks(nn.Module):
    """``Tensor.unfold`` windows along both spatial axes, each window then reduced (HaloNet cuts
    its blocks this way): a window of size k every s units is a k, stride-s pool."""

    def __init__(self) -> None:
        super().__init__()
        self.a = _conv(3, 4, 3, p=1)
        self.b = _conv(4, 4, 3)

    def forward(self, x):
        x = self.a(x).unfold(2, 4, 2).mean(-1)  # along H: 4 units every 2
        x = x.unfold(-1, 3, 1).amax(dim=-1)  # along W: 3 units every 1
        return self.b(x)


def test_tensor_unfold_along_space_is_a_window_by_gradient():
    model = UnfoldedBlocks()
    report = receptive_field(model, (1, 3, 18, 14))
    assert not any(f.unknown or f.is_global for f in report.fields.values())
    last = list(report.fields)[-1]
    assert tuple(report[last].size) == (3 + 3 + 2 * 2, 3 + 2 + 2) and tuple(report[last].jump) == (2, 1)
    _agree_corners(model, (1, 3, 18, 14))
    _agree_corners(model, (1, 3, 21, 11))


class NormGated(nn.Module):
    """A channel norm keeps the geometry; a norm over space (ConvNeXt-V2's global response
    norm) makes every unit after it depend on the whole input."""

    def __init__(self, over_space: bool) -> None:
        super().__init__()
        self.a, self.b, self.over_space = _conv(3, 4, 3), _conv(4, 4, 3), over_space

    def forward(self, x):
        x = self.a(x)
        dims = (2, 3) if self.over_space else 1
        return self.b(x * torch.norm(x, 2, dim=dims, keepdim=True) + x.norm(p=2, dim=1, keepdim=True))


def test_norm_reduces_over_the_axes_it_is_given_by_gradient():
    local = NormGated(over_space=False)
    report = receptive_field(local, (1, 3, 12, 12))
    assert not any(f.unknown or f.is_global for f in report.fields.values())
    _agree_corners(local, (1, 3, 12, 12))
    spatial = NormGated(over_space=True)
    report = receptive_field(spatial, (1, 3, 12, 12))
    last = list(report.fields)[-1]
    assert report[last].is_global and not report[last].unknown
    (measured,) = measure(spatial, (1, 3, 12, 12), [(0, 0)])
    assert measured == ((0, 11), (0, 11))  # the gradient reaches every input unit


class MaybePad(nn.Module):
    """Data2Vec-Audio's pad layer: it trims only when told to, so with 0 it runs no torch call."""

    def __init__(self, trim: int) -> None:
        super().__init__()
        self.trim = trim

    def forward(self, x):
        if x.shape[-1] > 0 and self.trim:  # a size branch: fx leaves the module opaque
            x = x[..., : -self.trim]  # an ellipsis crop (Pixtral indexes patches this way)
        return x


class CachedTable(nn.Module):
    """A position table cut from a buffer by the input's length (Wav2Vec2-Conformer): it reads
    no input position, so adding it leaves the field as it was."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Buffer(torch.randn(1, 4, 64))

    def forward(self, x):
        if x.shape[-1] > 0:
            return self.table[:, :, : x.shape[-1]] * 1.0
        return self.table


class GatedAudio(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv1d(3, 8, 5, stride=2)
        self.trim0, self.trim2, self.pos = MaybePad(0), MaybePad(2), CachedTable()
        self.glu = nn.GLU(dim=1)  # over channels
        self.b = nn.Conv1d(4, 4, 3)

    def forward(self, x):
        x = self.glu(self.trim0(self.a(x)))
        return self.b(self.trim2(x) + self.pos(self.trim2(x)))


def test_opaque_modules_that_run_nothing_or_read_no_input_keep_the_field_by_gradient():
    model = GatedAudio()
    import cnninspect

    summary = cnninspect.summarize(model, (1, 3, 41))
    assert {"trim0", "trim2", "pos"} <= set(summary.opaque)
    report = receptive_field(model, (1, 3, 41))
    assert not any(f.unknown or f.is_global for f in report.fields.values())
    last = list(report.fields)[-1]
    assert tuple(report[last].size) == (5 + 2 * 2,) and tuple(report[last].jump) == (2,)
    _agree_corners(model, (1, 3, 41))
    _agree_corners(model, (1, 3, 30))


class TransposedSpectrogram(nn.Module):
    """Speech2Text feeds (N, T, F) features to a Conv1d as (N, F, T): the convolution mixes all
    F bins (the last input axis, the one the field is about), so every unit sees all of them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(12, 8, 3)

    def forward(self, x):
        return F.glu(self.conv(x.transpose(1, 2)), dim=1)


def test_a_conv_over_channels_that_hold_a_spatial_axis_is_global_by_gradient():
    model = TransposedSpectrogram()
    report = receptive_field(model, (1, 20, 12))
    assert report["conv"].is_global and not report["conv"].unknown
    (measured,) = measure(model, (1, 20, 12), [(0,)])
    assert measured == ((0, 11),)  # every one of the 12 bins reaches the first unit

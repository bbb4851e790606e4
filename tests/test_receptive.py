"""Receptive fields in the summary, the report API, the rules, the plots and the command line.

Expected numbers are worked by hand from r += (k'-1)*j, start += ((k'-1)/2 - p)*j, j *= s
(written out beside each assertion) or measured by the gradient check, never read
back from the code under test.
"""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from oracles import counted_macs
from torch import nn

from cnninspect import summarize
from cnninspect.analyses.gradcheck import measure
from cnninspect.chapter.models import SimpleCNN
from cnninspect.engine.receptive import receptive_field
from cnninspect.errors import InputShapeError, OptionError
from cnninspect.integrations.cli import main


def _rows(summary):
    return {layer.name: layer.receptive_field for layer in summary.layers}


# --- the chapter --------------------------------------------------------------------------


def test_simple_cnn_rows_read_3_4_8_10_then_global():
    rows = _rows(summarize(SimpleCNN(), (1, 1, 28, 28)))
    # conv3 p1: r 3 j 1; pool2/2: r 3+1*1=4, j 2; conv3: 4+2*2=8; pool2/2: 8+1*2=10, j 4
    got = {n: (rows[n].size, rows[n].jump) for n in ("conv1", "relu", "pool", "conv2", "relu_1", "pool@2")}
    assert got == {
        "conv1": ((3, 3), (1, 1)), "relu": ((3, 3), (1, 1)), "pool": ((4, 4), (2, 2)),
        "conv2": ((8, 8), (2, 2)), "relu_1": ((8, 8), (2, 2)), "pool@2": ((10, 10), (4, 4)),
    }  # fmt: skip
    # start: conv1 0 + (1-1)*1 = 0; pool 0 + (1/2-0)*1 = 1/2; conv2 1/2 + (1-1)*2; pool 1/2 + (1/2)*2 = 3/2
    assert rows["pool"].start == (Fraction(1, 2),) * 2 and rows["pool@2"].start == (Fraction(3, 2),) * 2
    assert all(rows[n].is_global for n in ("view", "fc1", "relu_2", "dropout", "fc2"))
    assert rows["pool@2"].naive == (7, 7)  # 1 + 2 + 1 + 2 + 1


def _vgg_like():
    conv = lambda cin, cout: nn.Conv2d(cin, cout, 3, padding=1)  # noqa: E731
    return nn.Sequential(conv(3, 8), conv(8, 8), nn.MaxPool2d(2, 2), conv(8, 8), conv(8, 8), nn.MaxPool2d(2, 2))


def test_chapter_vgg_like_16_with_naive_11_in_the_table():
    summary = summarize(_vgg_like(), (1, 3, 32, 32))
    last = summary.layers[-1].receptive_field
    # 1 +2 +2 (j 1) +1 (pool, j->2) +2*2 +2*2 +1*2 = 16; the stride-1 formula: 1+2+2+1+2+2+1 = 11
    assert last.size == (16, 16) and last.naive == (11, 11) and last.jump == (4, 4)
    text = summary.to_text(columns="name,rf,jump,naive_rf")
    row = [line.split() for line in text.splitlines() if line.startswith("5 ")][0]
    assert row == ["5", "16", "4", "11"]
    assert "RF" in summary.to_text() and "Jump" in summary.to_text()  # default columns
    text = str(receptive_field(_vgg_like(), (1, 3, 32, 32), naive=True))
    assert "receptive field 16" in text and "R += K-1 gives 11" in text


def test_report_output_and_region_which_pixels_does_this_neuron_see():
    report = receptive_field(SimpleCNN(), (1, 1, 28, 28))
    assert report.output.name == "pool@2"
    # unit (3, 3): centre 3/2 + 3*4 = 13.5, half-width 4.5 -> 9..18 on both axes
    assert report.output.region((3, 3)) == ((9, 18), (9, 18))
    assert report.region("pool@2", (0, 6)) == ((0, 6), (21, 27))  # -3..6 and 21..30, clipped to 0..27
    assert report.output.effective_padding == (3, 3)
    assert measure(nn.Sequential(*list(SimpleCNN().children())[:1]), (1, 1, 28, 28), [(3, 3)]) == [((2, 4), (2, 4))]


def test_json_carries_the_fields():
    data = json.loads(summarize(SimpleCNN(), (1, 1, 28, 28)).to_json())
    layers = {layer["name"]: layer["receptive_field"] for layer in data["layers"]}
    assert {k: layers["conv1"][k] for k in ("size", "jump", "start", "global")} == {
        "size": [3, 3], "jump": [1, 1], "start": [0, 0], "global": False,
    }  # fmt: skip
    assert layers["pool"]["start"] == [0.5, 0.5]
    assert layers["fc2"]["global"] is True


# --- rules, checked by gradients where a window exists ---------------------------------------


def _same(model, shape, units):
    report = receptive_field(model, shape)
    last = list(report.fields)[-1]
    assert [report.region(last, u) for u in units] == measure(model, shape, units)
    return report[last]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_padding_same_even_kernel_and_functional_conv():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 4, padding="same")
            self.w = nn.Parameter(torch.ones(2, 2, 3, 3))

        def forward(self, x):
            return F.conv2d(self.conv(x), self.w, stride=2, padding=1)

    rf = _same(Net(), (1, 1, 12, 12), [(0, 0), (2, 3), (-1, -1)])
    # same-padding k4 pads 1 before: start (3/2 - 1) = 1/2; then k3 p1 s2: r 4+2 = 6, start 1/2 + 0
    assert rf.size == (6, 6) and rf.jump == (2, 2) and rf.start == (Fraction(1, 2),) * 2


def test_interpolation_modes_exact_per_unit():
    """area (unequal bins), nearest-exact x3 and bilinear with align_corners to an odd size."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(1, 2, 3, padding=1)

        def forward(self, x):
            y = F.interpolate(self.c(x), size=(5, 7), mode="area")
            y = F.interpolate(y, scale_factor=3, mode="nearest-exact")
            return F.interpolate(y, size=(11, 30), mode="bilinear", align_corners=True)

    report = receptive_field(Net(), (1, 1, 13, 16))
    last = list(report.fields)[-1]
    units = [(i, j) for i in range(11) for j in (0, 1, 5, 14, 29)]
    assert [report.region(last, u) for u in units] == measure(Net(), (1, 1, 13, 16), units)
    assert report["interpolate_1"].jump == (Fraction(13, 15), Fraction(16, 21))  # 13/5 / 3, 16/7 / 3


def test_residual_and_inception_concat_take_the_union():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(2, 2, 1)
            self.b = nn.Conv2d(2, 2, 5, padding=2)
            self.c = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=2, dilation=2))
            self.pool = nn.MaxPool2d(3, 1, padding=1)

        def forward(self, x):
            y = torch.cat([self.a(x), self.b(x), self.c(x), self.pool(x)], dim=1)
            return y + torch.cat([F.relu(x)] * 4, dim=1)

    rf = _same(Block(), (1, 2, 16, 16), [(0, 0), (7, 9), (-1, -1)])
    assert rf.size == (7, 7) and not rf.misaligned  # the 3x3 + dilated 3x3 branch: 1 + 2 + 4


def test_misaligned_paths_are_flagged_and_still_bounded():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fine = nn.Conv2d(1, 1, 3, stride=2, padding=1)  # 16 -> 8, jump 2
            self.coarse = nn.MaxPool2d(3, 3)  # 16 -> 5, jump 3

        def forward(self, x):
            up = F.interpolate(self.coarse(x), size=(8, 8), mode="nearest")  # jump 3 * 5/8
            return self.fine(x) + up

    summary = summarize(Net(), (1, 1, 16, 16))
    add = summary.layers[-1]
    assert add.receptive_field.misaligned and any("misaligned" in n for n in add.notes)
    report = summary.receptive_field
    units = [(i, j) for i in range(8) for j in (0, 3, 7)]
    assert [report.region(add.name, u) for u in units] == measure(Net(), (1, 1, 16, 16), units)


def test_channels_last_permute_linear_and_layer_norm_keep_geometry():
    class Net(nn.Module):  # ConvNeXt-style block
        def __init__(self):
            super().__init__()
            self.dw = nn.Conv2d(4, 4, 7, padding=3, groups=4)
            self.norm = nn.LayerNorm(4)
            self.fc = nn.Linear(4, 8)
            self.down = nn.Conv2d(8, 8, 2, stride=2)

        def forward(self, x):
            y = self.fc(self.norm(self.dw(x).permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
            return self.down(y)

    rf = _same(Net(), (1, 4, 14, 14), [(0, 0), (3, 3), (-1, -1)])
    assert rf.size == (8, 8) and rf.jump == (2, 2) and not rf.is_global  # 7, then 7 + 1*1


def test_movedim_normalize_and_stack_keep_geometry():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(2, 2, 3, padding=1)
            self.d = nn.Conv2d(2, 2, 3, stride=2)

        def forward(self, x):
            y = F.normalize(torch.movedim(self.c(x), 1, -1), dim=-1).movedim(-1, 1)
            return self.d(torch.stack([y, y], 0).sum(0))

    rf = _same(Net(), (1, 2, 9, 9), [(0, 0), (1, 2), (-1, -1)])
    assert rf.size == (5, 5) and rf.jump == (2, 2)  # 3, then 3 + 2*1


def test_global_ops_and_flatten():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    rows = _rows(summarize(model, (1, 1, 10, 10)))
    assert rows["0"].size == (3, 3) and [rows[n].is_global for n in "123"] == [True, True, True]
    assert rows["1"].to_dict()["global"] is True
    attn = nn.MultiheadAttention(4, 1, batch_first=True)
    rows = _rows(summarize(attn, [(1, 5, 4), (1, 5, 4), (1, 5, 4)]))
    assert all(rf is None or rf.is_global for rf in rows.values())


def test_op_without_rule_is_unknown_and_warned_never_guessed():
    class Rolled(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3)

        def forward(self, x):
            return self.conv(torch.roll(x, 2, dims=3))

    summary = summarize(Rolled(), (1, 1, 8, 8))
    rows = _rows(summary)
    assert rows["roll"].unknown and rows["conv"].unknown
    assert any("roll" in w and "receptive field" in w for w in summary.warnings)
    assert any("receptive field unknown" in n for n in summary.layer("roll").notes)
    assert "?" in summary.to_text(columns="name,rf")
    with pytest.raises(Exception, match="roll"):
        summary.receptive_field.region("conv", 0)


def test_hook_fallback_reads_rows_as_a_chain_and_says_so():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 2, 3, padding=1)
            self.p = nn.MaxPool2d(2)
            self.c2 = nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x):
            if x.sum() > 0:  # data-dependent: fx cannot trace it
                x = x * 2
            return self.c2(self.p(self.c1(x)))

    summary = summarize(Branchy(), (1, 1, 8, 8))
    assert "hook" in summary.method
    assert any("sequential chain" in w for w in summary.warnings)
    # c1 64 x 2 x 9 and c2 16 x 2 x 18 MACs, as torch's flop counter counts a real forward
    assert summary.total_macs == counted_macs(Branchy(), torch.randn(1, 1, 8, 8)) == 1_152 + 576
    assert _rows(summary)["c2"].size == (8, 8)  # 3, +1 (pool), +2*2


def test_a_second_non_image_input_does_not_make_fields_global():
    class Conditioned(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 4, 3)
            self.fc = nn.Linear(5, 4)
            self.d = nn.Conv2d(4, 4, 3)

        def forward(self, x, y):
            return self.d(self.c(x) + self.fc(y)[:, :, None, None])

    report = receptive_field(Conditioned(), [(1, 3, 16, 16), (1, 5)])
    assert report["d"].size == (5, 5) and not report["d"].is_global  # 3, then 3 + 2
    assert "fc" not in report.fields


def test_no_spatial_input_has_no_receptive_field():
    mlp = nn.Sequential(nn.Linear(4, 3))
    summary = summarize(mlp, (2, 4))
    assert all(layer.receptive_field is None for layer in summary.layers)
    assert "RF" not in summary.to_text()
    with pytest.raises(InputShapeError, match="spatial"):
        receptive_field(mlp, (2, 4))


def test_region_errors_are_one_clear_line():
    report = receptive_field(SimpleCNN(), (1, 1, 28, 28))
    with pytest.raises(OptionError, match="outside"):
        report.region("pool@2", (7, 0))
    with pytest.raises(OptionError, match="no node"):
        report.region("nope", 0)
    with pytest.raises(OptionError, match="2 indices"):
        report.region("pool@2", (1, 2, 3))
    with pytest.raises(OptionError, match="one int per spatial axis"):
        report.region("pool@2", (1.5, 2))


# --- plots ---------------------------------------------------------------------------------


def _png(path):
    import matplotlib.image

    img = matplotlib.image.imread(str(path))
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert float(img[..., :3].std()) > 0.01  # not blank
    return img


def test_plots_render(tmp_path):
    from cnninspect.renderers.receptive_plot import plot_region, plot_sizes

    report = receptive_field(SimpleCNN(), (1, 1, 28, 28))
    img = _png(plot_sizes(report, tmp_path / "sizes.png"))
    assert img.shape[:2] == (450, 600)  # 6 x 4.5 inches at 100 dpi
    image = torch.rand(1, 28, 28)
    img = _png(plot_region(report, tmp_path / "sub" / "region.png", unit=(3, 3), image=image))
    assert img.shape[0] > 300
    # the filled region is orange: red clearly above blue somewhere
    assert float((img[..., 0] - img[..., 2]).max()) > 0.3
    with pytest.raises(OptionError, match="image"):
        plot_region(report, tmp_path / "bad.png", image=torch.rand(5, 5))
    assert not (tmp_path / "bad.png").exists()


# --- command line ----------------------------------------------------------------------------


def test_cli_rf_text_json_and_errors(capsys, tmp_path):
    assert main(["rf", "simple-cnn", "--naive", "--unit", "3,3"]) == 0
    out = capsys.readouterr().out
    assert "receptive field 10, jump 4" in out and "gives 7" in out and "H 9-18, W 9-18" in out
    assert main(["rf", "simple-cnn", "--format", "json", "--plot-sizes", str(tmp_path / "s.png")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["output"]["size"] == [10, 10] and data["nodes"]["fc1"]["global"] is True
    _png(tmp_path / "s.png")
    assert main(["rf", "simple-cnn", "--unit", "9,9"]) == 2
    err = capsys.readouterr().err
    assert "outside" in err and "Traceback" not in err


def test_cli_rf_region_plot_over_an_image_file(capsys, tmp_path):
    import matplotlib.image
    import numpy as np

    picture = tmp_path / "digit.png"
    matplotlib.image.imsave(picture, np.random.default_rng(0).random((28, 28)), cmap="gray")
    out = tmp_path / "unit.png"
    args = ["rf", "simple-cnn", "--node", "conv2", "--unit", "5,2", "--plot-region", str(out), "--image", str(picture)]
    assert main(args) == 0
    # conv2: r 8, j 2, start 1/2 -> unit 5 centre 10.5: 7..14; unit 2 centre 4.5: 1..8
    assert "H 7-14, W 1-8" in capsys.readouterr().out
    _png(out)
    assert main(["rf", "simple-cnn", "--plot-region", str(tmp_path / "x.png"), "--image", str(tmp_path / "missing.png")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_cli_rf_check_proves_a_trunk(capsys):
    assert main(["rf", "conv-block", "--check"]) == 0
    out = capsys.readouterr().out
    assert out.count("-> ok") == 3
    assert main(["rf", "simple-cnn", "--check"]) == 2
    assert "fully convolutional" in capsys.readouterr().err


def test_dilated_window_clips_to_its_taps_not_its_range():
    """k=3, d=3 reads o-3, o, o+3 ('same' padding 3): near the border the holes matter."""
    from torch import nn

    import cnninspect

    report = cnninspect.receptive_field(nn.Sequential(nn.Conv1d(1, 1, 3, dilation=3, padding=3)), (1, 1, 10))
    assert report.region("0", 0) == ((0, 3),)  # taps -3 (padding), 0, 3
    assert report.region("0", 1) == ((1, 4),)  # taps -2, 1, 4
    assert report.region("0", 9) == ((6, 9),)  # taps 6, 9, 12 (padding)
    assert report.region("0", 8) == ((5, 8),)  # taps 5, 8, 11


def test_numbers_stay_exact_ints_while_whole_and_become_fractions_only_when_needed():
    """The pass keeps whole numbers as ints (its fast path) and halves exactly."""
    from cnninspect.engine.receptive.analyse import _half

    assert all(_half(v) == Fraction(v, 2) for v in range(-9, 10))
    assert all(type(_half(v)) is int for v in range(-8, 9, 2))
    assert _half(Fraction(3, 2)) == Fraction(3, 4)

    # 2x2/2 average pool: offset 1/2 per unit of the jump, whole again after the stride-2 conv before it
    net = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.AvgPool2d(2), nn.Conv2d(2, 2, 2))
    report = receptive_field(net, (1, 1, 32, 32))
    fields = [report[name] for name in ("0", "1", "2")]
    numbers = [v for f in fields for v in f.size + f.jump + f.start]
    assert all(type(v) is int for v in numbers), numbers
    # by hand: conv k3 s2: r 3 j 2 start 1; pool k2 s2: r 3+2 = 5, start 1 + 1/2*2 = 2, j 4;
    # conv k2: r 5+4 = 9, start 2 + 1/2*4 = 4
    assert [(f.size[0], f.jump[0], f.start[0]) for f in fields] == [(3, 2, 1), (5, 4, 2), (9, 4, 4)]
    # an even kernel on the raw input gives a half-unit start, as a Fraction
    half = receptive_field(nn.Conv2d(1, 1, 2), (1, 1, 8, 8))["conv2d"]  # a bare conv: its forward
    assert half.start == (Fraction(1, 2),) * 2 and type(half.size[0]) is int


def test_a_waveform_gets_its_field_in_samples():
    """(batch, samples) audio that the forward gives a channel axis (Wav2Vec2's feature
    extractor): the field is counted along the samples, by the chapter's recurrence."""

    class Audio(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv1d(1, 4, 10, stride=5)
            self.b = nn.Conv1d(4, 4, 3, stride=2)

        def forward(self, wave):
            return self.b(torch.relu(self.a(wave[:, None])))

    s = summarize(Audio(), (2, 400))
    field = s.layer("b").receptive_field
    assert (field.size, field.jump) == ((10 + (3 - 1) * 5,), (5 * 2,))

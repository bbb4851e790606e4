"""Issue 'must fail well' cases not covered by test_bad_input: warnings for unknown ops,
invalid options, specs that name nothing -- one clear message each, model untouched."""

from __future__ import annotations

import pytest
import torch
import torch.fx
from modelstate import assert_unchanged, snapshot
from torch import nn

import cnninspect
from cnninspect.errors import InputShapeError, ModelSpecError, OptionError
from cnninspect.integrations.spec import load_model


@torch.fx.wrap
def mystery_op(x):
    """An op cnninspect has no rule for and cannot price from its aten kernels either (an FFT
    multiplies, and no FLOP formula covers it): it must be a warning, never an error or a guess."""
    return torch.fft.fft2(x).real * 2


class UsesMystery(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        return mystery_op(self.conv(x))


def test_unknown_op_is_a_warning_with_its_name():
    s = cnninspect.summarize(UsesMystery(), (1, 1, 8, 8))
    row = next(layer for layer in s.layers if layer.kind == "mystery_op")
    assert row.macs == 0 and "no MAC rule" in " ".join(row.notes)
    assert any("no MAC rule" in w and "mystery_op" in w for w in s.warnings)
    assert s.output_shapes == [(1, 2, 6, 6)]


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        (
            {"input_shape": (1, 1, 8, 8), "input_data": torch.zeros(1, 1, 8, 8)},
            OptionError,
            "not both",
        ),
        (
            {"input_shape": (1, 1, 8, 8), "dtype": "float32"},
            OptionError,
            "dtype must be a torch.dtype",
        ),
        ({"input_data": {"x": 3}}, InputShapeError, "holds no tensor"),
        (
            {"input_shape": [(1, 1, 8, 8), (1, 1, 8, 8)]},
            InputShapeError,
            "cannot take 2 positional input",
        ),
    ],
)
def test_invalid_options(kwargs, error, fragment):
    model = UsesMystery()
    before = snapshot(model)
    with pytest.raises(error, match=fragment):
        cnninspect.summarize(model, **kwargs)
    assert_unchanged(model, before)


def test_invalid_render_options():
    s = cnninspect.summarize(UsesMystery(), (1, 1, 8, 8))
    with pytest.raises(OptionError, match="depth must be a positive int, got 0"):
        s.to_text(depth=0)


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("torchvision.models:", "needs both parts"),
        (":resnet18", "needs both parts"),
        ("torchvision.models", "neither a fixture"),
        ("torchvision.models:resnet18.nothing", "has no attribute 'nothing'"),
        ("torchvision:__version__", "names a str"),
    ],
)
def test_specs_that_import_but_name_nothing(spec, fragment):
    with pytest.raises(ModelSpecError, match=fragment):
        load_model(spec)


def test_no_input_and_no_default_shape():
    with pytest.raises(InputShapeError, match="no input given: pass input_shape"):
        cnninspect.summarize(nn.Linear(2, 2))


class StrideInABuffer(nn.Module):
    """EnCodec keeps each conv's stride in an integer buffer and pads by its value."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 2, 7, stride=4)
        self.stride = nn.Buffer(torch.tensor(4))

    def forward(self, x):
        frames = torch.ceil((x.shape[-1] - 7) / self.stride).to(torch.int64)  # needs the value
        return self.conv(x[..., : int(frames) * 4 + 7 - 4])


def test_a_meta_model_whose_forward_reads_integer_buffers_says_to_build_it_on_the_cpu():
    x = torch.randn(1, 1, 50)
    with torch.device("cpu"):
        real = cnninspect.summarize(StrideInABuffer(), input_data=x)  # real values: it works
    assert real.output_shapes == [tuple(StrideInABuffer()(x).shape)]
    with torch.device("meta"):
        model = StrideInABuffer()
    with pytest.raises(cnninspect.CnnInspectError) as info:
        cnninspect.summarize(model, input_data=x)
    message = str(info.value)
    assert "stride" in message and "stood in as 0" in message and "build the model on the CPU" in message

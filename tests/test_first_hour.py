"""A new user's first hour (issue 16): errors that name the real cause, and `.output` that is
the model's last feature map. Each case failed before its fix."""

from __future__ import annotations

import torch
import torchvision
from torch import nn

import cnninspect
from cnninspect.integrations.cli import main


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_missing_dimension_is_named_not_blamed_on_the_channels(capsys):
    code, _, err = _cli(capsys, "summary", "torchvision.models:resnet18", "--input-shape", "1,3,224")
    assert code == 1
    assert "missing a spatial dimension" in err and "1x3x224x224" in err
    assert "give the input 3 channels" not in err
    # the layer really does reject it: a 3-D input is an unbatched image to torch
    try:
        torchvision.models.resnet18()(torch.randn(1, 3, 224))
    except RuntimeError as exc:
        assert "channels" in str(exc) or "expected" in str(exc)
    else:  # pragma: no cover - torch would have to accept it
        raise AssertionError("torch accepted a 3-D input for resnet18")


def test_a_wrong_channel_count_still_says_channels(capsys):
    code, _, err = _cli(capsys, "summary", "torchvision.models:resnet18", "--input-shape", "1,1,224,224")
    assert code == 1 and "expects 3 input channels" in err


class _MLP(nn.Sequential):
    def __init__(self) -> None:
        super().__init__(nn.Flatten(), nn.Linear(784, 10))


def test_fc_comparison_of_a_model_without_convolutions_says_so():
    text = cnninspect.compare_fc(_MLP(), (1, 1, 28, 28)).to_text()
    assert "no convolution layer" in text
    assert "inf" not in text and "0.0000%" not in text


def test_the_output_field_is_the_last_feature_map_even_when_it_is_global():
    model = torchvision.models.efficientnet_b0().features
    report = cnninspect.receptive_field(model, (1, 3, 256, 256))
    last_map = model(torch.randn(1, 3, 256, 256)).shape  # the real forward's last feature map
    assert report.output.name == "8.2" and last_map == (1, 1280, 8, 8)
    assert report.output.is_global  # squeeze-and-excitation mixed every position in
    # a model without a gate keeps its spatial output field
    simple = cnninspect.receptive_field(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3)), (1, 1, 9, 9))
    assert simple.output.name == "1" and simple.output.size == (5, 5)


def test_a_model_without_spatial_layers_is_global_not_an_input_error():
    report = cnninspect.receptive_field(_MLP(), (1, 1, 28, 28))
    assert report.output.is_global

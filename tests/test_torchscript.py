"""torch.jit.script'ed models: summarised from their inlined graph, equal to the eager summary."""

from __future__ import annotations

import warnings

import pytest
import torch
import torchvision

import cnninspect
from cnninspect.chapter.models import SimpleCNN


def scripted(model):
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # torch.jit.script is deprecated, but users have such models
        return torch.jit.script(model)


def test_scripted_simple_cnn_has_the_chapters_rows():
    s = cnninspect.summarize(scripted(SimpleCNN()), (1, 1, 28, 28))
    assert s.method == "torchscript"
    assert s.total_params == 421_642 and s.output_shapes == [(1, 10)]
    rows = {layer.name: layer for layer in s.layers}
    assert rows["conv1"].kind == "Conv2d" and rows["conv1"].output_shape == (1, 32, 28, 28)
    assert rows["conv1"].macs == 28 * 28 * 32 * 9
    assert rows["fc1"].num_params == 3136 * 128 + 128 and rows["fc1"].macs == 3136 * 128


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "densenet121"])
def test_scripted_torchvision_models_match_their_eager_summary(name):
    eager = getattr(torchvision.models, name)().eval()
    script = cnninspect.summarize(scripted(eager), (1, 3, 64, 64))
    plain = cnninspect.summarize(eager, (1, 3, 64, 64))
    assert script.total_params == plain.total_params
    assert script.total_macs == plain.total_macs
    assert script.output_shapes == plain.output_shapes
    def convs(s):
        return [(layer.name, layer.output_shape) for layer in s.layers if layer.kind == "Conv2d"]
    assert convs(script) == convs(plain)


def test_scripted_model_with_wrong_input_gets_our_error():
    with pytest.raises(cnninspect.InputShapeError, match="conv1"):
        cnninspect.summarize(scripted(SimpleCNN()), (1, 3, 28, 28))
